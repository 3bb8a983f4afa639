"""Multi-layer perceptron for tabular features, the default module."""

import torch
from torch import nn

__all__ = ["MLP"]


class MLP(nn.Module):
    """Fully connected network that exposes its embedding and its classifier head.

    The estimators size it from the data at fit time: ``n_features`` and
    ``n_classes`` are filled in by the estimator unless given through
    ``module__n_features`` / ``module__n_classes``.

    Parameters
    ----------
    n_features : int
        Number of input features.
    n_classes : int
        Number of outputs (classes, or attributes for multi-label targets).
    hidden_layer_sizes : tuple of int, default=(100,)
        Width of each hidden layer, as in
        :class:`sklearn.neural_network.MLPClassifier`. The embedding is the output
        of the last hidden layer; an empty tuple gives a linear model whose
        embedding is the input itself.
    dropout : float, default=0.0
        Dropout probability after every hidden activation.

    Notes
    -----
    **Embedding protocol.** Every skimbal module that methods such as CRL, LMLE
    or decoupled training can use follows the same three-part contract:

    - ``forward_features(x)`` returns the embedding, shape (n, n_embedding);
    - ``forward_head(z)`` maps an embedding to logits, shape (n, n_classes);
    - ``forward(x) == forward_head(forward_features(x))``, and the head module is
      the attribute ``head`` (so two-stage methods can re-initialise or freeze it).

    Examples
    --------
    >>> import torch
    >>> from skimbal.nn import MLP
    >>> net = MLP(n_features=4, n_classes=3, hidden_layer_sizes=(8,))
    >>> x = torch.randn(5, 4)
    >>> net(x).shape, net.forward_features(x).shape
    (torch.Size([5, 3]), torch.Size([5, 8]))
    """

    def __init__(self, n_features, n_classes, hidden_layer_sizes=(100,), dropout=0.0):
        super().__init__()
        layers = []
        width = n_features
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        self.features = nn.Sequential(*layers)
        self.n_embedding = width
        self.head = nn.Linear(width, n_classes)

    def forward_features(self, x):
        """Return the embedding of ``x`` (output of the last hidden layer)."""
        return self.features(x)

    def forward_head(self, z):
        """Return the logits for embeddings ``z``."""
        return self.head(z)

    def forward(self, x):
        return self.head(self.features(x))


def has_embedding(module):
    """Whether ``module`` follows the embedding protocol of :class:`MLP`."""
    return (
        isinstance(module, torch.nn.Module)
        and callable(getattr(module, "forward_features", None))
        and callable(getattr(module, "forward_head", None))
    )
