"""Tests of CRLClassifier and the multi-label machinery (skimbal/_crl.py, _multilabel.py)."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from skimbal import CRLClassifier, crl_imbalance_alpha
from skimbal._multilabel import (
    _rarest_value_strata,
    mean_attribute_balanced_accuracy,
    mean_attribute_balanced_accuracy_scorer,
)
from skimbal.losses import ClassRectificationLoss

SMALL = dict(max_epochs=3, hidden_layer_sizes=(8,), batch_size=32, random_state=0)


def _multilabel_data(n=120, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    Y = np.stack([X[:, 0] > 0.8, X[:, 1] > 0, X[:, 2] > -0.5], axis=1).astype(np.int64)
    return X, Y


def _multiclass_data(n=90, seed=0):
    rng = np.random.RandomState(seed)
    y = np.repeat([0, 1, 2], [60, 20, 10])[:n]
    X = rng.normal(size=(len(y), 4)).astype(np.float32) + y[:, None]
    return X, y


# ------------------------------------------------------------- multi-label
def test_multilabel_shapes_and_original_values():
    X, Y = _multilabel_data()
    Y_signed = np.where(Y == 1, 1, -1)
    clf = CRLClassifier(**SMALL).fit(X, Y_signed)
    assert clf.multilabel_
    assert clf.classes_.tolist() == [0, 1, 2]
    assert clf.label_values_.tolist() == [-1, 1]
    pred = clf.predict(X)
    assert pred.shape == (len(X), 3)
    assert set(np.unique(pred)) <= {-1, 1}
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3) and np.all((proba >= 0) & (proba <= 1))
    scores = clf.decision_function(X)
    np.testing.assert_array_equal(pred, np.where(scores > 0, 1, -1))
    np.testing.assert_allclose(proba, 1 / (1 + np.exp(-scores)), rtol=1e-5)


def test_multilabel_class_counts_are_per_attribute_on_the_training_split():
    X, Y = _multilabel_data()
    clf = CRLClassifier(**SMALL).fit(X, Y)
    expected = np.stack([(Y == 0).sum(0), (Y == 1).sum(0)], axis=1)
    np.testing.assert_array_equal(clf.class_counts_, expected)
    assert clf.class_counts_.dtype == np.int64
    np.testing.assert_allclose(clf.class_prior_.sum(1), 1)
    held = CRLClassifier(validation_fraction=0.25, **SMALL).fit(X, Y)
    assert held.class_counts_.sum(1).tolist() == [held.class_counts_.sum(1)[0]] * 3
    assert held.class_counts_.sum(1)[0] < len(X)


def test_multilabel_balanced_class_weight():
    X, Y = _multilabel_data()
    clf = CRLClassifier(class_weight="balanced", **SMALL).fit(X, Y)
    counts = clf.class_counts_
    inverse = 1 / counts
    np.testing.assert_allclose(clf.class_weight_, 2 * inverse / inverse.sum(1, keepdims=True),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="class_weight"):
        CRLClassifier(class_weight={0: 1.0}, **SMALL).fit(X, Y)


@pytest.mark.parametrize(
    "Y, match",
    [
        (np.array([[0, 1], [2, 0], [1, 1], [0, 0]]), "binary indicator"),
        (np.array([[0, 1], [1, 1], [0, 1], [1, 1]]), r"attribute\(s\) \[1\]"),
        (np.array([[0.5, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]), "binary indicator"),
    ],
)
def test_bad_multilabel_targets_raise(Y, match):
    X = np.zeros((4, 2), dtype=np.float32)
    with pytest.raises(ValueError, match=match):
        CRLClassifier(**SMALL).fit(X, Y)


def test_target_kind_must_not_change_between_fits():
    X, Y = _multilabel_data()
    clf = CRLClassifier(**SMALL).partial_fit(X, Y)
    with pytest.raises(ValueError, match="same kind"):
        clf.partial_fit(X, Y[:, 0])


def test_rarest_value_strata():
    # Attribute 0: 1 positive of 6 (minority 1); attribute 1: 2 negatives (minority 0).
    Y = np.array([[1, 1], [0, 0], [0, 0], [0, 1], [0, 1], [0, 1]])
    assert _rarest_value_strata(Y).tolist() == [0, 1, 1, 2, 2, 2]


def test_mean_attribute_balanced_accuracy():
    y_true = np.array([[1, 0], [0, 0], [0, 1], [0, 0]])
    y_pred = np.array([[1, 0], [1, 0], [0, 0], [0, 0]])
    # Attribute 0: TPR 1, TNR 2/3; attribute 1: TPR 0, TNR 1.
    expected = ((1 + 2 / 3) / 2 + (0 + 1) / 2) / 2
    assert mean_attribute_balanced_accuracy(y_true, y_pred) == pytest.approx(expected)
    assert mean_attribute_balanced_accuracy(y_true[:, 0], y_pred[:, 0]) == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="same shape"):
        mean_attribute_balanced_accuracy(y_true, y_pred[:, :1])


def test_scorer_matches_metric():
    X, Y = _multilabel_data()
    clf = CRLClassifier(**SMALL).fit(X, Y)
    expected = mean_attribute_balanced_accuracy(Y, clf.predict(X))
    assert mean_attribute_balanced_accuracy_scorer(clf, X, Y) == pytest.approx(expected)


# ---------------------------------------------------------------- training
@pytest.mark.parametrize("level", ["class", "instance"])
def test_history_records_mining_counts(level):
    X, Y = _multilabel_data()
    clf = CRLClassifier(level=level, **SMALL).fit(X, Y)
    for row in clf.history:
        assert row["crl_triplets"] > 0
        assert row["crl_minority_classes"] >= 3 * 4  # 3 attributes, 4 batches
        assert 0 <= row["crl_skipped_classes"] <= row["crl_minority_classes"]


def test_history_counts_equal_the_sum_over_batches():
    X, y = _multiclass_data()
    clf = CRLClassifier(max_epochs=1, hidden_layer_sizes=(8,), batch_size=90, random_state=0)
    clf.fit(X, y)
    crl = ClassRectificationLoss()
    with torch.no_grad():
        crl(torch.as_tensor(clf.decision_function(X)), torch.as_tensor(y))
    # One full batch: counts of 60, 20, 10 give minority {1, 2} whatever the weights,
    # 30 anchors each with 3 negatives and 3 positives.
    assert clf.history[-1, "crl_minority_classes"] == 2
    assert clf.history[-1, "crl_skipped_classes"] == 0
    assert clf.history[-1, "crl_triplets"] == 30 * 9 == int(crl.n_triplets_)


def test_loss_is_alpha_mix_of_crl_and_cross_entropy():
    X, y = _multiclass_data()
    clf = CRLClassifier(alpha=0.3, **SMALL).fit(X, y)
    logits = torch.as_tensor(clf.decision_function(X))
    target = torch.as_tensor(y)
    with torch.no_grad():
        loss = clf.get_loss(logits, target)
        crl = ClassRectificationLoss()(logits, target)
        ce = torch.nn.functional.cross_entropy(logits, target)
    assert loss.item() == pytest.approx((0.3 * crl + 0.7 * ce).item(), rel=1e-5)


def test_multilabel_loss_uses_per_attribute_bce():
    X, Y = _multilabel_data()
    clf = CRLClassifier(alpha=0.0, **SMALL).fit(X, Y)
    logits = torch.as_tensor(clf.decision_function(X))
    with torch.no_grad():
        loss = clf.get_loss(logits, torch.as_tensor(Y))
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, torch.as_tensor(Y, dtype=torch.float32)
    )
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert clf.history[-1, "crl_triplets"] == 0


def test_instance_level_trains_the_embedding_through_crl():
    # With alpha 1 only CRL trains; at the instance level it reaches the hidden layer
    # through the embedding, while the head gets no gradient at all.
    X, y = _multiclass_data()
    clf = CRLClassifier(alpha=1.0, level="instance", max_epochs=1, hidden_layer_sizes=(8,),
                        random_state=0)
    start = CRLClassifier(alpha=1.0, level="instance", max_epochs=0, hidden_layer_sizes=(8,),
                          random_state=0).fit(X, y)
    clf.fit(X, y)
    head0, head1 = start.module_.head.weight, clf.module_.head.weight
    feat0, feat1 = start.module_.features[0].weight, clf.module_.features[0].weight
    assert torch.equal(head0, head1)
    assert not torch.equal(feat0, feat1)


def test_multiclass_still_works():
    X, y = _multiclass_data()
    clf = CRLClassifier(**SMALL).fit(X, y + 10)
    assert not clf.multilabel_
    assert clf.classes_.tolist() == [10, 11, 12]
    assert clf.predict(X).shape == (len(X),)
    np.testing.assert_allclose(clf.predict_proba(X).sum(1), 1, rtol=1e-5)
    assert clf.class_counts_.tolist() == [60, 20, 10]


def test_alpha_auto_uses_the_training_imbalance():
    X, y = _multiclass_data()
    clf = CRLClassifier(alpha="auto", **SMALL).fit(X, y)
    # Default eta 0.1 times Omega = 1 - n_min / n_max of the training split.
    assert clf.alpha_ == pytest.approx(0.1 * (1 - 10 / 60))
    clf = CRLClassifier(alpha="auto", eta=0.6, **SMALL).fit(X, y)
    assert clf.alpha_ == pytest.approx(0.6 * (1 - 10 / 60))
    X, Y = _multilabel_data()
    clf = clone(clf).fit(X, Y)
    assert clf.alpha_ == pytest.approx(crl_imbalance_alpha(clf.class_counts_, eta=0.6))
    # eta only matters for alpha='auto'.
    assert CRLClassifier(alpha=0.3, eta=0.6, **SMALL).fit(X, Y).alpha_ == 0.3


def test_crl_imbalance_alpha():
    assert crl_imbalance_alpha([100, 10], eta=0.5) == pytest.approx(0.45)
    assert crl_imbalance_alpha([[90, 10], [50, 50]]) == pytest.approx((1 - 10 / 90) / 2)
    assert crl_imbalance_alpha([100, 1], eta=5) == 1.0
    with pytest.raises(ValueError):
        crl_imbalance_alpha([3])


@pytest.mark.parametrize("alpha", [-0.1, 1.5, "half", True])
def test_bad_alpha_raises(alpha):
    X, y = _multiclass_data()
    with pytest.raises(ValueError, match="alpha"):
        CRLClassifier(alpha=alpha, **SMALL).fit(X, y)


@pytest.mark.parametrize("eta", [-1.0, "big", True, float("nan")])
def test_bad_eta_raises(eta):
    X, y = _multiclass_data()
    with pytest.raises(ValueError, match="eta"):
        CRLClassifier(alpha="auto", eta=eta, **SMALL).fit(X, y)


def test_instance_level_needs_embedding_protocol():
    X, y = _multiclass_data()
    module = torch.nn.Linear(4, 3)
    with pytest.raises(ValueError, match="embedding protocol"):
        CRLClassifier(module, level="instance", **SMALL).fit(X, y)


def test_validation_loss_and_score_with_instance_level():
    X, Y = _multilabel_data()
    clf = CRLClassifier(level="instance", validation_fraction=0.25, **SMALL).fit(X, Y)
    assert np.isfinite(clf.history[-1, "valid_loss"])
    assert 0 <= clf.history[-1, "valid_bacc"] <= 1
