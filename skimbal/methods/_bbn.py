"""BBN: bilateral-branch network with cumulative learning (Zhou et al., CVPR 2020)."""

import copy
import numbers

import torch
from skorch import NeuralNet

from ._base import ImbalancedNetClassifier
from ._data import TensorDataset
from .nn import BilateralBranchNetwork
from .sampling import ReversedSampler, check_sampler

__all__ = ["BBNClassifier", "BilateralBatchLoader", "cumulative_learning_alpha"]


def cumulative_learning_alpha(epoch, max_epochs):
    """Weight of the conventional branch in epoch ``epoch``: ``1 - (T / T_max)^2``.

    The parabolic decay of BBN (Zhou et al. 2020, Sec. 4.3), with ``T = epoch``
    counted from 0, so the first epoch is purely conventional (``alpha = 1``), as
    in the authors' code (``1 - ((epoch - 1) / max_epoch) ** 2`` with epochs
    counted from 1). Epochs past ``T_max`` get 0.

    Parameters
    ----------
    epoch : int
        Epoch number, starting at 0.
    max_epochs : int
        ``T_max``, the number of epochs of the fit.

    Returns
    -------
    alpha : float in [0, 1]

    Examples
    --------
    >>> from skimbal._bbn import cumulative_learning_alpha
    >>> [cumulative_learning_alpha(t, 4) for t in range(4)]
    [1.0, 0.9375, 0.75, 0.4375]
    """
    if not isinstance(max_epochs, numbers.Integral) or max_epochs < 1:
        raise ValueError(f"max_epochs must be a positive int, got {max_epochs!r}.")
    return float(min(max(1.0 - (epoch / max_epochs) ** 2, 0.0), 1.0))


class BilateralBatchLoader:
    """Pair every training batch with a batch drawn by a second sampler.

    Wraps the conventional loader (skimbal's ``TensorBatchLoader``, uniform or
    with the estimator's ``sampler``) and yields ``((X_c, X_r), (y_c, y_r))``:
    each conventional batch of ``b`` rows gets ``b`` rows of the same
    :class:`~skimbal.TensorDataset` taken from the stream of
    ``reversed_sampler.epoch_indices``, drawn once per epoch on the data's device
    (and drawn again when an epoch needs more rows). Both batches are
    ``index_select`` slices; nothing is done per sample in Python.

    Parameters
    ----------
    loader : TensorBatchLoader
        The conventional loader; its dataset must be a ``TensorDataset``.
    reversed_sampler : sampler object
        Sampler of the re-balancing branch (``epoch_indices(y, *, epoch,
        generator)``).
    generator : torch.Generator, default=None
        Randomness of the second stream; the global generator of the device when
        None.
    """

    def __init__(self, loader, reversed_sampler, generator=None):
        dataset = getattr(loader, "dataset", None)
        if not isinstance(dataset, TensorDataset):
            raise TypeError(
                "BBN draws its second batch from the in-memory TensorDataset of the fast "
                f"data path; the training loader holds a {type(dataset).__name__}."
            )
        self.loader = loader
        self.dataset = dataset
        self.reversed_sampler = reversed_sampler
        self.generator = generator
        self.epoch = 0

    def _draw(self):
        index = self.reversed_sampler.epoch_indices(
            self.dataset.y, epoch=self.epoch, generator=self.generator
        )
        return torch.as_tensor(index, dtype=torch.long, device=self.dataset.X.device)

    def __iter__(self):
        stream, position = self._draw(), 0
        for X_c, y_c in self.loader:
            size = len(X_c)
            while position + size > len(stream):
                stream, position = torch.cat([stream[position:], self._draw()]), 0
            X_r, y_r = self.dataset.batch(stream[position:position + size])
            position += size
            yield (X_c, X_r), (y_c, y_r)
        self.epoch += 1

    def __len__(self):
        return len(self.loader)


