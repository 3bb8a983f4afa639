"""The learning-rate schedule of the long-tailed CIFAR recipe."""

import numbers

import torch
from sklearn.utils._param_validation import Interval

from .._core.schedule import planned_epochs, resolve_epoch
from ._schedule import EpochSchedule

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


class WarmupMultiStepLR(EpochSchedule):
    """Linear warm-up, then step decays: the schedule of the long-tailed CIFAR recipe.

    At the beginning of epoch ``e`` (its index in the net's history) every parameter
    group of the optimizer gets ``lr = initial_lr * factor(e)`` with

    - ``factor(e) = (e + 1) / W`` for ``e < W`` (linear warm-up over ``W`` epochs),
    - ``factor(e) = factors[k]`` from ``milestones[k]`` on, 1 before the first.

    With the defaults and ``max_epochs=200`` this is the schedule of the LDAM-DRW
    code (Cao et al., NeurIPS 2019; Goyal et al. 2017 for the warm-up): warm-up over
    5 epochs, ``lr x 0.01`` from epoch 160 and ``x 0.0001`` from epoch 180. Epochs
    given as fractions scale with the planned epochs (``net.max_epochs_``), so a
    short run has the same shape. Each group's ``initial_lr`` is stored in the group
    itself (as PyTorch's schedulers do), so it travels with the optimizer's state
    into a checkpoint and a resumed run continues the schedule exactly. The learning
    rate is changed in place (a tensor learning rate is filled) and recorded in the
    history under ``'lr'`` (first parameter group).

    Parameters
    ----------
    warmup : int >= 0 or float in (0, 1), default=0.025
        Warm-up length, in epochs (an int) or as a fraction of the planned epochs
        rounded to the nearest epoch (0.025 of 200 is 5).
    milestones : sequence of int or float, default=(0.8, 0.9)
        First epoch of each decay, in epochs or fractions of the planned epochs (0.8
        and 0.9 of 200 are 160 and 180). Must be non-decreasing.
    factors : sequence of float, default=(0.01, 0.0001)
        Multiplier of the initial learning rate from each milestone on; one per
        milestone, positive.

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

    _parameter_constraints = {
        "warmup": [Interval(numbers.Integral, 0, None, closed="left"),
                   Interval(numbers.Real, 0, 1, closed="neither")],
        "milestones": ["array-like"],
        "factors": ["array-like"],
    }

    def __init__(self, warmup=0.025, milestones=(0.8, 0.9), factors=(0.01, 0.0001)):
        self.warmup = warmup
        self.milestones = milestones
        self.factors = factors

    def initialize(self):
        super().initialize()
        self._epochs(n_epochs=1000)
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
        return self

    def _epochs(self, n_epochs):
        warmup = resolve_epoch(self.warmup, n_epochs, name="warmup")
        milestones = tuple(resolve_epoch(m, n_epochs, name="milestones") for m in self.milestones)
        if any(b < a for a, b in zip(milestones, milestones[1:], strict=False)):
            raise ValueError(f"milestones must be non-decreasing; got {self.milestones!r}.")
        return warmup, milestones

    def apply(self, net, epoch):
        warmup, milestones = self._epochs(planned_epochs(net))
        factor = warmup_multistep_factor(epoch, warmup, milestones, self.factors)
        groups = net.optimizer_.param_groups
        for group in groups:
            initial = group.setdefault("initial_lr", float(group["lr"]))
            lr = initial * factor
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr)
            else:
                group["lr"] = lr
        net.history.record("lr", groups[0]["initial_lr"] * factor)
