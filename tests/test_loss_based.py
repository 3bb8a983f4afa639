"""Tests of the loss-based estimators (re-weighting, margins, logit adjustment)."""

import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback

from skimbal import (
    BalancedSoftmaxClassifier,
    ClassBalancedClassifier,
    CrossEntropyClassifier,
    FocalLossClassifier,
    HingeLossClassifier,
    LDAMClassifier,
    LogitAdjustedClassifier,
    MaxMarginClassifier,
    PostHocLogitAdjustedClassifier,
    WeightedCrossEntropyClassifier,
)
from skimbal._core.batch import Target
from skimbal.callbacks import DeferredReweighting
from skimbal.losses import (
    AttributeBCELoss,
    AttributeClassBalancedLoss,
    AttributeFocalLoss,
    effective_number_weights,
    ldam_margins,
)
from skimbal.nn import MLP, NormedLinear

TINY = dict(hidden_layer_sizes=(8,), max_epochs=3, random_state=0)


def long_tailed(counts=(60, 20, 8), seed=0):
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    X = (rng.normal(size=(len(y), 3)) + 2 * y[:, None]).astype(np.float32)
    return X, y


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------- routing
@pytest.mark.parametrize(
    "estimator, expected",
    [
        (FocalLossClassifier(gamma=2.5), {"gamma": 2.5}),
        (ClassBalancedClassifier(beta=0.9, loss_type="focal", gamma=0.5),
         {"beta": 0.9, "loss_type": "focal", "gamma": 0.5}),
        (LDAMClassifier(max_margin=0.3, scale=10.0), {"scale": 10.0}),
        (MaxMarginClassifier(scale=19.0, max_margin=1.29, gamma=1.1),
         {"scale": 19.0, "max_margin": 1.29, "gamma": 1.1}),
        (LogitAdjustedClassifier(tau=0.7), {"tau": 0.7}),
        (HingeLossClassifier(margin=2.0), {"margin": 2.0, "ldam_margins": False}),
    ],
)
def test_hyper_parameters_reach_the_loss(estimator, expected):
    X, y = long_tailed()
    clf = clone(estimator).set_params(**TINY).fit(X, y)
    for name, value in expected.items():
        assert getattr(clf.criterion_, name) == value


def test_criterion_parameters_conflicting_with_the_estimator_raise():
    # The new core refuses a criterion__* parameter that the estimator derives
    # (it used to win silently); other criterion__* parameters still reach the loss.
    X, y = long_tailed()
    with pytest.raises(ValueError, match="criterion__gamma conflicts"):
        FocalLossClassifier(gamma=2.0, criterion__gamma=0.5, **TINY).fit(X, y)
    with pytest.raises(ValueError, match="criterion__scale conflicts"):
        LDAMClassifier(criterion__scale=10.0, **TINY).fit(X, y)
    clf = LDAMClassifier(criterion__reduction="sum", **TINY).fit(X, y)
    assert clf.criterion_.reduction == "sum"


def test_margins_come_from_the_training_counts():
    X, y = long_tailed((60, 20, 8))
    clf = LDAMClassifier(max_margin=0.4, validation_fraction=0.5, **TINY).fit(X, y)
    np.testing.assert_array_equal(clf.class_counts_, [30, 10, 4])
    torch.testing.assert_close(clf.criterion_.margins, ldam_margins([30, 10, 4], 0.4))
    hinge = HingeLossClassifier(ldam_margins=True, max_margin=0.4, **TINY).fit(X, y)
    torch.testing.assert_close(hinge.criterion_.margins, ldam_margins([60, 20, 8], 0.4))


def test_set_params_changes_the_refitted_loss():
    X, y = long_tailed()
    clf = LogitAdjustedClassifier(tau=1.0, **TINY).fit(X, y)
    clf.set_params(tau=0.25).fit(X, y)
    assert clf.criterion_.tau == 0.25
    prior = np.array([60, 20, 8]) / 88
    np.testing.assert_allclose(clf.criterion_.adjustment.numpy(), 0.25 * np.log(prior), rtol=1e-6)


