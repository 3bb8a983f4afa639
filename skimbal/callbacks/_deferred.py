"""Deferred re-balancing: plain training first, re-weighting or re-sampling late.

Cao et al. (NeurIPS 2019, Sec. 3.3) train with the plain loss and instance
sampling until the learning rate decays (epoch 160 of 200 on CIFAR), so that the
representation is learnt from all the data, and only then re-balance:
:class:`DeferredReweighting` (DRW) switches the loss to effective-number class
weights, :class:`DeferredResampling` (DRS) switches the sampler to a re-balancing
one. Both use the same switch rule, :func:`deferred_switch_epoch`.
"""

import math
import numbers

import torch
from sklearn.base import BaseEstimator
from sklearn.utils.metaestimators import available_if
from skorch.callbacks import Callback

from .._base import resolve_device
from ..losses import effective_number_weights

__all__ = ["DeferredResampling", "DeferredReweighting", "deferred_switch_epoch"]


def deferred_switch_epoch(start, max_epochs=None):
    """Index of the first re-balanced epoch (0-based) of a deferred schedule.

    Parameters
    ----------
    start : int >= 0 or float in (0, 1)
        An int is the number of plain epochs (160 in Cao et al. 2019). A float is
        that number as a fraction of ``max_epochs``, rounded to the nearest epoch
        (halves up): 0.8 of 200 epochs is 160.
    max_epochs : int, default=None
        Epochs of the fit; needed when ``start`` is a fraction.

    Returns
    -------
    switch_epoch : int
        Epochs ``0 .. switch_epoch - 1`` are plain, the following ones re-balanced.
        It may exceed ``max_epochs`` (an int ``start``), in which case the schedule
        never switches.

    Examples
    --------
    >>> from skimbal.callbacks import deferred_switch_epoch
    >>> deferred_switch_epoch(0.8, max_epochs=200), deferred_switch_epoch(160)
    (160, 160)
    """
    if isinstance(start, bool) or not isinstance(start, numbers.Real):
        raise ValueError(f"start must be an int >= 0 or a float in (0, 1), got {start!r}.")
    if isinstance(start, numbers.Integral):
        if start < 0:
            raise ValueError(f"start must be an int >= 0 or a float in (0, 1), got {start!r}.")
        return int(start)
    if not 0 < start < 1:
        raise ValueError(
            f"start must be an int >= 0 (an epoch) or a float in (0, 1) (a fraction of "
            f"max_epochs), got {start!r}."
        )
    if max_epochs is None:
        raise ValueError("A fractional start needs max_epochs.")
    return int(math.floor(start * max_epochs + 0.5))


def _check_beta(beta):
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0 <= beta < 1:
        raise ValueError(f"beta must be in [0, 1), got {beta!r}.")


