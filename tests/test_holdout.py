"""Tests of the held-out choice of a hyper-parameter (skimbal.methods._holdout)."""

import warnings

import numpy as np
import pytest

from skimbal.methods._holdout import (
    TAU_GRID,
    check_grid,
    choose_by_balanced_accuracy,
    holdout_split,
)

Y_TRUE = np.array([0, 0, 0, 0, 1, 1])


def predictions(table):
    """A ``predict`` callable from {value: predicted labels}, recording its calls."""
    calls = []

    def predict(value):
        calls.append(value)
        return np.asarray(table[value])

    return predict, calls


def test_the_best_balanced_accuracy_wins_and_scores_follow_the_grid():
    table = {0.0: [0, 0, 0, 0, 0, 0], 1.0: [0, 0, 0, 1, 1, 0], 2.0: [0, 0, 0, 0, 1, 1]}
    predict, calls = predictions(table)
    choice = choose_by_balanced_accuracy([2.0, 0.0, 1.0], predict, Y_TRUE, reference=0.0)
    assert choice.value == 2.0 and isinstance(choice.value, float)
    np.testing.assert_allclose(choice.scores, [1.0, 0.5, (0.75 + 0.5) / 2])
    assert calls == [2.0, 0.0, 1.0] and all(type(value) is float for value in calls)


@pytest.mark.parametrize(
    "grid, reference, expected",
    [
        ([0.2, 0.9, 1.2, 1.8], 1.0, 0.9),  # closest to 1
        ([0.2, 0.9, 1.2, 1.8], 0.0, 0.2),  # closest to 0: the smallest
        ([0.5, 1.5], 1.0, 0.5),  # equally close: the smaller
        ([1.5, 0.5], 1.0, 0.5),  # whatever the order of the grid
        ([1.8, 1.2], 5.0, 1.8),
    ],
)
def test_ties_go_to_the_value_closest_to_the_reference(grid, reference, expected):
    predict, _ = predictions({value: [0, 0, 0, 0, 1, 1] for value in grid})
    choice = choose_by_balanced_accuracy(grid, predict, Y_TRUE, reference=reference)
    assert choice.value == expected
    assert np.unique(choice.scores).tolist() == [1.0]


def test_a_strictly_better_value_beats_the_reference():
    table = {1.0: [0, 0, 0, 0, 0, 1], 1.7: [0, 0, 0, 0, 1, 1]}
    predict, _ = predictions(table)
    assert choose_by_balanced_accuracy([1.0, 1.7], predict, Y_TRUE, reference=1.0).value == 1.7


def test_predicted_classes_missing_from_the_holdout_raise_no_warning():
    predict, _ = predictions({0.0: [0, 0, 0, 0, 2, 1]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        choice = choose_by_balanced_accuracy([0.0], predict, Y_TRUE, reference=1.0)
    assert choice.value == 0.0


def test_check_grid_keeps_the_order_and_refuses_bad_grids():
    np.testing.assert_array_equal(check_grid([1.0, 0.0, 1.0], "tau_grid"), [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(check_grid(0.5, "tau_grid"), [0.5])
    for bad in ([], [1.0, -1.0], [np.nan], [[0.5, 1.0]], ["a"], None):
        with pytest.raises(ValueError, match="tau_grid"):
            check_grid(bad, "tau_grid")


def test_default_tau_grid():
    np.testing.assert_allclose(TAU_GRID, np.arange(21) / 10)
    assert TAU_GRID[10] == 1.0 and not TAU_GRID.flags.writeable


def test_holdout_split_is_stratified_and_follows_the_seed():
    y = np.repeat([0, 1, 2], [50, 11, 4])
    train, holdout = holdout_split(y, 0.2, seed=3)
    np.testing.assert_array_equal(np.bincount(y[holdout], minlength=3), [10, 2, 0])
    np.testing.assert_array_equal(np.sort(np.r_[train, holdout]), np.arange(len(y)))
    again = holdout_split(y, 0.2, seed=3)
    np.testing.assert_array_equal(again[1], holdout)
    other_seed = holdout_split(y, 0.2, seed=4)[1]
    other_stream = holdout_split(y, 0.2, seed=3, stream="another")[1]
    assert not np.array_equal(other_seed, holdout)
    assert not np.array_equal(other_stream, holdout)


def test_holdout_split_of_a_multilabel_target_spreads_every_minority_value():
    rng = np.random.RandomState(0)
    y = (rng.uniform(size=(200, 3)) < [0.1, 0.3, 0.5]).astype(np.int64)
    train, holdout = holdout_split(y, 0.25, seed=0)
    assert len(holdout) > 0
    for a in range(3):
        assert y[holdout, a].min() == 0 and y[holdout, a].max() == 1
        assert y[train, a].min() == 0 and y[train, a].max() == 1
