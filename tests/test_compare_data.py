"""Folds, long-tailed training parts, in-fold preprocessing and the scores of a fold."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    roc_auc_score,
)

from skimbal.compare._data import (
    MIN_TAIL,
    DataError,
    Dataset,
    LongTail,
    check_class_sizes,
    digits_lt,
    fold_seed,
    frame_dataset,
    make_folds,
    make_preprocessor,
)
from skimbal.compare._scores import continuous_scores, score_fold
from skimbal.datasets import long_tailed_counts, long_tailed_indices


def test_folds_partition_every_repeat():
    dataset = digits_lt(20)
    folds = make_folds(dataset, cv=3, repeats=2, random_state=0)
    assert [(f.repeat, f.fold) for f in folds] == [(r, k) for r in range(2) for k in range(3)]
    for repeat in range(2):
        tests = np.concatenate([f.test for f in folds if f.repeat == repeat])
        assert np.array_equal(np.sort(tests), np.arange(len(dataset.y)))
    for fold in folds:
        assert not np.intersect1d(fold.train, fold.test).size
        # Stratified: a third (rounded either way) of the images of every digit.
        share = np.bincount(dataset.y[fold.test]) - np.bincount(dataset.y) / 3
        assert np.all(np.abs(share) < 1)
    assert len({f.seed for f in folds}) == 6
    assert folds[4].seed == fold_seed(0, 1, 1) != fold_seed(1, 1, 1)


def test_long_tailed_training_part_follows_the_profile():
    dataset = digits_lt(20)
    fold = make_folds(dataset, cv=3, repeats=1, random_state=0)[0]
    counts = np.bincount(dataset.y[fold.train], minlength=10)
    assert counts.tolist() == sorted(counts.tolist(), reverse=True)  # digit 0 is the head
    # The same draw as long_tailed_indices on the fold's full training part.
    from sklearn.model_selection import RepeatedStratifiedKFold

    train, _ = next(RepeatedStratifiedKFold(n_splits=3, n_repeats=1, random_state=0)
                    .split(dataset.X, dataset.y))
    kept = long_tailed_indices(dataset.y[train], 20, n_max="auto", random_state=fold.seed)
    assert np.array_equal(fold.train, train[kept])
    assert counts.tolist() == long_tailed_counts(counts[0], 10, 20).tolist()


def test_imbalance_ratio_is_capped_to_keep_the_tail():
    y = np.repeat(np.arange(4), 40)
    dataset = Dataset("toy", np.zeros((160, 1)), y, "multiclass", list("0123"),
                      long_tail=LongTail(100.0))
    for fold in make_folds(dataset, cv=2, repeats=1, random_state=0):
        counts = np.bincount(y[fold.train])
        # 20 per class in a training part: IR 100 would leave 0; capped at 20 / 5 = 4.
        assert counts.tolist() == [20, 12, 7, MIN_TAIL]


def test_class_size_errors():
    with pytest.raises(DataError, match=r"single class \('a'\)"):
        check_class_sizes(np.array(["a"] * 5), 2, "toy")
    with pytest.raises(DataError, match=r"needs at least 5 samples.*'b' \(3\), 'c' \(1\)"):
        check_class_sizes(np.array(["a"] * 9 + ["b"] * 3 + ["c"]), 5, "toy")
    check_class_sizes(np.array([0, 0, 1, 1]), 2, "toy")


def test_preprocessing_is_fitted_on_the_training_part():
    frame = pd.DataFrame({
        "x": [1.0, np.nan, 3.0, 100.0],
        "colour": ["red", None, "red", "violet"],
        "target": [0, 1, 0, 1],
    })
    dataset = frame_dataset(frame, "toy", target="target")
    assert dataset.categorical == ("colour",) and dataset.task == "binary"
    train, test = dataset.X.iloc[:3], dataset.X.iloc[3:]
    preprocessor = make_preprocessor(dataset).fit(train)
    Z = preprocessor.transform(train)
    assert Z.dtype == np.float32 and Z.shape == (3, 2)  # x scaled, one 'red' column
    # Median 2 imputed from the training part; scaled with its mean 2 and std.
    np.testing.assert_allclose(Z[:, 0], [-1.2247449, 0.0, 1.2247449], rtol=1e-6)
    np.testing.assert_array_equal(Z[:, 1], [1, 1, 1])  # missing colour imputed as 'red'
    # 'violet' was never seen in training: all-zero one-hot, no error.
    assert preprocessor.transform(test)[0, 1] == 0.0


def _binary_dataset():
    y = np.array(["neg"] * 8 + ["pos"] * 4)
    return Dataset("toy", np.zeros((12, 1)), y, "binary", ["neg", "pos"])


def test_binary_scores_use_the_rare_class_as_positive():
    dataset = _binary_dataset()
    assert dataset.positive_label == "pos"
    y_true = np.array(["neg", "neg", "neg", "pos", "pos", "neg"])
    y_pred = np.array(["neg", "pos", "neg", "pos", "neg", "neg"])
    proba_pos = np.array([0.1, 0.6, 0.2, 0.9, 0.4, 0.3])
    scores = np.column_stack([1 - proba_pos, proba_pos])
    row = score_fold(dataset, y_true, y_pred, scores, dataset.y)
    truth = (y_true == "pos").astype(int)
    assert row["average_precision"] == pytest.approx(average_precision_score(truth, proba_pos))
    assert row["roc_auc"] == pytest.approx(roc_auc_score(truth, proba_pos))
    assert row["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert row["g_mean"] == pytest.approx(np.sqrt(0.5 * 0.75))
    assert row["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert row["recall"] == pytest.approx([0.75, 0.5]) and row["train_counts"] == [8, 4]
    assert "many_shot_accuracy" not in row
    no_scores = score_fold(dataset, y_true, y_pred, None, dataset.y)
    assert np.isnan(no_scores["average_precision"]) and np.isnan(no_scores["roc_auc"])


def test_multiclass_scores_and_shots():
    labels = np.arange(6)
    dataset = Dataset("toy", np.zeros((6, 1)), labels, "multiclass", [str(c) for c in labels])
    rng = np.random.default_rng(0)
    y_true = np.repeat(labels, 5)
    proba = rng.dirichlet(np.ones(6), size=30)
    y_pred = proba.argmax(1)
    train_y = np.repeat(labels, [150, 60, 30, 15, 10, 5])
    row = score_fold(dataset, y_true, y_pred, proba, train_y)
    assert row["roc_auc"] == pytest.approx(
        roc_auc_score(y_true, proba, multi_class="ovr", average="macro"))
    recall = np.array([np.mean(y_pred[y_true == c] == c) for c in labels])
    assert row["recall"] == pytest.approx(recall.tolist())
    assert row["many_shot_accuracy"] == pytest.approx(recall[0])
    assert row["medium_shot_accuracy"] == pytest.approx(recall[1:3].mean())
    assert row["few_shot_accuracy"] == pytest.approx(recall[3:].mean())


def test_multilabel_scores():
    dataset = Dataset("toy", np.zeros((4, 1)), np.zeros((4, 2)), "multilabel", ["a", "b"])
    Y = np.array([[1, 0], [0, 0], [1, 1], [0, 1], [0, 0], [1, 0]])
    P = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 0], [0, 0]])
    S = np.array([[0.9, 0.1], [0.6, 0.2], [0.8, 0.4], [0.3, 0.7], [0.1, 0.3], [0.4, 0.1]])
    row = score_fold(dataset, Y, P, S, Y)
    per_attribute = [balanced_accuracy_score(Y[:, a], P[:, a]) for a in range(2)]
    assert row["balanced_accuracy"] == pytest.approx(np.mean(per_attribute))
    tpr = np.array([2 / 3, 1 / 2])
    tnr = np.array([2 / 3, 1.0])
    assert row["g_mean"] == pytest.approx(np.mean(np.sqrt(tpr * tnr)))
    assert row["recall"] == pytest.approx(tpr.tolist()) and row["train_counts"] == [3, 2]
    assert row["average_precision"] == pytest.approx(average_precision_score(Y, S))
    assert row["roc_auc"] == pytest.approx(roc_auc_score(Y, S))
    assert np.isnan(row["accuracy"])


def test_continuous_scores_of_per_attribute_models():
    from sklearn.linear_model import LogisticRegression
    from sklearn.multioutput import MultiOutputClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0.5]).astype(int)
    model = MultiOutputClassifier(LogisticRegression()).fit(X, Y)
    scores = continuous_scores(model, X, "multilabel")
    assert scores.shape == (60, 2)
    np.testing.assert_allclose(scores[:, 1], model.estimators_[1].predict_proba(X)[:, 1])
