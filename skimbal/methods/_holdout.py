"""Choosing a hyper-parameter on held-out training rows, one way for every method.

Post-hoc logit adjustment (``tau`` of :class:`skimbal.PostHocLogitAdjustedClassifier`)
and decoupled training (``tau`` of tau-normalisation in
:class:`skimbal.DecoupledClassifier`) choose a value from a grid by the balanced
accuracy on a stratified part of the training data held out of training; they
share the split (:func:`holdout_split`), the check of a grid (:func:`check_grid`)
and the choice with its tie-break (:func:`choose_by_balanced_accuracy`). Never the
test data: choosing on them would inflate the reported accuracy.
"""

import warnings
from typing import NamedTuple

import numpy as np
from sklearn.metrics import balanced_accuracy_score

from .._core.random import epoch_seed
from .._core.targets import split_strata, stratified_holdout

__all__ = ["TAU_GRID", "GridChoice", "check_grid", "choose_by_balanced_accuracy",
           "holdout_split"]

#: The default candidates of a temperature ``tau``: 0, 0.1, ..., 2.
TAU_GRID = np.round(np.linspace(0.0, 2.0, 21), 10)
TAU_GRID.setflags(write=False)


class GridChoice(NamedTuple):
    """The chosen value of a grid and the held-out score of every candidate."""

    #: The chosen candidate, as a float.
    value: float
    #: Balanced accuracy of each candidate, in the order of the grid (float64).
    scores: np.ndarray


def check_grid(grid, name):
    """Validate a grid of candidates: a non-empty 1-D sequence of finite numbers >= 0.

    Parameters
    ----------
    grid : array-like of float
        The candidates (a scalar is a grid of one).
    name : str
        Name of the parameter, for the error message.

    Returns
    -------
    grid : ndarray of float64, shape (n_candidates,)
        The candidates in the given order (duplicates kept).

    Examples
    --------
    >>> from skimbal.methods._holdout import check_grid
    >>> check_grid([0.5, 1, 2], "tau_grid")
    array([0.5, 1. , 2. ])
    """
    try:
        values = np.atleast_1d(np.asarray(grid, dtype=np.float64))
    except (TypeError, ValueError):
        values = None
    if values is None or values.ndim != 1 or values.size == 0 or not np.all(
        np.isfinite(values)
    ) or np.any(values < 0):
        raise ValueError(
            f"{name} must hold at least one finite value >= 0 (a 1-D sequence), got {grid!r}."
        )
    return values


def holdout_split(y_encoded, fraction, seed, stream="holdout"):
    """Training and held-out row indices, stratified, from a seed of the fit.

    Every class (for a multi-label target: every stratum of
    :func:`skimbal._core.targets.split_strata`) gives ``floor(fraction * n_j)`` rows
    to the held-out part (:func:`skimbal._core.targets.stratified_holdout`), so a
    class too small to spare a row stays whole in training. The rows depend on
    ``(seed, stream)`` and the labels only.

    Parameters
    ----------
    y_encoded : ndarray of int, shape (n_samples,) or (n_samples, n_attributes)
        Encoded labels.
    fraction : float in (0, 1)
        Fraction of every class held out.
    seed : int
        The fit's seed (``net.seed_``).
    stream : str, default='holdout'
        Name of the random stream (:func:`skimbal._core.random.epoch_seed`).

    Returns
    -------
    train_index, holdout_index : ndarray of int64
        Sorted row indices; ``holdout_index`` may be empty.

    Examples
    --------
    >>> import numpy as np
    >>> from skimbal.methods._holdout import holdout_split
    >>> train, holdout = holdout_split(np.repeat([0, 1], [10, 4]), 0.2, seed=0)
    >>> len(train), len(holdout)
    (12, 2)
    """
    rng = np.random.RandomState(epoch_seed(seed, 0, stream) % 2**32)
    return stratified_holdout(split_strata(np.asarray(y_encoded)), fraction, rng)


def choose_by_balanced_accuracy(grid, predict, y_true, *, reference):
    """The candidate whose held-out predictions have the best balanced accuracy.

    Every candidate ``v`` of ``grid`` is scored by
    ``balanced_accuracy_score(y_true, predict(v))``. **Tie-break:** among the
    candidates with the highest score (compared exactly: equal predictions give
    equal scores), the one closest to ``reference`` wins; of two equally close,
    the smaller. ``reference`` is the method's default (1 for post-hoc logit
    adjustment, the paper's choice; 0 for tau-normalisation, the un-normalised
    classifier), so that the data must show a gain before the choice moves away
    from it.

    Parameters
    ----------
    grid : array-like of float, shape (n_candidates,)
        Candidates (see :func:`check_grid`).
    predict : callable
        ``predict(value)`` returns the predicted encoded labels of the held-out
        rows for one candidate, an array-like of shape (n_holdout,).
    y_true : array-like of shape (n_holdout,)
        Encoded labels of the held-out rows.
    reference : float
        The value ties are broken towards.

    Returns
    -------
    choice : GridChoice
        ``value`` (float) and ``scores`` (float64, in the order of ``grid``).

    Examples
    --------
    >>> import numpy as np
    >>> from skimbal.methods._holdout import choose_by_balanced_accuracy
    >>> y_true = np.array([0, 0, 1, 1])
    >>> predictions = {0.0: [0, 0, 0, 0], 0.5: [0, 0, 1, 1], 1.5: [0, 0, 1, 1]}
    >>> choice = choose_by_balanced_accuracy(
    ...     [0.0, 0.5, 1.5], predictions.__getitem__, y_true, reference=1.0)
    >>> choice.value, choice.scores.tolist()
    (0.5, [0.5, 1.0, 1.0])
    """
    grid = np.asarray(grid, dtype=np.float64)
    y_true = np.asarray(y_true)
    with warnings.catch_warnings():
        # The held-out rows may lack a class that the predictions contain.
        warnings.simplefilter("ignore", UserWarning)
        scores = np.array([
            balanced_accuracy_score(y_true, np.asarray(predict(float(value))))
            for value in grid
        ], dtype=np.float64)
    best = np.flatnonzero(scores == scores.max())
    # Closest to the reference first, then the smaller value.
    winner = min(best, key=lambda i: (abs(grid[i] - reference), grid[i]))
    return GridChoice(float(grid[winner]), scores)