# ------------------------------------------------------------------ focal
def test_focal_binary_alpha_weights():
    X, y = long_tailed((40, 10))
    clf = FocalLossClassifier(alpha=0.75, **TINY).fit(X, y)
    torch.testing.assert_close(clf.criterion_.weight, torch.tensor([0.25, 0.75]))
    clf = FocalLossClassifier(alpha=[1.0, 3.0], **TINY).fit(X, y)
    torch.testing.assert_close(clf.criterion_.weight, torch.tensor([1.0, 3.0]))


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(alpha=0.25), "binary"),
        (dict(alpha=1.5), r"alpha.*\[0(\.0)?, 1(\.0)?\]"),
        (dict(alpha=[1.0, 2.0]), "3 non-negative"),
        (dict(alpha=[1.0, -2.0, 1.0]), "3 non-negative"),
        (dict(alpha=[1.0, 2.0, 1.0], class_weight="balanced"), "class_weight"),
        (dict(gamma=-1.0), "gamma"),
        (dict(drw="yes"), "drw"),
    ],
)
def test_focal_errors(params, match):
    X, y = long_tailed()
    with pytest.raises(ValueError, match=match):
        FocalLossClassifier(**params, **TINY).fit(X, y)


# ---------------------------------------------------------- class-balanced
def test_class_balanced_weights_and_sigmoid_bias():
    X, y = long_tailed((60, 20, 8))
    clf = ClassBalancedClassifier(beta=0.99, **TINY).fit(X, y)
    torch.testing.assert_close(clf.criterion_.weight, effective_number_weights([60, 20, 8], 0.99))
    # max_epochs must be >= 1: a step of 1e-12 leaves the initial bias in place.
    untrained = dict(TINY, max_epochs=1, lr=1e-12)
    sigmoid_head = ClassBalancedClassifier(loss_type="sigmoid", **untrained).fit(X, y)
    torch.testing.assert_close(
        sigmoid_head.module_.head.bias, torch.full((3,), -math.log(2.0))
    )
    softmax_head = ClassBalancedClassifier(**untrained).fit(X, y)
    assert not torch.allclose(softmax_head.module_.head.bias, torch.full((3,), -math.log(2.0)))
    with pytest.raises(ValueError, match="class_weight"):
        ClassBalancedClassifier(class_weight="balanced", **TINY).fit(X, y)


# ------------------------------------------------------------ cosine head
@pytest.mark.parametrize("estimator", [LDAMClassifier, MaxMarginClassifier])
def test_cosine_head_models_report_scaled_cosines(estimator):
    X, y = long_tailed()
    clf = estimator(scale=12.0, **TINY).fit(X, y)
    assert isinstance(clf.module_.head, NormedLinear)
    with torch.no_grad():
        cosines = clf.module_(torch.as_tensor(X)).numpy()
    assert np.abs(cosines).max() <= 1 + 1e-6
    scores = clf.decision_function(X)
    np.testing.assert_allclose(scores, 12.0 * cosines, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(X), softmax(scores), rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), cosines.argmax(1))


@pytest.mark.parametrize("estimator", [LDAMClassifier, MaxMarginClassifier])
def test_cosine_head_models_use_drw_by_default(estimator):
    X, y = long_tailed((60, 20, 8))
    clf = estimator(callbacks__deferred_reweighting__start=1,
                    callbacks__deferred_reweighting__beta=0.99, **TINY).fit(X, y)
    names = dict(clf.callbacks_)
    assert isinstance(names["deferred_reweighting"], DeferredReweighting)
    assert names["deferred_reweighting"].switch_epoch_ == 1
    torch.testing.assert_close(clf.criterion_.weight, effective_number_weights([60, 20, 8], 0.99))
    plain = estimator(drw=False, **TINY).fit(X, y)
    assert "deferred_reweighting" not in dict(plain.callbacks_)
    assert plain.criterion_.weight is None


