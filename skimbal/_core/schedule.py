"""Epochs of a run given as an index or as a fraction of the run.

Every schedule of skimbal (deferred re-weighting and re-sampling, the learning
rate's warm-up and steps, BBN's cumulative learning, progressive sampling) names
its epochs as an int (an epoch index, 0-based) or as a float in (0, 1) (a
fraction of the run's planned length, ``max_epochs_``), and reads the current
epoch from the net's history, so it is the same under ``fit``, ``warm_start``,
``partial_fit`` and a run resumed from a checkpoint.
"""

import math
import numbers

__all__ = ["current_epoch", "planned_epochs", "resolve_epoch"]


def resolve_epoch(value, n_epochs=None, name="start"):
    """Epoch index (0-based) of an epoch given as an index or a fraction of the run.

    Parameters
    ----------
    value : int >= 0 or float in (0, 1)
        An int is an epoch index. A float is a fraction of ``n_epochs``, rounded to
        the nearest epoch (halves up): 0.8 of 200 epochs is 160.
    n_epochs : int, default=None
        Planned length of the run; needed when ``value`` is a fraction.
    name : str, default='start'
        Name of the parameter, for error messages.

    Returns
    -------
    epoch : int
        It may exceed ``n_epochs`` (an int ``value``); the epoch is then never reached.

    Examples
    --------
    >>> from skimbal._core.schedule import resolve_epoch
    >>> resolve_epoch(0.8, 200), resolve_epoch(160)
    (160, 160)
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be an int >= 0 or a float in (0, 1), got {value!r}.")
    if isinstance(value, numbers.Integral):
        if value < 0:
            raise ValueError(f"{name} must be an int >= 0 or a float in (0, 1), got {value!r}.")
        return int(value)
    if not 0 < value < 1:
        raise ValueError(
            f"{name} must be an int >= 0 (an epoch) or a float in (0, 1) (a fraction of "
            f"the run), got {value!r}."
        )
    if n_epochs is None:
        raise ValueError(f"A fractional {name} needs the number of epochs of the run.")
    return int(math.floor(value * n_epochs + 0.5))


def current_epoch(net):
    """Index (0-based) of the epoch in progress: ``len(net.history) - 1``.

    Called from ``on_epoch_begin`` or later within an epoch; the history then
    holds one row per started epoch, across ``fit``, ``partial_fit`` and resumes.
    """
    return len(net.history) - 1


def planned_epochs(net):
    """The planned length of one run of ``net``: ``max_epochs_`` once it is resolved."""
    planned = getattr(net, "max_epochs_", None)
    return planned if planned is not None else net.max_epochs
