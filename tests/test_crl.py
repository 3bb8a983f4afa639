"""Tests of CRLClassifier (skimbal/methods/_crl.py, callbacks/_crl.py) and of the
multi-label machinery of the core it relies on."""

import copy
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from skorch.callbacks import Callback

from skimbal import CRLClassifier
from skimbal._core.batch import ModelOutput, Target
from skimbal._core.targets import split_strata
from skimbal.losses import AttributeBCELoss, ClassRectificationLoss, minority_class_mask
from skimbal.losses._crl import CRLCriterion
from skimbal.methods._crl import crl_imbalance_alpha
from skimbal.metrics import (
    mean_attribute_balanced_accuracy,
    mean_attribute_balanced_accuracy_scorer,
)

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
    with pytest.raises(ValueError, match="as in the first fit"):
        clf.partial_fit(X, Y[:, 0])
    clf = CRLClassifier(**SMALL).partial_fit(X, Y[:, 0])
    with pytest.raises(ValueError, match="same kind"):
        clf.partial_fit(X, Y)


def test_rarest_value_strata():
    # Attribute 0: 1 positive of 6 (minority 1); attribute 1: 2 negatives (minority 0).
    Y = np.array([[1, 1], [0, 0], [0, 0], [0, 1], [0, 1], [0, 1]])
    assert split_strata(Y).tolist() == [0, 1, 1, 2, 2, 2]


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
class _BatchProfiles(Callback):
    """Per epoch, the minority and skipped classes of its training batches, profiled anew."""

    def on_epoch_begin(self, net, **kwargs):
        self.epochs_ = getattr(self, "epochs_", []) + [[0, 0]]

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            target = batch[1]
            counts = torch.stack([(target == 0).sum(0), (target == 1).sum(0)], dim=1)
            minority = minority_class_mask(counts, 0.5)
            self.epochs_[-1][0] += int(minority.sum())
            self.epochs_[-1][1] += int((minority & (counts < 2)).sum())


@pytest.mark.parametrize("level", ["class", "instance"])
def test_history_records_mining_counts(level):
    X, Y = _multilabel_data()
    profiles = _BatchProfiles()
    clf = CRLClassifier(level=level, callbacks=[profiles], **SMALL).fit(X, Y)
    for row, (minority, skipped) in zip(clf.history, profiles.epochs_, strict=True):
        assert row["crl_triplets"] > 0
        # Summed over the 4 batches and 3 attributes (an attribute whose batch
        # holds a single value has no minority class there).
        assert row["crl_minority_classes"] == minority >= 3 * 4 - 2
        assert row["crl_skipped_classes"] == skipped
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


class _InitialWeights(Callback):
    """Keep a copy of the module's weights before the first epoch."""

    def on_train_begin(self, net, **kwargs):
        self.state_ = copy.deepcopy(net.module_.state_dict())


def test_instance_level_trains_the_embedding_through_crl():
    # With alpha 1 only CRL trains; at the instance level it reaches the hidden layer
    # through the embedding, while the head gets no gradient at all.
    X, y = _multiclass_data()
    initial = _InitialWeights()
    clf = CRLClassifier(alpha=1.0, level="instance", max_epochs=1, hidden_layer_sizes=(8,),
                        callbacks=[initial], random_state=0).fit(X, y)
    start = initial.state_
    assert torch.equal(start["head.weight"], clf.module_.head.weight)
    assert not torch.equal(start["features.0.weight"], clf.module_.features[0].weight)


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


# ------------------------------------------------------------ new core API
def test_criterion_is_the_alpha_composite_of_the_data_loss_and_crl():
    X, y = _multiclass_data()
    clf = CRLClassifier(alpha=0.3, kappa=2, margin=0.2, **SMALL).fit(X, y)
    assert isinstance(clf.criterion_, CRLCriterion)
    assert isinstance(clf.criterion_.data_loss, torch.nn.CrossEntropyLoss)
    term = clf.criterion_.rectification
    assert (term.kappa, term.margin, clf.criterion_.alpha) == (2, 0.2, 0.3)
    X, Y = _multilabel_data()
    clf = CRLClassifier(**SMALL).fit(X, Y)
    assert isinstance(clf.criterion_.data_loss, AttributeBCELoss)