def test_drw_callback_parameters_are_routed():
    X, y = long_tailed()
    clf = HingeLossClassifier(
        drw=True, callbacks__deferred_reweighting__beta=0.5, **TINY
    ).fit(X, y)
    assert dict(clf.callbacks_)["deferred_reweighting"].beta == 0.5


class RecordClassWeights(Callback):
    """Append the criterion's class weights at the start of every epoch to ``log``."""

    def __init__(self, log):
        self.log = log

    def on_epoch_begin(self, net, **kwargs):
        self.log.append(net.criterion_.weight.detach().clone())


@pytest.mark.parametrize("start, first_weighted", [(2, 2), (0.8, 1)])
def test_drw_switch_follows_the_history_across_partial_fit(start, first_weighted):
    # Every partial_fit call runs max_epochs=1 epoch; the switch is read from the
    # history, so it happens at the same epoch index however the epochs are split.
    # A fractional start refers to the planned epochs of one call (0.8 of 1 -> 1).
    X, y = long_tailed((60, 20, 8))
    log = []
    clf = LDAMClassifier(callbacks=[RecordClassWeights(log)],
                         callbacks__deferred_reweighting__start=start,
                         callbacks__deferred_reweighting__beta=0.99,
                         **dict(TINY, max_epochs=1))
    for _ in range(5):
        clf.partial_fit(X, y)
        assert dict(clf.callbacks_)["deferred_reweighting"].switch_epoch_ == first_weighted
    assert len(clf.history) == len(log) == 5
    for epoch, weight in enumerate(log):
        # The class counts accumulate over the partial_fit calls.
        counts = np.array([60, 20, 8]) * (epoch + 1)
        expected = (torch.ones(3) if epoch < first_weighted
                    else effective_number_weights(counts, 0.99))
        torch.testing.assert_close(weight, expected)


def test_drw_switch_of_a_fit_matches_the_callback_start():
    X, y = long_tailed((60, 20, 8))
    log = []
    LDAMClassifier(callbacks=[RecordClassWeights(log)],
                   callbacks__deferred_reweighting__start=0.6,
                   **dict(TINY, max_epochs=5)).fit(X, y)
    weighted = [not torch.equal(weight, torch.ones(3)) for weight in log]
    assert weighted == [False, False, False, True, True]  # 0.6 of 5 epochs: epoch 3


@pytest.mark.parametrize(
    "estimator",
    [
        FocalLossClassifier(alpha=[1.0, 2.0, 3.0], drw=True),
        LDAMClassifier(class_weight="balanced"),
        MaxMarginClassifier(class_weight={2: 5.0}),
        HingeLossClassifier(drw=True, class_weight="balanced"),
    ],
)
def test_drw_with_class_weights_of_its_own_raises(estimator):
    X, y = long_tailed()
    with pytest.raises(ValueError, match="already has class weights"):
        clone(estimator).set_params(**TINY).fit(X, y)
    # Without DRW the same class weights train.
    if "drw" in estimator.get_params():
        clone(estimator).set_params(drw=False, **TINY).fit(X, y)


@pytest.mark.parametrize("name", ["drw_start", "drw_beta"])
def test_drw_is_configured_on_the_callback_only(name):
    X, y = long_tailed()
    with pytest.raises(ValueError, match=name):
        LDAMClassifier(**{name: 0.5}, **TINY).fit(X, y)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(max_margin=0.0), "max_margin"),
        (dict(scale=-1.0), "scale"),
        (dict(drw="yes"), "drw"),
    ],
)
def test_ldam_errors(params, match):
    X, y = long_tailed()
    with pytest.raises(ValueError, match=match):
        LDAMClassifier(**params, **TINY).fit(X, y)


@pytest.mark.parametrize(
    "estimator, match",
    [
        (MaxMarginClassifier(ldam_offset=-0.5), "ldam_offset"),
        (MaxMarginClassifier(gamma=-1.0), "gamma"),
        (HingeLossClassifier(margin=-1.0), "margin"),
        (HingeLossClassifier(ldam_margins="yes"), "ldam_margins"),
        (HingeLossClassifier(max_margin=0.0), "max_margin"),
    ],
)
def test_margin_parameter_errors(estimator, match):
    X, y = long_tailed()
    with pytest.raises(ValueError, match=match):
        clone(estimator).set_params(**TINY).fit(X, y)


