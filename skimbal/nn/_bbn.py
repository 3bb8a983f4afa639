"""The bilateral-branch network of BBN (Zhou et al., CVPR 2020)."""

import copy

import torch
from torch import nn
from torch.nn import functional as F

from ._mlp import MLP, has_embedding
from ._resnet import CifarResNet

__all__ = ["BilateralBranchNetwork", "split_last_block"]


def split_last_block(backbone):
    """Split a backbone's feature extractor into a shared trunk and its last block.

    ``forward_features(x) == last_block(trunk(x))`` for the returned modules.

    - A backbone with a method ``split_last_block()`` is asked for the split
      (the hook for custom backbones).
    - :class:`MLP`: the last block is the last hidden layer (its ``Linear``, the
      activation and the dropout after it); the trunk is the hidden layers before
      it. With a single hidden layer the trunk is the identity, so the two
      branches share only the input.
    - :class:`CifarResNet` (:class:`ResNet32`): the last block is the last
      residual block of ``layer3`` followed by the global average pooling; the
      trunk is everything before it, the input ``transform`` included (Zhou et
      al. 2020, Sec. 4.1).

    Parameters
    ----------
    backbone : torch.nn.Module
        A module that follows the embedding protocol.

    Returns
    -------
    trunk, last_block : torch.nn.Module
        Modules sharing the backbone's parameters (no copy is made).

    Raises
    ------
    TypeError
        If the backbone is of a kind this function does not know how to split.
    ValueError
        If the backbone has no hidden block to split off.
    """
    if callable(getattr(backbone, "split_last_block", None)):
        return backbone.split_last_block()
    if isinstance(backbone, MLP):
        linear = [i for i, layer in enumerate(backbone.features) if isinstance(layer, nn.Linear)]
        if not linear:
            raise ValueError(
                "BBN needs an MLP with at least one hidden layer (hidden_layer_sizes is "
                "empty): the branches are copies of the last hidden layer."
            )
        split = linear[-1]
        return backbone.features[:split], backbone.features[split:]
    if isinstance(backbone, CifarResNet):
        return _ResNetTrunk(backbone), _ResNetLastBlock(backbone)
    raise TypeError(
        f"Cannot split {type(backbone).__name__} into a shared trunk and a last block. "
        "Give the backbone a method split_last_block() returning (trunk, last_block) "
        "with forward_features(x) == last_block(trunk(x))."
    )


class _ResNetTrunk(nn.Module):
    """A CIFAR ResNet up to, not including, the last residual block of ``layer3``."""

    def __init__(self, resnet):
        super().__init__()
        self.transform = resnet.transform
        self.conv1 = resnet.conv1
        self.bn1 = resnet.bn1
        self.layers = nn.Sequential(resnet.layer1, resnet.layer2, resnet.layer3[:-1])

    def forward(self, x):
        if self.transform is not None:
            x = self.transform(x)
        return self.layers(torch.relu(self.bn1(self.conv1(x))))


class _ResNetLastBlock(nn.Module):
    """The last residual block of ``layer3``, then global average pooling."""

    def __init__(self, resnet):
        super().__init__()
        self.block = resnet.layer3[-1]

    def forward(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(self.block(x), 1), 1)


def reset_parameters(module, kaiming=False):
    """Re-initialise every sub-module of ``module`` that has ``reset_parameters``.

    With ``kaiming=True`` the weights of convolutions and linear layers are then
    drawn Kaiming-normal (the initialisation of :class:`CifarResNet`). Returns
    the number of sub-modules re-initialised.
    """
    count = 0
    for layer in module.modules():
        if callable(getattr(layer, "reset_parameters", None)):
            layer.reset_parameters()
            count += 1
        if kaiming and isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(layer.weight)
    return count


def _embedding_width(backbone):
    width = getattr(backbone, "n_embedding", None)
    if width is None:
        width = getattr(getattr(backbone, "head", None), "in_features", None)
    if width is None:
        raise TypeError(
            f"Cannot tell the embedding width of {type(backbone).__name__}: give it an "
            "attribute n_embedding or a linear head with in_features."
        )
    return int(width)


def _n_classes(backbone):
    n_classes = getattr(getattr(backbone, "head", None), "out_features", None)
    if n_classes is None:
        raise TypeError(
            f"Cannot tell the number of classes of {type(backbone).__name__}: its head "
            "needs an attribute out_features."
        )
    return int(n_classes)