def test_multilabel_with_balanced_class_weight_weights_the_bce_part():
    X, Y = _multilabel_data()
    clf = CRLClassifier(alpha=0.4, class_weight="balanced", **SMALL).fit(X, Y)
    weight = torch.as_tensor(clf.class_weight_)
    assert clf.class_weight_.shape == (3, 2)
    torch.testing.assert_close(clf.criterion_.data_loss.weight, weight)
    logits = torch.as_tensor(clf.decision_function(X))
    target = torch.as_tensor(Y)
    with torch.no_grad():
        loss = clf.get_loss(logits, target)
        crl = ClassRectificationLoss()(logits, target)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, target.float(), reduction="none"
    )
    w = weight[torch.arange(3), target]
    expected = 0.4 * crl + 0.6 * (w * bce).sum() / w.sum()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert np.all(np.isfinite(clf.history[:, "train_loss"]))
    assert all(row["crl_triplets"] > 0 for row in clf.history)


def test_sample_weight_weights_the_cross_entropy_part_only():
    X, y = _multiclass_data()
    clf = CRLClassifier(alpha=0.3, **SMALL).fit(X, y)
    logits = torch.as_tensor(clf.decision_function(X))
    target = torch.as_tensor(y)
    weight = torch.linspace(0.0, 2.0, len(y))
    with torch.no_grad():
        loss = clf.get_loss(logits, Target(target, weight))
        crl = ClassRectificationLoss()(logits, target)
        ce = torch.nn.functional.cross_entropy(logits, target, reduction="none")
    expected = 0.3 * crl + 0.7 * (weight * ce).sum() / weight.sum()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    fitted = CRLClassifier(**SMALL).fit(X, y, sample_weight=weight.numpy())
    assert np.all(np.isfinite(fitted.history[:, "train_loss"]))


def test_instance_level_loss_needs_the_embedding():
    X, y = _multiclass_data()
    clf = CRLClassifier(level="instance", **SMALL).fit(X, y)
    logits = torch.as_tensor(clf.decision_function(X))
    with pytest.raises(ValueError, match="embedding"):
        clf.get_loss(logits, torch.as_tensor(y))
    with torch.no_grad():
        embedding = clf.module_.forward_features(torch.as_tensor(X, dtype=torch.float32))
        loss = clf.get_loss(ModelOutput(logits, embedding), torch.as_tensor(y))
    assert np.isfinite(loss.item())


def test_statistics_callback_keeps_no_tensors_and_pickles_small():
    X, Y = _multilabel_data(n=2000)
    X = np.tile(X, (1, 20))
    for level in ("class", "instance"):
        clf = CRLClassifier(level=level, validation_fraction=0.2, **SMALL).fit(X, Y)
        for name, callback in clf.callbacks_:
            tensors = [k for k, v in vars(callback).items() if isinstance(v, torch.Tensor)]
            assert not tensors, (name, tensors)
        assert clf.callbacks_[[n for n, _ in clf.callbacks_].index("crl_statistics")][1] \
            .epoch_counts_ is None
        size = len(pickle.dumps(clf))
        assert size < X.nbytes / 4, size
        restored = pickle.loads(pickle.dumps(clf))
        np.testing.assert_array_equal(restored.predict(X), clf.predict(X))


def test_clone_of_a_fitted_estimator_and_statistics_across_partial_fit():
    X, y = _multiclass_data()
    clf = CRLClassifier(alpha="auto", level="instance", **SMALL).fit(X, y)
    other = clone(clf)
    assert other.get_params()["alpha"] == "auto" and not hasattr(other, "alpha_")
    np.testing.assert_array_equal(other.fit(X, y).predict(X), clf.predict(X))
    stepwise = CRLClassifier(level="instance", **{**SMALL, "max_epochs": 1})
    for _ in range(3):
        stepwise.partial_fit(X, y)
    assert len(stepwise.history) == 3
    assert all(row["crl_triplets"] > 0 for row in stepwise.history)


def test_mining_counts_are_zero_without_the_crl_term():
    criterion = CRLCriterion(torch.nn.CrossEntropyLoss(), ClassRectificationLoss(), alpha=0.0)
    logits = torch.tensor([[2.0, 0.0], [1.5, 0.0], [0.0, 1.0], [0.5, 0.0]])
    target = torch.tensor([0, 0, 1, 1])
    loss = criterion(logits, target)
    assert loss.item() == pytest.approx(torch.nn.functional.cross_entropy(logits, target).item())
    assert criterion.mining_counts_.tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="alpha"):
        CRLCriterion(torch.nn.CrossEntropyLoss(), ClassRectificationLoss(), alpha=1.5)
