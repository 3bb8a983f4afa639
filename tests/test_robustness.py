"""Bad and extreme input for every public estimator (issue: robustness)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from ._estimators import ESTIMATORS


def _quick(estimator):
    """A copy that trains for a few epochs only."""
    estimator = clone(estimator)
    params = estimator.get_params()
    short = {
        name: 3
        for name in params
        if name.endswith("max_epochs") or name.endswith("stage2_epochs")
    }
    return estimator.set_params(**short)


def _ids(estimator):
    return type(estimator).__name__


def _data(counts, n_features=4, seed=0):
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    X = rng.randn(len(y), n_features) + y[:, None]
    return X, y


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids)
def test_class_with_a_single_sample(estimator):
    X, y = _data([40, 12, 1])
    clf = _quick(estimator).fit(X, y)
    assert set(clf.predict(X)) <= {0, 1, 2}
    assert clf.predict_proba(X).shape == (len(X), 3)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids)
def test_imbalance_ratio_1000(estimator):
    X, y = _data([1000, 1])
    clf = _quick(estimator).fit(X, y)
    proba = clf.predict_proba(X[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids)
def test_pandas_with_categorical_string_labels(estimator):
    X, y = _data([30, 10, 5])
    frame = pd.DataFrame(X, columns=list("abcd"))
    labels = pd.Series(pd.Categorical(np.array(["cat", "dog", "eel"])[y]))
    clf = _quick(estimator).fit(frame, labels)
    assert set(clf.predict(frame)) <= {"cat", "dog", "eel"}


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids)
def test_nan_and_one_class_and_wrong_width_raise_value_error(estimator):
    X, y = _data([20, 10])
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    with pytest.raises(ValueError):
        _quick(estimator).fit(X_nan, y)
    with pytest.raises(ValueError):
        _quick(estimator).fit(X, np.zeros(len(y), dtype=int))
    clf = _quick(estimator).fit(X, y)
    with pytest.raises(ValueError):
        clf.predict(X[:, :3])


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids)
def test_sample_weight_of_wrong_length_or_negative(estimator):
    import inspect

    if "sample_weight" not in inspect.signature(estimator.fit).parameters:
        pytest.skip(f"{type(estimator).__name__}.fit takes no sample_weight")
    X, y = _data([20, 10])
    with pytest.raises(ValueError):
        _quick(estimator).fit(X, y, sample_weight=np.ones(5))
    with pytest.raises(ValueError):
        _quick(estimator).fit(X, y, sample_weight=-np.ones(len(y)))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids)
def test_unseen_labels_at_score_count_as_errors(estimator):
    X, y = _data([20, 10])
    clf = _quick(estimator).fit(X, y)
    assert clf.score(X, y + 5) == 0.0
