"""Deferred re-sampling (DRS): shuffle first, re-balancing sampler late.

Cao et al. (NeurIPS 2019, Sec. 3.3) train with instance sampling until the
learning rate decays (epoch 160 of 200 on CIFAR) and only then re-balance. The
re-weighting twin is :class:`skimbal.callbacks.DeferredReweighting`; both switch at
the same epoch.
"""

import numbers

import torch
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.metaestimators import available_if

from .._core.schedule import resolve_epoch
from ._base import BaseSampler, check_sampler

__all__ = ["DeferredResampling"]


class DeferredResampling(BaseSampler):
    """Deferred re-sampling (DRS): shuffle first, re-balancing sampler late.

    A sampler (the ``sampler`` parameter of any skimbal estimator) that returns a
    plain random permutation of the training split (instance-balanced sampling)
    before epoch ``start`` and the indices of ``sampler`` from then on (Cao et al.,
    NeurIPS 2019, Sec. 3.3 and Sec. 4, "DRS"). The switch rule is that of
    :class:`DeferredReweighting` (:func:`skimbal.callbacks.deferred_switch_epoch`).

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
    >>> from skimbal.sampling import DeferredResampling
    >>> sampler = DeferredResampling(start=0.5)
    >>> sampler.set_max_epochs(4)
    >>> y = torch.tensor([0] * 90 + [1] * 10)
    >>> g = torch.Generator().manual_seed(0)
    >>> int((y[sampler.epoch_indices(y, epoch=0, generator=g)] == 1).sum())
    10
    >>> int((y[sampler.epoch_indices(y, epoch=2, generator=g)] == 1).sum()) > 30
    True
    """

    _parameter_constraints = {
        "sampler": [None, str, HasMethods(["epoch_indices"]), HasMethods(["epoch_data"])],
        "start": [Interval(numbers.Integral, 0, None, closed="left"),
                  Interval(numbers.Real, 0, 1, closed="neither")],
    }

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
            self.sampler_ = check_sampler(
                "class-balanced" if self.sampler is None else self.sampler
            )
        return self.sampler_

    def switch_epoch(self):
        """First re-sampled epoch (0-based) for the recorded ``max_epochs_``."""
        return resolve_epoch(self.start, getattr(self, "max_epochs_", None))

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