class BBNClassifier(ImbalancedNetClassifier):
    """Bilateral-branch network with cumulative learning (BBN).

    Two branches share the backbone except its last block
    (:class:`skimbal.nn.BilateralBranchNetwork`). In every step the
    *conventional* branch sees a batch ``(x_c, y_c)`` drawn uniformly
    (instance-balanced) and the *re-balancing* branch a batch ``(x_r, y_r)`` from
    a reversed sampler, class ``j`` with probability proportional to
    ``n_max / n_j``. Their embeddings are mixed with the cumulative-learning
    weight ``alpha`` and the loss weights the two targets the same way
    (Zhou et al. 2020, Sec. 4.3, Eq. 1-3):

    .. math::

        z = 2 (\\alpha W_c f_c(x_c) + (1 - \\alpha) W_r f_r(x_r)) + b,
        \\qquad L = \\alpha\\, CE(z, y_c) + (1 - \\alpha)\\, CE(z, y_r),
        \\qquad \\alpha = 1 - (T / T_{max})^2,

    with ``T`` the epoch (from 0) and ``T_max = max_epochs``. The factor 2 is
    that of the authors' code: one linear classifier on the concatenated
    embeddings. At test time both branches see the input and are weighted 0.5
    each: ``z = W_c f_c(x) + W_r f_r(x) + b``.

    The ``module`` is the backbone (default :class:`skimbal.nn.MLP`, or for
    images :class:`skimbal.nn.ResNet32`); it is wrapped in a
    :class:`~skimbal.nn.BilateralBranchNetwork` at initialisation unless it is
    one already. For an MLP the branches are two copies of the last hidden
    layer over the shared earlier layers; for ResNet-32 two copies of the last
    residual block, as in the paper.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The backbone, following the embedding protocol; None is an MLP with
        ``hidden_layer_sizes``.
    reversed_sampler : str or sampler object, default=None
        Sampler of the re-balancing branch; None is
        :class:`skimbal.sampling.ReversedSampler` (Zhou et al. 2020, Sec. 4.2).
        The conventional branch uses the estimator's ``sampler`` (None shuffles,
        the paper's uniform sampler).
    hidden_layer_sizes : tuple of int, default=(100, 100)
        Hidden widths of the default MLP: the first layers are shared, each branch
        has its own copy of the last one. With one hidden layer the branches
        share nothing but the input.
    **kwargs
        Any parameter of :class:`skimbal.ImbalancedNetClassifier`.

    Attributes
    ----------
    alpha_ : float
        The cumulative-learning weight of the last training epoch (also in the
        history as ``'bbn_alpha'``).
    module_ : BilateralBranchNetwork
        The trained two-branch network.

    Notes
    -----
    ``alpha`` counts epochs from the start of training (``len(history) - 1``),
    so further ``partial_fit`` calls continue the schedule and stay at
    ``alpha = 0`` past ``max_epochs``. The validation loss, when
    ``validation_fraction`` is set, is that of the test-time output.

    References
    ----------
    .. [1] B. Zhou, Q. Cui, X.-S. Wei, Z.-M. Chen, "BBN: Bilateral-Branch Network
       with Cumulative Learning for Long-Tailed Visual Recognition", CVPR 2020.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import BBNClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = BBNClassifier(max_epochs=4, random_state=0).fit(X, y)
    >>> clf.history[:, "bbn_alpha"]
    [1.0, 0.9375, 0.75, 0.4375]
    """

    def __init__(self, module=None, *, reversed_sampler=None, **kwargs):
        kwargs.setdefault("hidden_layer_sizes", (100, 100))
        super().__init__(module, **kwargs)
        self.reversed_sampler = reversed_sampler

    def initialize_module(self):
        """Build the backbone and wrap it in a :class:`BilateralBranchNetwork`."""
        super().initialize_module()
        if not isinstance(self.module_, BilateralBranchNetwork):
            self.module_ = BilateralBranchNetwork(self.module_)
        return self

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Set ``alpha_`` for the epoch that starts."""
        super().on_epoch_begin(net, dataset_train, dataset_valid, **kwargs)
        self.alpha_ = cumulative_learning_alpha(len(self.history) - 1, self.max_epochs)
        self.history.record("bbn_alpha", self.alpha_)

    def get_iterator(self, dataset, training=False):
        """Return the batch iterator; training batches come in uniform/reversed pairs."""
        loader = super().get_iterator(dataset, training=training)
        if not training:
            return loader
        sampler = check_sampler(self.reversed_sampler)
        sampler = ReversedSampler() if sampler is None else copy.deepcopy(sampler)
        if hasattr(sampler, "set_max_epochs"):
            sampler.set_max_epochs(self.max_epochs)
        return BilateralBatchLoader(loader, sampler)

    def _check_params(self):
        super()._check_params()
        if getattr(self, "meta_reweighting", None) is not None:
            raise ValueError(
                "BBNClassifier does not support meta_reweighting: its loss already mixes "
                "two differently sampled batches."
            )

    def train_step_single(self, batch, **fit_params):
        """One step on a pair of batches; ``augmentation`` is applied to each of them."""
        (X_c, X_r), (y_c, y_r) = batch
        augmentation = getattr(self, "augmentation_", None)
        if augmentation is not None:
            X_c = augmentation(X_c, _labels(y_c))
            X_r = augmentation(X_r, _labels(y_r))
        # The base class would augment the pair as one batch; skip to skorch's step.
        return NeuralNet.train_step_single(self, ((X_c, X_r), (y_c, y_r)), **fit_params)

    def infer(self, x, **fit_params):
        """Forward one batch; a training pair ``(x_c, x_r)`` gives the mixed output."""
        if isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], torch.Tensor):
            return self.module_(x[0], x[1], alpha=self.alpha_, **fit_params)
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """``alpha * loss(z, y_c) + (1 - alpha) * loss(z, y_r)`` for a training pair."""
        if isinstance(y_true, tuple):
            y_conventional, y_reversed = y_true
            return self.alpha_ * super().get_loss(y_pred, y_conventional) + (
                1.0 - self.alpha_
            ) * super().get_loss(y_pred, y_reversed)
        return super().get_loss(y_pred, y_true, X=X, training=training)


def _labels(target):
    return target["y"] if isinstance(target, dict) else target
