"""Epochs of a run given as an index or as a fraction of the run.

Every schedule of skimbal (deferred re-weighting and re-sampling, the learning
rate's warm-up and steps, BBN's cumulative learning, progressive sampling) names
its epochs as an int (an epoch index, 0-based) or as a float in (0, 1) (a
fraction of the run's planned length, ``max_epochs_``), and reads the current
epoch from the net's history, so it is the same under ``fit``, ``warm_start``,
``partial_fit`` and a run resumed from a checkpoint.

The planned length itself is ``max_epochs``, or with ``max_epochs='auto'`` (the
default) the epochs that make a fixed budget of optimizer steps on the fit's
training rows (:func:`auto_max_epochs`), so that a fraction of the run is a
fraction of a run of known length.
"""

import math
import numbers

__all__ = [
    "AUTO_BUDGET_STEPS",
    "AUTO_MAX_EPOCHS",
    "AUTO_MIN_EPOCHS",
    "auto_max_epochs",
    "current_epoch",
    "planned_epochs",
    "resolve_epoch",
    "resolve_max_epochs",
]

#: Optimizer steps of a fit with ``max_epochs='auto'`` (``benchmarks/default_epochs.py``).
AUTO_BUDGET_STEPS = 4000
#: Fewest epochs of ``max_epochs='auto'``: large data (over 10,240 rows at batch 128)
#: keep 50 epochs, more than the step budget, as their training loss still falls.
AUTO_MIN_EPOCHS = 50
#: Most epochs of ``max_epochs='auto'``: bounds the per-epoch overhead on tiny data.
AUTO_MAX_EPOCHS = 500


def auto_max_epochs(n_train, batch_size, *, budget_steps=AUTO_BUDGET_STEPS,
                    min_epochs=AUTO_MIN_EPOCHS, max_epochs=AUTO_MAX_EPOCHS):
    """Epochs of ``max_epochs='auto'``: a fixed number of optimizer steps.

    ``clip(ceil(budget_steps / steps_per_epoch), min_epochs, max_epochs)`` with
    ``steps_per_epoch = ceil(n_train / batch_size)`` (1 for ``batch_size=-1``).

    Parameters
    ----------
    n_train : int >= 1
        Training rows of the fit (after the validation part is held out).
    batch_size : int >= 1 or -1
        Rows per batch; -1 is the whole training part.
    budget_steps, min_epochs, max_epochs : int
        The step budget and the bounds on the epochs.

    Returns
    -------
    epochs : int

    Examples
    --------
    >>> from skimbal._core.schedule import auto_max_epochs
    >>> [auto_max_epochs(n, 128) for n in (300, 1000, 4000, 20000, 100000)]
    [500, 500, 125, 50, 50]
    """
    steps_per_epoch = 1 if batch_size == -1 else math.ceil(max(n_train, 1) / batch_size)
    return int(min(max(math.ceil(budget_steps / steps_per_epoch), min_epochs), max_epochs))


def resolve_max_epochs(max_epochs, n_train=None, batch_size=-1):
    """The planned epochs of a run: ``max_epochs``, or :func:`auto_max_epochs` for 'auto'."""
    if not (isinstance(max_epochs, str) and max_epochs == "auto"):
        return max_epochs
    if n_train is None:
        raise ValueError(
            "max_epochs='auto' sizes the run from the training rows: call fit (which sets "
            "max_epochs_) or pass an int max_epochs."
        )
    return auto_max_epochs(n_train, batch_size)


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


def planned_epochs(net, n_train=None):
    """The planned length of one run of ``net``: ``max_epochs_`` once it is resolved.

    Before a fit, ``max_epochs`` (resolved from ``n_train`` training rows when 'auto').
    """
    planned = getattr(net, "max_epochs_", None)
    if planned is not None:
        return planned
    if isinstance(net.max_epochs, str):
        return resolve_max_epochs(net.max_epochs, n_train, net.batch_size)
    return net.max_epochs