def test_cosine_head_needs_the_embedding_protocol():
    X, y = long_tailed()
    with pytest.raises(ValueError, match="embedding protocol"):
        LDAMClassifier(module=torch.nn.Linear, module__in_features=3,
                       module__out_features=3, **TINY).fit(X, y)


# ------------------------------------------------------- logit adjustment
@pytest.mark.parametrize("estimator", [LogitAdjustedClassifier, BalancedSoftmaxClassifier])
def test_logit_adjusted_models_predict_with_raw_logits(estimator):
    X, y = long_tailed()
    clf = estimator(**TINY).fit(X, y)
    with torch.no_grad():
        logits = clf.module_(torch.as_tensor(X)).numpy()
    np.testing.assert_allclose(clf.decision_function(X), logits, rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), logits.argmax(1))


def test_balanced_softmax_equals_logit_adjusted_with_tau_one():
    X, y = long_tailed()
    a = BalancedSoftmaxClassifier(**TINY).fit(X, y)
    b = LogitAdjustedClassifier(tau=1.0, **TINY).fit(X, y)
    np.testing.assert_allclose(a.decision_function(X), b.decision_function(X), rtol=1e-5)


def test_post_hoc_tau_zero_reproduces_cross_entropy():
    X, y = long_tailed()
    ce = CrossEntropyClassifier(**TINY).fit(X, y)
    post_hoc = PostHocLogitAdjustedClassifier(tau=0.0, **TINY).fit(X, y)
    assert post_hoc.tau_ == 0.0
    np.testing.assert_array_equal(post_hoc.predict(X), ce.predict(X))
    np.testing.assert_allclose(post_hoc.predict_proba(X), ce.predict_proba(X), rtol=1e-6)


