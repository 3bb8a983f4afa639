"""BBN's cumulative learning: the weight of the conventional branch over the epochs."""

import numbers

from sklearn.utils._param_validation import Interval

from .._core.schedule import planned_epochs
from ._schedule import EpochSchedule

__all__ = ["CumulativeLearning", "cumulative_learning_alpha"]


def cumulative_learning_alpha(epoch, max_epochs):
    """Weight of the conventional branch in epoch ``epoch``: ``1 - (T / T_max)^2``.

    The parabolic decay of BBN (Zhou et al. 2020, Sec. 4.3), with ``T = epoch``
    counted from 0, so the first epoch is purely conventional (``alpha = 1``), as
    in the authors' code (``1 - ((epoch - 1) / max_epoch) ** 2`` with epochs
    counted from 1). Epochs past ``T_max`` get 0.

    Parameters
    ----------
    epoch : int
        Epoch index, starting at 0.
    max_epochs : int
        ``T_max``, the planned number of epochs.

    Returns
    -------
    alpha : float in [0, 1]

    Examples
    --------
    >>> from skimbal.callbacks._bbn import cumulative_learning_alpha
    >>> [cumulative_learning_alpha(t, 4) for t in range(5)]
    [1.0, 0.9375, 0.75, 0.4375, 0.0]
    """
    if isinstance(max_epochs, bool) or not isinstance(max_epochs, numbers.Integral) or (
        max_epochs < 1
    ):
        raise ValueError(f"max_epochs must be a positive int, got {max_epochs!r}.")
    return float(min(max(1.0 - (epoch / max_epochs) ** 2, 0.0), 1.0))


class CumulativeLearning(EpochSchedule):
    """BBN's cumulative-learning schedule: ``alpha = 1 - (T / T_max)^2``.

    At the start of every epoch ``T`` (its index in the net's history, so
    ``warm_start``, ``partial_fit`` and a run resumed from a checkpoint follow one
    schedule) it sets ``net.alpha_``, the weight of the conventional branch of a
    :class:`skimbal.BBNClassifier` in the mixed output and in the loss, to
    :func:`cumulative_learning_alpha` ``(T, T_max)`` and records it in the history
    as ``'bbn_alpha'`` (Zhou et al., CVPR 2020, Sec. 4.3). Epochs past ``T_max``
    keep ``alpha = 0``.

    Parameters
    ----------
    max_epochs : int or None, default=None
        ``T_max``. None uses the planned epochs of the run (``net.max_epochs_``,
        the ``max_epochs`` of the fit). Set it to spread the schedule over several
        ``partial_fit`` calls: ``max_epochs=8`` over four calls of 2 epochs each is
        the schedule of one 8-epoch fit.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import BBNClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = BBNClassifier(max_epochs=3, random_state=0,
    ...                     callbacks__cumulative_learning__max_epochs=4).fit(X, y)
    >>> clf.history[:, "bbn_alpha"]
    [1.0, 0.9375, 0.75]
    """

    _parameter_constraints = {
        "max_epochs": [None, Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, max_epochs=None):
        self.max_epochs = max_epochs

    def alpha_at(self, epoch, net):
        """``alpha`` of epoch ``epoch`` (0-based) in a run of ``net``."""
        planned = self.max_epochs if self.max_epochs is not None else planned_epochs(net)
        return cumulative_learning_alpha(epoch, planned)

    def apply(self, net, epoch):
        net.alpha_ = self.alpha_at(epoch, net)
        net.history.record("bbn_alpha", net.alpha_)