class DeferredReweighting(Callback):
    """Deferred re-weighting (DRW): plain loss first, class-balanced weights late.

    Before epoch ``start`` the criterion keeps the class weights it was built with
    (none for a plain loss); from epoch ``start`` on, its ``weight`` attribute is
    replaced by the effective-number weights

    .. math:: w_j \\propto \\frac{1 - \\beta}{1 - \\beta^{n_j}}, \\qquad \\sum_j w_j = C,

    of the training split's counts ``net.class_counts_`` (Cao et al., NeurIPS 2019,
    Sec. 3.3; Cui et al., CVPR 2019). The weights are set at the beginning of every
    epoch, so the schedule also works with ``warm_start``.

    Works with any criterion that keeps its class weights in an attribute
    ``weight`` (every skimbal loss and :class:`torch.nn.CrossEntropyLoss`):
    ``CrossEntropyClassifier(callbacks=[DeferredReweighting()])`` is CE + DRW.
    Estimators such as :class:`skimbal.LDAMClassifier` add it through their
    ``drw`` parameter.

    Parameters
    ----------
    start : int >= 0 or float in (0, 1), default=0.8
        First re-weighted epoch: an epoch index (0-based, so the number of plain
        epochs), or a fraction of ``max_epochs`` rounded to the nearest epoch
        (see :func:`deferred_switch_epoch`). Cao et al. switch at epoch 160 of 200,
        hence 0.8.
    beta : float in [0, 1), default=0.9999
        Effective-number hyper-parameter (Cao et al. use 0.9999 on CIFAR-10 and
        CIFAR-100). ``beta=0`` gives all-one weights.

    Attributes
    ----------
    switch_epoch_ : int
        First re-weighted epoch of the current fit.
    weight_ : torch.Tensor of float32, shape (n_classes,)
        The weights used after the switch.

    Notes
    -----
    Epochs are counted within each call to ``fit`` or ``partial_fit`` (as the
    estimator's sampler counts them), so every call runs the whole schedule over
    its ``max_epochs``.

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

    def __init__(self, start=0.8, beta=0.9999):
        self.start = start
        self.beta = beta

    def initialize(self):
        deferred_switch_epoch(self.start, max_epochs=1)
        _check_beta(self.beta)
        self._plain_weight = None
        self._criterion = None
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        criterion = net.criterion_
        if not hasattr(criterion, "weight"):
            raise ValueError(
                f"DeferredReweighting needs a criterion with a 'weight' attribute; "
                f"{type(criterion).__name__} has none."
            )
        if criterion is not self._criterion:
            # A new criterion (a fresh fit): remember its own weights for the plain phase.
            self._criterion = criterion
            self._plain_weight = criterion.weight
        self.switch_epoch_ = deferred_switch_epoch(self.start, net.max_epochs)
        device = (
            self._plain_weight.device
            if self._plain_weight is not None
            else torch.device(resolve_device(net.device))
        )
        self.weight_ = effective_number_weights(net.class_counts_, beta=self.beta).to(device)
        self._epoch = 0

    def on_epoch_begin(self, net, **kwargs):
        deferred = self._epoch >= self.switch_epoch_
        net.criterion_.weight = self.weight_ if deferred else self._plain_weight
        self._epoch += 1


class DeferredResampling(BaseEstimator):
    """Deferred re-sampling (DRS): shuffle first, re-balancing sampler late.

    A sampler (the ``sampler`` parameter of any skimbal estimator) that returns a
    plain random permutation of the training split (instance-balanced sampling)
    before epoch ``start`` and the indices of ``sampler`` from then on (Cao et al.,
    NeurIPS 2019, Sec. 3.3 and Sec. 4, "DRS"). The switch rule is that of
    :class:`DeferredReweighting` (:func:`deferred_switch_epoch`).

    Parameters
    ----------
    sampler : None, str or sampler object, default=None
        The re-balancing sampler of the second phase: an index sampler (with
        ``epoch_indices(y, *, epoch, generator)``), a sampler that creates rows
        (with ``epoch_data``, such as
        :class:`skimbal.sampling.ImbalancedLearnSampler` around SMOTE), or one of
        the names of :func:`skimbal.sampling.check_sampler` ('class-balanced',
        'square-root', ...). None is 'class-balanced',
        ``ClassAwareSampler(q=0.0)``. It receives the true epoch number.
        ``DeferredResampling`` offers the method its inner sampler has
        (``epoch_indices`` or ``epoch_data``), so the estimator's loader treats it
        as it would treat the inner sampler.
    start : int >= 0 or float in (0, 1), default=0.8
        First re-sampled epoch, an epoch index or a fraction of ``max_epochs``
        (0.8: epoch 160 of 200, as in Cao et al.).

    Attributes
    ----------
    max_epochs_ : int
        Epochs of the fit, set by the estimator through :meth:`set_max_epochs`.
    sampler_ : sampler object
        The sampler built from a name or from None (absent for an object).

    Examples
    --------
    >>> import torch
    >>> from skimbal.callbacks import DeferredResampling
    >>> sampler = DeferredResampling(start=0.5)
    >>> sampler.set_max_epochs(4)
    >>> y = torch.tensor([0] * 90 + [1] * 10)
    >>> g = torch.Generator().manual_seed(0)
    >>> int((y[sampler.epoch_indices(y, epoch=0, generator=g)] == 1).sum())
    10
    >>> int((y[sampler.epoch_indices(y, epoch=2, generator=g)] == 1).sum()) > 30
    True
    """

    def __init__(self, sampler=None, start=0.8):
        self.sampler = sampler
        self.start = start

    def set_max_epochs(self, max_epochs):
        """Record the number of epochs of the fit (and tell the inner sampler)."""
        self.max_epochs_ = int(max_epochs)
        inner = self._inner_sampler()
        if hasattr(inner, "set_max_epochs"):
            inner.set_max_epochs(max_epochs)

    def _inner_sampler(self):
        if self.sampler is not None and not isinstance(self.sampler, str):
            if not (hasattr(self.sampler, "epoch_indices") or hasattr(self.sampler, "epoch_data")):
                raise ValueError(
                    "sampler must be None, a sampler name or an object with an "
                    "epoch_indices(y, *, epoch, generator) or epoch_data(X, y, sample_weight, "
                    f"*, epoch, generator) method; got {self.sampler!r}."
                )
            return self.sampler
        if getattr(self, "sampler_", None) is None:
            from ..sampling import check_sampler

            self.sampler_ = check_sampler(
                "class-balanced" if self.sampler is None else self.sampler
            )
        return self.sampler_

    def switch_epoch(self):
        """First re-sampled epoch (0-based) for the recorded ``max_epochs_``."""
        return deferred_switch_epoch(self.start, getattr(self, "max_epochs_", None))

    def _inner_draws_rows(self):
        try:
            return hasattr(self._inner_sampler(), "epoch_data")
        except ValueError:
            # An invalid inner sampler: epoch_indices stays available and raises the error.
            return False

    def _inner_draws_indices(self):
        return not self._inner_draws_rows()

    @available_if(_inner_draws_indices)
    def epoch_indices(self, y, *, epoch, generator=None):
        """Row indices of epoch ``epoch``: a permutation, then the inner sampler's.

        Available when the inner sampler draws indices.

        Parameters
        ----------
        y : torch.Tensor of int, shape (n_samples,)
            Encoded labels of the training split.
        epoch : int
            Epoch number, starting at 0.
        generator : torch.Generator, default=None
            Source of randomness on ``y.device``.

        Returns
        -------
        index : torch.LongTensor
        """
        inner = self._inner_sampler()
        if epoch < self.switch_epoch():
            return torch.randperm(len(y), device=y.device, generator=generator)
        return inner.epoch_indices(y, epoch=epoch, generator=generator)

    @available_if(_inner_draws_rows)
    def epoch_data(self, X, y, sample_weight=None, *, epoch, generator=None):
        """Rows of epoch ``epoch``: the shuffled training split, then the inner sampler's.

        Available when the inner sampler creates rows (``epoch_data``), for example
        :class:`skimbal.sampling.ImbalancedLearnSampler`.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, ...)
            Features of the training split.
        y : torch.Tensor of int, shape (n_samples,)
            Encoded labels of the training split.
        sample_weight : torch.Tensor of shape (n_samples,), default=None
            Per-sample weights of the training split.
        epoch : int
            Epoch number, starting at 0.
        generator : torch.Generator, default=None
            Source of randomness on ``y.device``.

        Returns
        -------
        X, y, sample_weight : torch.Tensor
            The epoch's rows in batch order (``sample_weight`` None when none was
            given).
        """
        inner = self._inner_sampler()
        if epoch >= self.switch_epoch():
            return inner.epoch_data(X, y, sample_weight, epoch=epoch, generator=generator)
        index = torch.randperm(len(y), device=y.device, generator=generator)
        weight = None if sample_weight is None else sample_weight[index]
        return X[index], y[index], weight