def test_post_hoc_adjusts_the_cross_entropy_logits():
    X, y = long_tailed((60, 20, 8))
    ce = CrossEntropyClassifier(**TINY).fit(X, y)
    post_hoc = PostHocLogitAdjustedClassifier(tau=1.5, **TINY).fit(X, y)
    adjusted = ce.decision_function(X) - 1.5 * np.log(np.array([60, 20, 8]) / 88)
    np.testing.assert_allclose(post_hoc.decision_function(X), adjusted, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(post_hoc.predict_proba(X), softmax(adjusted), rtol=1e-4)
    np.testing.assert_array_equal(post_hoc.predict(X), adjusted.argmax(1))


class RecordingMLP(MLP):
    """The default MLP, recording every input it is given."""

    inputs = []

    def forward(self, x):
        RecordingMLP.inputs.append(x.detach().clone().numpy())
        return super().forward(x)


def test_post_hoc_auto_tau_uses_only_a_holdout_of_the_training_data():
    X, y = long_tailed((60, 20, 10))
    grid = [0.0, 0.5, 1.0, 2.0]
    RecordingMLP.inputs = []
    clf = PostHocLogitAdjustedClassifier(
        module=RecordingMLP, tau="auto", tau_grid=grid, tau_refit=False, **TINY
    ).fit(X, y)
    label_of = {row.tobytes(): label for row, label in zip(X, y, strict=True)}
    # Everything the network saw during fit is a row of the training data.
    assert all(row.tobytes() in label_of for batch in RecordingMLP.inputs for row in batch)
    # The last pass is the tau selection on 20 % of every class, held out of training.
    holdout = RecordingMLP.inputs[-1]
    assert len(holdout) == 12 + 4 + 2
    np.testing.assert_array_equal(clf.class_counts_, [48, 16, 8])
    labels = np.array([label_of[row.tobytes()] for row in holdout])
    np.testing.assert_array_equal(np.bincount(labels), [12, 4, 2])
    with torch.no_grad():
        raw = clf.module_.forward_head(clf.module_.forward_features(torch.as_tensor(holdout)))
    log_prior = np.log(clf.class_prior_)
    scores = [balanced_accuracy_score(labels, (raw.numpy() - t * log_prior).argmax(1))
              for t in grid]
    np.testing.assert_allclose(clf.tau_scores_, scores)
    assert scores[grid.index(clf.tau_)] == max(scores)


def test_post_hoc_auto_refits_on_all_the_training_data():
    X, y = long_tailed((60, 20, 10))
    grid = [0.0, 0.5, 1.0, 2.0]
    kept = PostHocLogitAdjustedClassifier(
        tau="auto", tau_grid=grid, tau_refit=False, **TINY
    ).fit(X, y)
    refit = PostHocLogitAdjustedClassifier(tau="auto", tau_grid=grid, **TINY).fit(X, y)
    # The same choice, made on the same holdout by the same first network ...
    assert refit.tau_ == kept.tau_
    np.testing.assert_array_equal(refit.tau_scores_, kept.tau_scores_)
    # ... then the network of a plain fit on every training row, adjusted by tau_
    # and the prior of all the training data.
    np.testing.assert_array_equal(refit.class_counts_, [60, 20, 10])
    ce = CrossEntropyClassifier(**TINY).fit(X, y)
    adjusted = ce.decision_function(X) - refit.tau_ * np.log(np.array([60, 20, 10]) / 90)
    np.testing.assert_allclose(refit.decision_function(X), adjusted, rtol=1e-5, atol=1e-5)
    assert "_holdout_index" not in vars(refit) and "_refitting" not in vars(refit)


def test_post_hoc_partial_fit_never_refits():
    X, y = long_tailed((60, 20, 10))
    clf = PostHocLogitAdjustedClassifier(tau="auto", **TINY).fit(X, y)
    # The refit trained on every row: no held-out (validation) rows in its epochs.
    assert "valid_loss" not in clf.history[-1]
    n_epochs = len(clf.history)
    clf.partial_fit(X, y)
    # partial_fit continues training on 80 % and re-selects tau on the other 20 %.
    assert len(clf.history) == n_epochs + TINY["max_epochs"]
    assert "valid_loss" in clf.history[-1]


def test_post_hoc_auto_uses_the_validation_split_when_given():
    X, y = long_tailed((60, 20, 10))
    RecordingMLP.inputs = []
    clf = PostHocLogitAdjustedClassifier(
        module=RecordingMLP, tau="auto", validation_fraction=0.5, **TINY
    ).fit(X, y)
    assert len(RecordingMLP.inputs[-1]) == 30 + 10 + 5
    np.testing.assert_array_equal(clf.class_counts_, [30, 10, 5])
    assert clf.tau_scores_.shape == (21,)


def test_post_hoc_ties_go_to_the_value_closest_to_one():
    X, y = long_tailed()
    # Temperatures this close give the same predictions, hence equal scores.
    grid = [0.999999, 1.000002, 1.000001]
    clf = PostHocLogitAdjustedClassifier(tau="auto", tau_grid=grid, **TINY).fit(X, y)
    assert np.unique(clf.tau_scores_).size == 1
    assert clf.tau_ == 1.000001


def test_post_hoc_warm_start_and_partial_fit_choose_tau_without_refit():
    X, y = long_tailed((60, 20, 10))
    clf = PostHocLogitAdjustedClassifier(tau="auto", tau_grid=[0.0, 1.0], **TINY).fit(X, y)
    assert len(clf.history) == TINY["max_epochs"]  # the refit's history
    clf.set_params(warm_start=True).fit(X, y)
    # A warm-start fit continues the same network on 80 % and chooses again.
    assert len(clf.history) == 2 * TINY["max_epochs"]
    assert "valid_loss" in clf.history[-1] and clf.tau_ in (0.0, 1.0)
    np.testing.assert_array_equal(clf.class_counts_, [48, 16, 8])


def test_post_hoc_leaves_classes_absent_from_training_unadjusted():
    X, y = long_tailed((60, 20, 8))
    clf = PostHocLogitAdjustedClassifier(tau=1.0, classes=[0, 1, 2, 3], **TINY).fit(X, y)
    np.testing.assert_array_equal(clf.class_counts_, [60, 20, 8, 0])
    with torch.no_grad():
        raw = clf.module_(torch.as_tensor(X)).numpy()
    adjusted = clf.decision_function(X)
    assert np.all(np.isfinite(adjusted))
    np.testing.assert_allclose(adjusted[:, 3], raw[:, 3], rtol=1e-6)
    np.testing.assert_allclose(adjusted[:, :3], raw[:, :3] - np.log([60 / 88, 20 / 88, 8 / 88]),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(tau=-0.5), "tau"),
        (dict(tau="best"), "tau"),
        (dict(tau="auto", tau_grid=[]), "tau_grid"),
        (dict(tau="auto", tau_grid=[1.0, -1.0]), "tau_grid"),
        (dict(tau="auto", tau_refit=1), "tau_refit"),
    ],
)
def test_post_hoc_errors(params, match):
    X, y = long_tailed()
    with pytest.raises(ValueError, match=match):
        PostHocLogitAdjustedClassifier(**params, **TINY).fit(X, y)


