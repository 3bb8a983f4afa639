import numpy as np
import pytest

from skimbal._core import prediction
from skimbal.metrics import (
    imbalance_report,
    mean_attribute_balanced_accuracy,
    mean_attribute_balanced_accuracy_scorer,
    per_class_accuracy,
    shot_accuracy,
)

# Hand-checked example: recalls 3/4, 1/2, 2/2.
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 2, 2])
Y_PRED = np.array([0, 0, 0, 1, 1, 0, 2, 2])


def test_per_class_accuracy_by_hand():
    np.testing.assert_allclose(per_class_accuracy(Y_TRUE, Y_PRED), [0.75, 0.5, 1.0])
    # Order follows labels; a class without test samples is NaN.
    result = per_class_accuracy(Y_TRUE, Y_PRED, labels=[2, 3, 0])
    np.testing.assert_allclose(result, [1.0, np.nan, 0.75])
    strings = per_class_accuracy(["b", "a", "a"], ["a", "a", "b"])
    np.testing.assert_allclose(strings, [0.5, 0.0])


def test_imbalance_report_by_hand():
    report = imbalance_report(Y_TRUE, Y_PRED, {0: 500, 1: 50, 2: 5})
    assert report["accuracy"] == pytest.approx(6 / 8)
    assert report["balanced_accuracy"] == pytest.approx((0.75 + 0.5 + 1.0) / 3)
    # F1 per class: class 0 predicted 4 times, 3 right -> P = R = 3/4;
    # class 1: P = R = 1/2; class 2: P = R = 1.
    assert report["macro_f1"] == pytest.approx((0.75 + 0.5 + 1.0) / 3)
    assert report["g_mean"] == pytest.approx((0.75 * 0.5 * 1.0) ** (1 / 3))
    assert report["many_shot_accuracy"] == pytest.approx(0.75)
    assert report["medium_shot_accuracy"] == pytest.approx(0.5)
    assert report["few_shot_accuracy"] == pytest.approx(1.0)
    np.testing.assert_array_equal(report["labels"], [0, 1, 2])
    np.testing.assert_array_equal(report["train_counts"], [500, 50, 5])
    np.testing.assert_allclose(report["per_class_accuracy"], [0.75, 0.5, 1.0])


