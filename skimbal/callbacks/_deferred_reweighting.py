"""Deferred re-weighting (DRW): the plain loss first, class-balanced weights late.

Cao et al. (NeurIPS 2019, Sec. 3.3) train with the plain loss until the learning
rate decays (epoch 160 of 200 on CIFAR), so that the representation is learnt from
all the data, and only then re-weight the loss by the effective-number weights of
Cui et al. (CVPR 2019). Its re-sampling twin is
:class:`skimbal.sampling.DeferredResampling`.
"""

import numbers

import torch
from sklearn.utils._param_validation import Interval

from ..losses import effective_number_weights
from ._schedule import EPOCH_CONSTRAINT, EpochSchedule

__all__ = ["DeferredReweighting"]


class DeferredReweighting(EpochSchedule):
    """Deferred re-weighting (DRW): plain loss first, class-balanced weights late.

    From epoch ``start`` on, the criterion's class weights (its ``weight``
    attribute) are the effective-number weights of the training split's counts
    ``net.class_counts_``,

    .. math:: w_j \\propto \\frac{1 - \\beta}{1 - \\beta^{n_j}}, \\qquad \\sum_j w_j = C,

    and all ones before (Cao et al., NeurIPS 2019, Sec. 3.3; Cui et al., CVPR 2019).
    The epoch is read from the net's history, so ``warm_start``, ``partial_fit``
    and a resumed run follow one schedule over the planned epochs
    (``net.max_epochs_``).

    Works with any criterion that keeps its class weights in an attribute
    ``weight`` (every skimbal loss and :class:`torch.nn.CrossEntropyLoss`):
    ``CrossEntropyClassifier(callbacks=[DeferredReweighting()])`` is CE + DRW. The
    criterion must not have class weights of its own (``class_weight``, focal
    ``alpha``): DRW would replace them, so that combination is refused.

    Parameters
    ----------
    start : int >= 0 or float in (0, 1), default=0.8
        First re-weighted epoch: an epoch index (0-based, so the number of plain
        epochs), or a fraction of the planned epochs rounded to the nearest epoch
        (:func:`deferred_switch_epoch`). Cao et al. switch at epoch 160 of 200.
    beta : float in [0, 1), default=0.9999
        Effective-number hyper-parameter (0.9999 on CIFAR-10 and CIFAR-100 in Cao
        et al.). ``beta=0`` gives all-one weights.

    Attributes
    ----------
    switch_epoch_ : int
        First re-weighted epoch of the current run.

    Examples
    --------
    >>> import numpy as np
    >>> from skimbal import CrossEntropyClassifier
    >>> from skimbal.callbacks import DeferredReweighting
    >>> X = np.r_[np.zeros((90, 2)), np.ones((10, 2))]
    >>> y = np.r_[np.zeros(90), np.ones(10)]
    >>> clf = CrossEntropyClassifier(
    ...     max_epochs=5, callbacks=[DeferredReweighting(start=3, beta=0.99)], random_state=0
    ... ).fit(X, y)
    >>> clf.criterion_.weight.round(decimals=3)
    tensor([0.2770, 1.7230])
    """

    _parameter_constraints = {
        "start": EPOCH_CONSTRAINT,
        "beta": [Interval(numbers.Real, 0, 1, closed="left")],
    }

    def __init__(self, start=0.8, beta=0.9999):
        self.start = start
        self.beta = beta

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        criterion = net.criterion_
        if not hasattr(criterion, "weight"):
            raise ValueError(
                f"DeferredReweighting needs a criterion with a 'weight' attribute; "
                f"{type(criterion).__name__} has none."
            )
        weight = criterion.weight
        n_classes = len(net.class_counts_)
        # All ones, or this schedule's own late weights restored from a checkpoint
        # (skorch's LoadInitState listed before this callback).
        own = effective_number_weights(net.class_counts_, beta=self.beta)
        plain = weight is None or len(weight) == n_classes and (
            bool((weight == 1).all()) or torch.equal(weight.cpu(), own.to(weight.dtype))
        )
        if not plain:
            raise ValueError(
                "DeferredReweighting replaces the criterion's class weights at the switch, "
                "but the criterion already has class weights (class_weight, or a loss's "
                "alpha); use one or the other."
            )
        # All-one weights before the switch: the same loss as no weights, and the
        # buffer exists, so a checkpoint of either phase loads into a fresh criterion.
        device = next(net.module_.parameters()).device
        criterion.weight = torch.ones(n_classes, device=device)
        self.switch_epoch_ = self.epoch_of(self.start, net)

    def apply(self, net, epoch):
        # In place: the tensor stays the same object, so a captured CUDA graph
        # (skimbal.gpu) reads the new weights without being captured again.
        weight = net.criterion_.weight
        with torch.no_grad():
            if epoch < self.switch_epoch_:
                weight.fill_(1.0)
            else:
                weight.copy_(effective_number_weights(net.class_counts_, beta=self.beta))
