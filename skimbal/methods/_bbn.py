"""BBN: bilateral-branch network with cumulative learning (Zhou et al., CVPR 2020).

The estimator wires three parts together: the two-branch module
(:class:`skimbal.nn.BilateralBranchNetwork`), the paired batches of a uniform
and a reversed sampler (:class:`skimbal.sampling.BilateralBatchLoader`) and the
schedule of the mixing weight (:class:`skimbal.callbacks.CumulativeLearning`).
"""

import copy

import torch
from sklearn.utils._param_validation import HasMethods
from skorch.dataset import unpack_data

from .._core.base import ImbalancedNetClassifier
from .._core.batch import Target, as_target
from .._core.docstrings import substitute_docstring
from .._core.training import TrainingHooksMixin
from ..callbacks import CumulativeLearning, MetaReweighting
from ..nn import BilateralBranchNetwork
from ..sampling import BilateralBatchLoader, ReversedSampler, check_sampler
from ..sampling._bilateral import pair_target

__all__ = ["BBNClassifier"]


@substitute_docstring
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
        \\qquad L = \\alpha\\, \\ell(z, y_c) + (1 - \\alpha)\\, \\ell(z, y_r),
        \\qquad \\alpha = 1 - (T / T_{max})^2,

    with ``T`` the epoch (from 0, read from the history) and ``T_max`` the planned
    epochs ``max_epochs``; ``alpha`` is set by the callback
    :class:`skimbal.callbacks.CumulativeLearning` (named
    ``'cumulative_learning'``). ``l`` is the criterion, with class and sample
    weights as in every skimbal estimator. The factor 2 is that of the authors'
    code: one linear classifier on the concatenated embeddings. At test time both
    branches see the input and are weighted 0.5 each:
    ``z = W_c f_c(x) + W_r f_r(x) + b``.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The backbone, following the embedding protocol (None is an MLP with
        ``hidden_layer_sizes``; for images :class:`skimbal.nn.ResNet32`). It is
        wrapped in a :class:`~skimbal.nn.BilateralBranchNetwork` at initialisation
        unless it is one already: for an MLP the branches are two copies of the
        last hidden layer over the shared earlier layers, for ResNet-32 two copies
        of the last residual block, as in the paper.
    reversed_sampler : str or sampler object, default=None
        Index sampler (``epoch_indices``) of the re-balancing branch, deep-copied at
        every fit; None is :class:`skimbal.sampling.ReversedSampler` (Zhou et al.
        2020, Sec. 4.2). The conventional branch uses the estimator's ``sampler``
        (None shuffles, the paper's uniform sampler).
    hidden_layer_sizes : tuple of int, default=(100, 100)
        Hidden widths of the default MLP: the first layers are shared, each branch
        has its own copy of the last one. With one hidden layer the branches share
        nothing but the input.
    {net_params}

    Attributes
    ----------
    alpha_ : float
        The cumulative-learning weight of the last training epoch (also in the
        history as ``'bbn_alpha'``).
    reversed_sampler_ : sampler object
        The copy of ``reversed_sampler`` of the last fit.
    module_ : BilateralBranchNetwork
        The trained two-branch network.

    Notes
    -----
    **Schedule.** ``alpha`` depends only on the history's epoch index, so
    ``partial_fit`` calls and a run resumed from a checkpoint (skorch's
    ``Checkpoint`` and ``LoadInitState``) continue it; past ``T_max`` it stays 0.
    ``callbacks__cumulative_learning__max_epochs`` spreads it over several
    ``partial_fit`` calls. ``T_max`` is always the planned epochs of the run;
    the authors' code divides by 100 (200) instead when the run has 90 (180)
    epochs, their iNaturalist settings, so that ``alpha`` ends near 0.2 there
    (``callbacks__cumulative_learning__max_epochs=100`` reproduces it). The
    reversed batches of epoch ``e`` are drawn from
    ``epoch_generator(seed_, e, 'reversed batches')``.

    **Batch transforms.** A callback with ``transform_batch(net, X, target)``
    (:class:`skimbal.callbacks.MinorityAugmentation`) is applied to each half of
    the pair separately, the conventional batch with its targets and the
    reversed batch with its own, so that class-dependent transforms see the right
    labels; both halves must keep their (equal) number of rows.
    :class:`skimbal.callbacks.MetaReweighting` is refused: its look-ahead step
    weights one batch, while BBN's loss mixes two differently sampled ones.

    **Validation.** The validation loss, with ``validation_fraction``, is that of
    the test-time output.

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

    _parameter_constraints = {
        **ImbalancedNetClassifier._parameter_constraints,
        "reversed_sampler": [None, str, HasMethods(["epoch_indices"])],
    }

    def __init__(self, module=None, *, reversed_sampler=None, hidden_layer_sizes=(100, 100),
                 **kwargs):
        super().__init__(module, hidden_layer_sizes=hidden_layer_sizes, **kwargs)
        self.reversed_sampler = reversed_sampler

    @property
    def _default_callbacks(self):
        callbacks = list(super()._default_callbacks)
        callbacks.insert(len(callbacks) - 1, ("cumulative_learning", CumulativeLearning()))
        return callbacks

    def _validate_params(self):
        super()._validate_params()
        callbacks = self.callbacks if isinstance(self.callbacks, (list, tuple)) else ()
        for entry in callbacks:
            callback = entry[1] if isinstance(entry, tuple) else entry
            if isinstance(callback, MetaReweighting) or callback is MetaReweighting:
                raise ValueError(
                    "BBNClassifier does not support MetaReweighting: its loss already mixes "
                    "two differently sampled batches, while meta re-weighting weights one."
                )

    def initialize_module(self):
        """Build the backbone and wrap it in a :class:`BilateralBranchNetwork`."""
        super().initialize_module()
        if not isinstance(self.module_, BilateralBranchNetwork):
            self.module_ = BilateralBranchNetwork(self.module_)
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Forget the ``alpha_`` of a previous fit: the schedule sets it every epoch."""
        vars(self).pop("alpha_", None)
        super().on_train_begin(net, X=X, y=y, **kwargs)

    def get_iterator(self, dataset, training=False):
        """The batch iterator; training batches come in conventional/reversed pairs."""
        loader = super().get_iterator(dataset, training=training)
        if not training:
            return loader
        sampler = check_sampler(self.reversed_sampler)
        sampler = ReversedSampler() if sampler is None else copy.deepcopy(sampler)
        if hasattr(sampler, "set_max_epochs"):
            sampler.set_max_epochs(self.max_epochs_)
        self.reversed_sampler_ = sampler
        return BilateralBatchLoader(loader, sampler, seed=self.seed_,
                                    start_epoch=len(self.history))

    def train_step_single(self, batch, **fit_params):
        """skorch's step on a pair of batches, each transformed with its own targets.

        The base class would hand the pair to the batch transforms as one batch;
        here every transform sees each half (with its labels and sample weights),
        then skorch's own step runs on the re-assembled pair.
        """
        (X_c, X_r), target = unpack_data(batch)
        target = as_target(target)
        extras = dict(target.extras)
        reversed_target = extras.pop("reversed")
        conventional = Target(target.y, target.sample_weight, **extras)
        for _, callback in self.callbacks_:
            transform = getattr(callback, "transform_batch", None)
            if transform is not None:
                X_c, conventional = transform(self, X_c, conventional)
                X_r, reversed_target = transform(self, X_r, reversed_target)
        if len(X_c) != len(X_r):
            raise ValueError(
                "A batch transform changed the number of rows of one half of BBN's batch "
                f"pair ({len(X_c)} conventional, {len(X_r)} reversed rows); the branches "
                "are mixed row by row and need equal halves."
            )
        batch = ((X_c, X_r), pair_target(conventional, reversed_target))
        # skorch's step (the base's would transform the pair again, as one batch).
        return super(TrainingHooksMixin, self).train_step_single(batch, **fit_params)

    def _alpha(self):
        alpha = vars(self).get("alpha_")
        if alpha is None:
            raise ValueError(
                "BBNClassifier trains with the weight alpha_ that the callback "
                "'cumulative_learning' (skimbal.callbacks.CumulativeLearning) sets at "
                "every epoch; it was removed. Keep it, or add a callback that sets "
                "net.alpha_ at the start of every epoch."
            )
        return alpha

    def infer(self, x, **fit_params):
        """Forward one batch; a training pair ``(x_c, x_r)`` gives the mixed output."""
        if isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], torch.Tensor):
            return self.module_(x[0], x[1], alpha=self._alpha(), **fit_params)
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """``alpha * loss(z, y_c) + (1 - alpha) * loss(z, y_r)`` for a training pair.

        The target of a pair is ``Target(y_c, sample_weight_c, reversed=Target(y_r,
        sample_weight_r))``; each term is the base class's loss (class and sample
        weights included). A plain target (validation) gets the plain loss.
        """
        target = as_target(y_true)
        extras = dict(target.extras)
        reversed_target = extras.pop("reversed", None)
        if reversed_target is None:
            return super().get_loss(y_pred, y_true, X=X, training=training)
        conventional = Target(target.y, target.sample_weight, **extras)
        alpha = self._alpha()
        return alpha * super().get_loss(y_pred, conventional, X=X, training=training) + (
            1.0 - alpha
        ) * super().get_loss(y_pred, reversed_target, X=X, training=training)
