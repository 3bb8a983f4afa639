"""The learning-rate schedule of the long-tailed CIFAR recipe."""

import numbers

import torch
from skorch.callbacks import Callback

from ._deferred import deferred_switch_epoch

__all__ = ["WarmupMultiStepLR", "warmup_multistep_factor"]


def warmup_multistep_factor(epoch, warmup_epochs, milestone_epochs, factors):
    """Learning-rate multiplier of epoch ``epoch`` (0-based).

    ``(epoch + 1) / warmup_epochs`` during the warm-up, times the factor of the
    last milestone reached (1 before the first one).

    Parameters
    ----------
    epoch : int
        Epoch index, 0-based.
    warmup_epochs : int
        Length of the linear warm-up; 0 for none.
    milestone_epochs : sequence of int
        Epochs (0-based, non-decreasing) from which ``factors`` apply.
    factors : sequence of float
        Multiplier of the base learning rate from each milestone on (not
        cumulative).

    Returns
    -------
    factor : float

    Examples
    --------
    >>> from skimbal.callbacks import warmup_multistep_factor
    >>> [warmup_multistep_factor(e, 5, (160, 180), (0.01, 1e-4)) for e in (0, 4, 159, 160, 180)]
    [0.2, 1.0, 1.0, 0.01, 0.0001]
    """
    factor = 1.0
    for milestone, milestone_factor in zip(milestone_epochs, factors, strict=True):
        if epoch >= milestone:
            factor = float(milestone_factor)
    if epoch < warmup_epochs:
        factor *= (epoch + 1) / warmup_epochs
    return factor


class WarmupMultiStepLR(Callback):
    """Linear warm-up, then step decays: the schedule of the long-tailed CIFAR recipe.

    At the beginning of epoch ``e`` (0-based, counted within each ``fit``) every
    parameter group of the optimizer gets ``lr = base_lr * factor(e)`` with

    - ``factor(e) = (e + 1) / W`` for ``e < W`` (linear warm-up over ``W`` epochs),
    - ``factor(e) = factors[k]`` from ``milestones[k]`` on, 1 before the first.

    With the defaults and ``max_epochs=200`` this is the schedule of the LDAM-DRW
    code (Cao et al., NeurIPS 2019; Goyal et al. 2017 for the warm-up): warm-up
    over 5 epochs, ``lr x 0.01`` from epoch 160 and ``x 0.0001`` from epoch 180.
    Epochs given as fractions scale with ``max_epochs``, so a short run has the
    same shape. The learning rate is changed in place (a tensor learning rate is
    filled), and recorded in the history under ``'lr'`` (first parameter group).

    Parameters
    ----------
    warmup : int >= 0 or float in (0, 1), default=0.025
        Warm-up length, in epochs (an int) or as a fraction of ``max_epochs``
        rounded to the nearest epoch (0.025 of 200 is 5).
    milestones : sequence of int or float, default=(0.8, 0.9)
        First epoch of each decay, in epochs or fractions of ``max_epochs``
        (0.8 and 0.9 of 200 are 160 and 180). Must be non-decreasing.
    factors : sequence of float, default=(0.01, 0.0001)
        Multiplier of the base learning rate from each milestone on; one per
        milestone, positive.

    Attributes
    ----------
    warmup_epochs_ : int
        Warm-up length of the current fit.
    milestone_epochs_ : tuple of int
        Decay epochs of the current fit.
    base_lrs_ : list of float
        Learning rate of each parameter group when the optimizer was first seen.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skimbal import CrossEntropyClassifier
    >>> from skimbal.callbacks import WarmupMultiStepLR
    >>> X = np.random.default_rng(0).random((40, 2))
    >>> y = np.arange(40) % 2
    >>> clf = CrossEntropyClassifier(
    ...     optimizer=torch.optim.SGD, lr=0.1, max_epochs=10, random_state=0,
    ...     callbacks=[WarmupMultiStepLR(warmup=2, milestones=(8, 9))],
    ... ).fit(X, y)
    >>> [round(lr, 4) for lr in clf.history_[:, "lr"]]
    [0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.001, 0.0]
    """

    def __init__(self, warmup=0.025, milestones=(0.8, 0.9), factors=(0.01, 0.0001)):
        self.warmup = warmup
        self.milestones = milestones
        self.factors = factors

    def initialize(self):
        self._epochs(max_epochs=1000)
        factors = list(self.factors)
        if len(factors) != len(list(self.milestones)):
            raise ValueError(
                f"factors needs one value per milestone; got {len(factors)} factors for "
                f"{len(list(self.milestones))} milestones."
            )
        if any(
            isinstance(f, bool) or not isinstance(f, numbers.Real) or not f > 0 for f in factors
        ):
            raise ValueError(f"factors must be positive numbers; got {self.factors!r}.")
        self._optimizer = None
        return self

    def _epochs(self, max_epochs):
        warmup = deferred_switch_epoch(self.warmup, max_epochs)
        milestones = tuple(deferred_switch_epoch(m, max_epochs) for m in self.milestones)
        if any(b < a for a, b in zip(milestones, milestones[1:], strict=False)):
            raise ValueError(f"milestones must be non-decreasing; got {self.milestones!r}.")
        return warmup, milestones

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.warmup_epochs_, self.milestone_epochs_ = self._epochs(net.max_epochs)
        optimizer = net.optimizer_
        if optimizer is not self._optimizer:
            # A new optimizer (a fresh fit): its learning rates are the base ones.
            self._optimizer = optimizer
            self.base_lrs_ = [float(group["lr"]) for group in optimizer.param_groups]
        self._epoch = 0

    def on_epoch_begin(self, net, **kwargs):
        factor = warmup_multistep_factor(
            self._epoch, self.warmup_epochs_, self.milestone_epochs_, self.factors
        )
        for group, base_lr in zip(self._optimizer.param_groups, self.base_lrs_, strict=True):
            lr = base_lr * factor
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr)
            else:
                group["lr"] = lr
        net.history.record("lr", self.base_lrs_[0] * factor)
        self._epoch += 1