def test_post_hoc_auto_needs_held_out_samples():
    X, y = long_tailed((4, 3))
    with pytest.raises(ValueError, match="held-out"):
        PostHocLogitAdjustedClassifier(tau="auto", **TINY).fit(X, y)


# ------------------------------------------- re-balancing beats plain CE
def long_tailed_problem(seed, imbalance_ratio=50, n_max=400, n_test=200, n_classes=5):
    """Well-separated clusters, exponential long tail, balanced test set."""
    X, y = make_classification(
        n_samples=3 * n_classes * (n_max + n_test), n_features=10, n_informative=6,
        n_redundant=0, n_classes=n_classes, n_clusters_per_class=1, class_sep=1.0,
        flip_y=0, random_state=seed,
    )
    rng = np.random.RandomState(seed)
    train, test = [], []
    for j in range(n_classes):
        rows = rng.permutation(np.flatnonzero(y == j))
        n_j = int(n_max * (1 / imbalance_ratio) ** (j / (n_classes - 1)))
        train.append(rows[:n_j])
        test.append(rows[n_j:n_j + n_test])
    train, test = np.concatenate(train), np.concatenate(test)
    scaler = StandardScaler().fit(X[train])
    return scaler.transform(X[train]), y[train], scaler.transform(X[test]), y[test]


REBALANCING = {
    "focal-drw": lambda **p: FocalLossClassifier(drw=True, **p),
    "class-balanced": lambda **p: ClassBalancedClassifier(**p),
    "ldam-drw": lambda **p: LDAMClassifier(**p),
    "max-margin-drw": lambda **p: MaxMarginClassifier(**p),
    "logit-adjusted": lambda **p: LogitAdjustedClassifier(**p),
    "balanced-softmax": lambda **p: BalancedSoftmaxClassifier(**p),
    "post-hoc": lambda **p: PostHocLogitAdjustedClassifier(**p),
    "post-hoc-auto": lambda **p: PostHocLogitAdjustedClassifier(tau="auto", **p),
    "hinge-ldam-drw": lambda **p: HingeLossClassifier(ldam_margins=True, drw=True, **p),
}


@pytest.mark.slow
def test_every_rebalancing_loss_beats_cross_entropy_on_a_long_tail():
    # IR 50 (train counts 400 150 56 21 8), 5 well separated classes, a balanced
    # test set of 200 per class; mean balanced accuracy over three seeds. CE
    # measured about 0.67, the re-balancing losses 0.72 to 0.77.
    params = dict(max_epochs=20, lr=1e-2, hidden_layer_sizes=(32,), batch_size=64)
    scores = {name: [] for name in ["ce", *REBALANCING]}
    for seed in range(3):
        X, y, X_test, y_test = long_tailed_problem(seed)
        factories = {"ce": lambda **p: CrossEntropyClassifier(**p), **REBALANCING}
        for name, factory in factories.items():
            clf = factory(random_state=seed, **params).fit(X, y)
            scores[name].append(balanced_accuracy_score(y_test, clf.predict(X_test)))
    ce = np.mean(scores["ce"])
    for name in REBALANCING:
        assert np.mean(scores[name]) > ce + 0.03, (name, scores[name], scores["ce"])


