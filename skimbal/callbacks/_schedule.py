"""The base of skimbal's schedules: callbacks that read the epoch from the history.

A schedule sets something (class weights, a learning rate, a mixing weight) at
the start of every epoch from the epoch's index in ``net.history`` alone, so the
run is the same whether it went through in one ``fit``, continued with
``warm_start``, advanced by ``partial_fit`` calls or resumed from a checkpoint.
Epochs are given as an int (an epoch index) or a fraction of the run's planned
length (``net.max_epochs_``).
"""

import numbers

from sklearn.utils._param_validation import Interval
from skorch.callbacks import Callback

from .._core.schedule import current_epoch, planned_epochs, resolve_epoch
from .._core.validation import validate_constraints

__all__ = ["EPOCH_CONSTRAINT", "EpochSchedule", "deferred_switch_epoch"]

#: Constraint of a parameter naming an epoch: an index or a fraction of the run.
EPOCH_CONSTRAINT = [
    Interval(numbers.Integral, 0, None, closed="left"),
    Interval(numbers.Real, 0, 1, closed="neither"),
]


def deferred_switch_epoch(start, max_epochs=None):
    """Index of the first re-balanced epoch (0-based) of a deferred schedule.

    Parameters
    ----------
    start : int >= 0 or float in (0, 1)
        An int is the number of plain epochs (160 in Cao et al. 2019). A float is
        that number as a fraction of ``max_epochs``, rounded to the nearest epoch
        (halves up): 0.8 of 200 epochs is 160.
    max_epochs : int, default=None
        Planned epochs of the run; needed when ``start`` is a fraction.

    Returns
    -------
    switch_epoch : int
        Epochs ``0 .. switch_epoch - 1`` are plain, the following ones re-balanced.

    Examples
    --------
    >>> from skimbal.callbacks import deferred_switch_epoch
    >>> deferred_switch_epoch(0.8, max_epochs=200), deferred_switch_epoch(160)
    (160, 160)
    """
    return resolve_epoch(start, max_epochs, name="start")


class EpochSchedule(Callback):
    """Base class: call :meth:`apply` at the start of every epoch with its index.

    Subclasses declare their parameters in ``_parameter_constraints`` (checked when
    the net initialises its callbacks) and implement ``apply(net, epoch)``; private
    state ends in ``_`` (skorch hands every other attribute back to ``__init__``
    when it clones a callback).
    """

    _parameter_constraints: dict = {}

    def initialize(self):
        validate_constraints(self, self.get_params())
        return self

    @staticmethod
    def epoch_of(value, net, name="start"):
        """Epoch index of ``value`` (an index or a fraction of ``net``'s planned run)."""
        return resolve_epoch(value, planned_epochs(net), name=name)

    def on_epoch_begin(self, net, **kwargs):
        self.apply(net, current_epoch(net))

    def apply(self, net, epoch):  # pragma: no cover - abstract
        raise NotImplementedError