def test_imbalance_report_macro_f1_with_unequal_precision():
    # Class 0: TP 2, FP 1, FN 0 -> F1 = 2*2/(2*2+1) = 0.8; class 1: TP 1, FP 0, FN 1
    # -> F1 = 2/(2+1) = 2/3.
    report = imbalance_report([0, 0, 1, 1], [0, 0, 0, 1])
    assert report["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    # Binary G-mean: sqrt(TPR * TNR) = sqrt(1 * 0.5).
    assert report["g_mean"] == pytest.approx(np.sqrt(0.5))
    assert "many_shot_accuracy" not in report


def test_g_mean_is_zero_when_a_class_is_never_recognised():
    report = imbalance_report([0, 0, 1, 1, 2], [0, 0, 1, 1, 0])
    assert report["g_mean"] == 0.0
    assert report["balanced_accuracy"] == pytest.approx(2 / 3)


def test_shot_accuracy_group_boundaries():
    y_true = np.repeat([0, 1, 2, 3], 2)
    y_pred = np.array([0, 0, 1, 0, 2, 2, 0, 0])
    # 101 > 100: many; 100 and 20: medium; 19 < 20: few.
    counts = {0: 101, 1: 100, 2: 20, 3: 19}
    result = shot_accuracy(y_true, y_pred, counts)
    assert result == {"many": 1.0, "medium": pytest.approx(0.75), "few": 0.0}
    # Thresholds are parameters.
    result = shot_accuracy(y_true, y_pred, counts, many_threshold=50, few_threshold=50)
    assert result["many"] == pytest.approx(0.75)
    assert np.isnan(result["medium"])
    assert result["few"] == pytest.approx(0.5)


def test_shot_accuracy_is_the_mean_of_class_accuracies():
    # Class 0 has 3 test samples (all right), class 1 one (wrong): both many-shot.
    result = shot_accuracy([0, 0, 0, 1], [0, 0, 0, 0], {0: 200, 1: 300})
    assert result["many"] == pytest.approx(0.5)
    assert np.isnan(result["medium"]) and np.isnan(result["few"])


def test_shot_accuracy_train_counts_as_array():
    y_true, y_pred = ["a", "b", "c"], ["a", "a", "c"]
    result = shot_accuracy(y_true, y_pred, [300, 50, 3], labels=["a", "b", "c"])
    assert result == {"many": 1.0, "medium": 0.0, "few": 1.0}
    # Without labels the counts follow the sorted labels of y_true and y_pred.
    assert shot_accuracy(y_true, y_pred, [300, 50, 3]) == result
    # A class only in training (no test sample) does not count in its group.
    result = shot_accuracy([0, 1], [0, 1], [500, 10, 10], labels=[0, 1, 2])
    assert result == {"many": 1.0, "medium": pytest.approx(np.nan, nan_ok=True), "few": 1.0}


def test_shot_accuracy_errors():
    with pytest.raises(ValueError, match="pass labels="):
        shot_accuracy([0, 1], [0, 1], [10, 20, 30])
    with pytest.raises(ValueError, match=r"no count for the labels \[2\]"):
        shot_accuracy([0, 1], [0, 1], {0: 1, 1: 2}, labels=[0, 1, 2])
    with pytest.raises(ValueError, match="no training count"):
        shot_accuracy([0, 5], [0, 1], {0: 1, 1: 2})
    with pytest.raises(ValueError, match="few_threshold"):
        shot_accuracy([0, 1], [0, 1], {0: 1, 1: 2}, many_threshold=10, few_threshold=20)
    with pytest.raises(ValueError, match="non-negative"):
        shot_accuracy([0, 1], [0, 1], {0: -1, 1: 2})
    with pytest.raises(ValueError, match="inconsistent"):
        shot_accuracy([0, 1, 1], [0, 1], {0: 1, 1: 2})


def test_imbalance_report_rejects_multilabel():
    with pytest.raises(ValueError, match="mean_attribute_balanced_accuracy"):
        imbalance_report(np.eye(3, dtype=int), np.eye(3, dtype=int))


def test_mean_attribute_balanced_accuracy_is_reexported():
    # The public name of the score the estimators report as valid_bacc.
    assert mean_attribute_balanced_accuracy is prediction.mean_balanced_accuracy
    # Its scorer: greater is better, no extra arguments.
    assert mean_attribute_balanced_accuracy_scorer._score_func is mean_attribute_balanced_accuracy
    assert mean_attribute_balanced_accuracy_scorer._sign == 1
    assert mean_attribute_balanced_accuracy_scorer._kwargs == {}
    # Attribute 0: TPR 1/2, TNR 2/2 -> 0.75; attribute 1: TPR 1/2, TNR 2/2 -> 0.75.
    Y_true = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    Y_pred = np.array([[1, 0], [0, 1], [0, 0], [0, 0]])
    assert mean_attribute_balanced_accuracy(Y_true, Y_pred) == pytest.approx(0.75)


def test_mean_attribute_balanced_accuracy_by_hand():
    # Attribute 0: TPR 1/1, TNR 2/3 -> 5/6; attribute 1: TPR 0/1, TNR 3/3 -> 1/2.
    Y_true = np.array([[1, 0], [0, 0], [0, 1], [0, 0]])
    Y_pred = np.array([[1, 0], [1, 0], [0, 0], [0, 0]])
    assert mean_attribute_balanced_accuracy(Y_true, Y_pred) == pytest.approx(2 / 3)
    # 1-D labels: scikit-learn's balanced accuracy.
    assert mean_attribute_balanced_accuracy(Y_TRUE, Y_PRED) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="same shape"):
        mean_attribute_balanced_accuracy(Y_true, Y_pred[:, :1])


def test_mean_attribute_balanced_accuracy_scorer_in_grid_search():
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    Y = np.c_[X[:, 0] > 0.8, X[:, 1] > 0].astype(int)
    search = GridSearchCV(
        KNeighborsClassifier(),
        {"n_neighbors": [1, 5]},
        scoring=mean_attribute_balanced_accuracy_scorer,
        cv=KFold(2),
    ).fit(X, Y)
    # The score of the first fold, recomputed by hand.
    train, test = next(KFold(2).split(X))
    model = KNeighborsClassifier(n_neighbors=1).fit(X[train], Y[train])
    expected = mean_attribute_balanced_accuracy(Y[test], model.predict(X[test]))
    assert search.cv_results_["split0_test_score"][0] == pytest.approx(expected)