def test_post_hoc_auto_with_sample_weight_scores_the_holdout():
    # The holdout is skorch's validation split: its scoring must cope with the
    # dict targets of the sample-weight path.
    X, y = long_tailed((60, 20, 10))
    weights = np.where(y == 0, 0.5, 2.0)
    clf = PostHocLogitAdjustedClassifier(tau="auto", tau_refit=False, **TINY)
    clf.fit(X, y, sample_weight=weights)
    assert 0.0 <= clf.history[-1, "valid_bacc"] <= 1.0
    assert clf.tau_ in np.round(np.linspace(0, 2, 21), 10)


def test_post_hoc_auto_tau_on_a_dataframe_raises_no_feature_name_warning():
    import warnings

    import pandas as pd

    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.randn(200, 3), columns=list("abc"))
    y = pd.Series(np.r_[np.zeros(170, int), np.ones(30, int)])
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*feature names.*")
        clf = PostHocLogitAdjustedClassifier(tau="auto", max_epochs=2, random_state=0).fit(X, y)
    assert clf.tau_ >= 0


# -------------------------------------------------- clone and pickle when fitted
@pytest.mark.parametrize(
    "estimator",
    [
        LDAMClassifier(),
        MaxMarginClassifier(ldam_offset=True),
        HingeLossClassifier(ldam_margins=True, drw=True),
        LogitAdjustedClassifier(),
        BalancedSoftmaxClassifier(),
        PostHocLogitAdjustedClassifier(tau="auto"),
    ],
    ids=lambda estimator: type(estimator).__name__,
)
def test_fitted_estimators_clone_and_pickle_without_the_training_data(estimator):
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [2400, 1000, 600])
    X = (rng.normal(size=(len(y), 20)) + y[:, None]).astype(np.float32)  # 320 kB
    clf = clone(estimator).set_params(**dict(TINY, max_epochs=1)).fit(X, y)
    fresh = clone(clf)
    assert fresh.get_params().keys() == clf.get_params().keys()
    assert not any(name in vars(fresh) for name in ("module_", "criterion_", "classes_"))
    blob = pickle.dumps(clf)
    assert len(blob) < X.nbytes / 10
    loaded = pickle.loads(blob)
    np.testing.assert_array_equal(loaded.predict(X[:100]), clf.predict(X[:100]))
    np.testing.assert_allclose(loaded.decision_function(X[:100]),
                               clf.decision_function(X[:100]), rtol=1e-6)