class BilateralBranchNetwork(nn.Module):
    """Two branches over a shared trunk, combined by a cumulative-learning weight.

    The bilateral-branch network of BBN (Zhou et al. 2020, Sec. 4.1): the
    *conventional* branch and the *re-balancing* branch share every layer of the
    backbone except the last block, which each branch has its own copy of
    (initialised independently). The embeddings ``f_c`` and ``f_r`` of the two
    branches are combined by one linear classifier ``W = [W_c, W_r]`` on their
    concatenation, as in the authors' code:

    .. math:: z = W [2 \\alpha f_c ; 2 (1 - \\alpha) f_r] + b
              = 2 (\\alpha W_c f_c + (1 - \\alpha) W_r f_r) + b.

    During training ``alpha`` follows the cumulative-learning schedule and the
    two branches see different batches (``forward(x, x_reversed, alpha)``). At
    test time both branches see the same input and ``alpha = 0.5``, so the
    output is ``W_c f_c + W_r f_r + b``, the 0.5/0.5 mix of the paper (times the
    factor 2 of the authors' code, which only rescales ``W``).

    How backbones are split is described in :func:`split_last_block`: for an
    MLP the branches are two copies of the last hidden layer, for the CIFAR
    ResNet-32 two copies of the last residual block of the third stage (then the
    global average pooling), as in the paper.

    Parameters
    ----------
    backbone : torch.nn.Module
        A module following the embedding protocol; its trunk and last block are
        taken over (not copied) and its classifier head is discarded.

    Attributes
    ----------
    trunk : torch.nn.Module
        Shared layers.
    conventional_block, rebalancing_block : torch.nn.Module
        The last block of each branch.
    head : torch.nn.Linear
        Classifier on the concatenated embeddings, shape (n_classes, 2 * d).
    n_embedding : int
        Width of the concatenated embedding, ``2 * d``.

    Notes
    -----
    The module follows the embedding protocol: ``forward_features(x)`` is
    ``[f_c(x) ; f_r(x)]`` and ``forward_head(z)`` the classifier with
    ``alpha = 0.5``, so ``forward(x) == forward_head(forward_features(x))``.

    References
    ----------
    .. [1] B. Zhou, Q. Cui, X.-S. Wei, Z.-M. Chen, "BBN: Bilateral-Branch Network
       with Cumulative Learning for Long-Tailed Visual Recognition", CVPR 2020.

    Examples
    --------
    >>> import torch
    >>> from skimbal.nn import MLP, BilateralBranchNetwork
    >>> _ = torch.manual_seed(0)
    >>> net = BilateralBranchNetwork(MLP(4, 3, hidden_layer_sizes=(8, 8)))
    >>> x = torch.randn(5, 4)
    >>> net(x).shape, net.forward_features(x).shape
    (torch.Size([5, 3]), torch.Size([5, 16]))
    """

    def __init__(self, backbone):
        super().__init__()
        if not has_embedding(backbone):
            raise TypeError(
                f"BilateralBranchNetwork needs a backbone following the embedding protocol "
                f"(forward_features / forward_head); got {type(backbone).__name__}."
            )
        width = _embedding_width(backbone)
        n_classes = _n_classes(backbone)
        trunk, block = split_last_block(backbone)
        self.trunk = trunk
        self.conventional_block = block
        self.rebalancing_block = copy.deepcopy(block)
        reset_parameters(self.rebalancing_block, kaiming=isinstance(backbone, CifarResNet))
        self.n_embedding = 2 * width
        self.head = nn.Linear(2 * width, n_classes)

    def forward_branches(self, x, x_reversed=None):
        """Embeddings ``(f_c, f_r)`` of the two branches.

        ``x`` feeds the conventional branch and ``x_reversed`` the re-balancing
        branch; with ``x_reversed=None`` both branches see ``x`` and the trunk
        runs once.
        """
        if x_reversed is None:
            shared = self.trunk(x)
            return self.conventional_block(shared), self.rebalancing_block(shared)
        return (
            self.conventional_block(self.trunk(x)),
            self.rebalancing_block(self.trunk(x_reversed)),
        )

    def forward_features(self, x):
        """Concatenated embedding ``[f_c(x) ; f_r(x)]``."""
        return torch.cat(self.forward_branches(x), dim=1)

    def forward_head(self, z, alpha=0.5):
        """Logits ``W [2 alpha z_c ; 2 (1 - alpha) z_r] + b`` of a concatenated embedding."""
        width = z.shape[1] // 2
        scale = torch.full_like(z[:1], 2.0 * alpha)
        scale[:, width:] = 2.0 * (1.0 - alpha)
        return self.head(z * scale)

    def forward(self, x, x_reversed=None, alpha=0.5):
        """Logits; during BBN training ``x_reversed`` and ``alpha`` are given."""
        return self.forward_head(torch.cat(self.forward_branches(x, x_reversed), dim=1), alpha)