# ------------------------------------------------- multi-label re-weighting family
def attributes(n=120, seed=0):
    """Three attributes of increasing rarity, each a threshold of one feature."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    Y = np.c_[X[:, 0] > 0, X[:, 1] > 1.0, X[:, 2] > 1.5].astype(np.int64)
    return X, Y


def test_weighted_cross_entropy_weights_each_attribute():
    X, Y = attributes()
    clf = WeightedCrossEntropyClassifier(**TINY).fit(X, Y)
    counts = np.stack([len(Y) - Y.sum(0), Y.sum(0)], axis=1)
    np.testing.assert_array_equal(clf.class_counts_, counts)
    inverse = 1.0 / counts
    np.testing.assert_allclose(clf.class_weight_, 2 * inverse / inverse.sum(1, keepdims=True),
                               rtol=1e-6)
    assert isinstance(clf.criterion_, AttributeBCELoss)
    torch.testing.assert_close(clf.criterion_.weight, torch.as_tensor(clf.class_weight_))
    assert clf.predict(X).shape == Y.shape


def test_focal_multilabel_is_sigmoid_focal_with_alpha_per_attribute():
    X, Y = attributes()
    clf = FocalLossClassifier(gamma=2.0, alpha=0.25, **TINY).fit(X, Y)
    assert isinstance(clf.criterion_, AttributeFocalLoss) and clf.criterion_.gamma == 2.0
    torch.testing.assert_close(clf.criterion_.weight, torch.tensor([[0.75, 0.25]] * 3))
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape and ((proba >= 0) & (proba <= 1)).all()
    alpha = [[1.0, 2.0], [1.0, 3.0], [1.0, 4.0]]
    clf = FocalLossClassifier(alpha=alpha, **TINY).fit(X, Y)
    torch.testing.assert_close(clf.criterion_.weight, torch.tensor(alpha))
    balanced = FocalLossClassifier(class_weight="balanced", **TINY).fit(X, Y)
    torch.testing.assert_close(balanced.criterion_.weight, torch.as_tensor(balanced.class_weight_))
    assert FocalLossClassifier(**TINY).fit(X, Y).criterion_.weight is None
    with pytest.raises(ValueError, match=r"shape \(3, 2\)"):
        FocalLossClassifier(alpha=[1.0, 2.0], **TINY).fit(X, Y)
    with pytest.raises(ValueError, match="drw=True needs one label per sample"):
        FocalLossClassifier(drw=True, **TINY).fit(X, Y)
    assert not FocalLossClassifier(drw=True).__sklearn_tags__().classifier_tags.multi_label
    assert FocalLossClassifier().__sklearn_tags__().classifier_tags.multi_label


def test_class_balanced_multilabel_weights_from_the_training_split():
    X, Y = attributes(200)
    clf = ClassBalancedClassifier(beta=0.99, loss_type="focal", validation_fraction=0.25,
                                  **TINY).fit(X, Y)
    assert isinstance(clf.criterion_, AttributeClassBalancedLoss)
    train = np.setdiff1d(np.arange(len(Y)), clf._split(np.asarray(Y))[1])
    assert len(train) < len(Y)  # the training part only
    np.testing.assert_array_equal(clf.class_counts_[:, 1], Y[train].sum(0))
    expected = torch.stack([effective_number_weights(row, beta=0.99) for row in clf.class_counts_])
    torch.testing.assert_close(clf.criterion_.weight, expected)
    # The sigmoid head of a binary problem starts at the prior bias of two classes: 0.
    untrained = dict(TINY, max_epochs=1, lr=1e-12)
    head = ClassBalancedClassifier(loss_type="sigmoid", **untrained).fit(X, Y).module_.head
    torch.testing.assert_close(head.bias, torch.zeros(3))
    softmax = ClassBalancedClassifier(**TINY).fit(X, Y)
    assert softmax.criterion_.loss_type == "softmax" and softmax.criterion_.gamma == 0.0
    assert softmax.predict(X).shape == Y.shape


@pytest.mark.parametrize("multilabel", [False, True])
def test_class_balanced_sample_weight_keeps_the_batch_normalisation(multilabel):
    X, y = long_tailed((60, 20, 8))
    Y = attributes(len(y))[1] if multilabel else y
    clf = ClassBalancedClassifier(beta=0.99, loss_type="sigmoid", **TINY).fit(X, Y)
    logits = clf.module_(torch.as_tensor(X[:16]))
    target = torch.as_tensor(Y[:16])
    sample_weight = torch.linspace(0.5, 2.0, 16)
    loss = clf.get_loss(logits, Target(target, sample_weight=sample_weight))
    clf.criterion_.reduction = "none"
    per_sample = clf.criterion_(logits, target).reshape(16, -1).mean(1)
    expected = (per_sample * sample_weight).sum() / sample_weight.sum()
    torch.testing.assert_close(loss, expected)
    # Unit sample weights give the unweighted loss: the authors' sum w l / N.
    clf.criterion_.reduction = "mean"
    torch.testing.assert_close(clf.get_loss(logits, Target(target, sample_weight=torch.ones(16))),
                               clf.criterion_(logits, target))
