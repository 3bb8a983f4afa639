"""Behaviour of the shared base estimator (labels, validation, statistics, weights)."""

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import make_pipeline as make_imblearn_pipeline
from imblearn.under_sampling import RandomUnderSampler
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback

from skimbal import (
    CrossEntropyClassifier,
    ImbalancedNetClassifier,
    WeightedCrossEntropyClassifier,
)
from skimbal._core.reduction import sample_weighted_loss
from skimbal._core.schedule import auto_max_epochs, resolve_max_epochs
from skimbal.callbacks import DeferredReweighting
from skimbal.nn import MLP

SMALL = dict(max_epochs=5, hidden_layer_sizes=(8,), random_state=0)


@pytest.fixture(scope="module")
def imbalanced():
    X, y = make_classification(
        n_samples=300,
        n_features=6,
        n_informative=4,
        n_classes=3,
        weights=[0.7, 0.2, 0.1],
        random_state=0,
    )
    return X, y


def test_string_labels_round_trip(imbalanced):
    X, y = imbalanced
    labels = np.array(["cat", "dog", "eel"])[y]
    clf = CrossEntropyClassifier(**SMALL).fit(X, labels)
    assert clf.classes_.tolist() == ["cat", "dog", "eel"]
    assert set(clf.predict(X)) <= {"cat", "dog", "eel"}
    assert clf.predict(X).dtype == labels.dtype


def test_integer_labels_not_starting_at_zero(imbalanced):
    X, y = imbalanced
    shifted = y * 10 + 7
    clf = CrossEntropyClassifier(**SMALL).fit(X, shifted)
    np.testing.assert_array_equal(clf.classes_, [7, 17, 27])
    np.testing.assert_array_equal(clf.class_counts_, np.bincount(y))
    assert set(clf.predict(X)) <= {7, 17, 27}


def test_predict_proba_rows_sum_to_one_and_match_predict(imbalanced):
    X, y = imbalanced
    clf = CrossEntropyClassifier(**SMALL).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(1)], clf.predict(X))


def test_binary_decision_function_is_logit_difference(imbalanced):
    X, y = imbalanced
    binary = (y == 2).astype(int)
    clf = CrossEntropyClassifier(**SMALL).fit(X, binary)
    scores = clf.decision_function(X)
    assert scores.shape == (len(X),)
    np.testing.assert_array_equal(clf.predict(X), (scores > 0).astype(int))


def test_pandas_input_records_feature_names(imbalanced):
    X, y = imbalanced
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    target = pd.Series(pd.Categorical(np.array(["a", "b", "c"])[y]))
    clf = CrossEntropyClassifier(**SMALL).fit(frame, target)
    assert clf.n_features_in_ == 6
    assert clf.feature_names_in_.tolist() == list(frame.columns)
    assert clf.predict(frame).shape == (len(X),)


def test_list_input(imbalanced):
    X, y = imbalanced
    clf = CrossEntropyClassifier(**SMALL).fit(X.tolist(), y.tolist())
    assert clf.n_features_in_ == 6


def test_module_sized_from_data(imbalanced):
    X, y = imbalanced
    clf = CrossEntropyClassifier(**SMALL).fit(X, y)
    assert isinstance(clf.module_, MLP)
    assert clf.module_.features[0].in_features == 6
    assert clf.module_.head.out_features == 3
    assert clf.module_.head.in_features == 8


def test_module_instance_is_copied_not_trained(imbalanced):
    X, y = imbalanced
    module = MLP(6, 3, hidden_layer_sizes=(4,))
    before = [p.detach().clone() for p in module.parameters()]
    clf = CrossEntropyClassifier(module, max_epochs=3, random_state=0).fit(X, y)
    assert clf.module_ is not module
    for old, new in zip(before, module.parameters(), strict=True):
        assert torch.equal(old, new)


@pytest.mark.parametrize(
    "X_bad, message",
    [
        (np.full((10, 3), np.nan), "NaN"),
        (np.full((10, 3), np.inf), "infinity"),
        (np.zeros((0, 3)), "0 sample"),
    ],
)
def test_bad_X_raises_value_error(X_bad, message):
    y = np.arange(len(X_bad)) % 2
    with pytest.raises(ValueError, match=message):
        CrossEntropyClassifier(**SMALL).fit(X_bad, y)


def test_single_class_raises():
    with pytest.raises(ValueError, match="at least 2 classes"):
        CrossEntropyClassifier(**SMALL).fit(np.zeros((5, 2)), np.ones(5))


def test_wrong_feature_count_at_predict(imbalanced):
    X, y = imbalanced
    clf = CrossEntropyClassifier(**SMALL).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :4])


def test_regression_target_raises():
    with pytest.raises(ValueError, match="Unknown label type"):
        CrossEntropyClassifier(**SMALL).fit(np.zeros((5, 2)), np.linspace(0, 1, 5))


def test_sparse_X_raises(imbalanced):
    from scipy import sparse

    X, y = imbalanced
    with pytest.raises(TypeError, match="dense data is required"):
        CrossEntropyClassifier(**SMALL).fit(sparse.csr_matrix(X), y)


def test_unseen_labels_at_score_fail_loudly(imbalanced):
    X, y = imbalanced
    clf = CrossEntropyClassifier(**SMALL).fit(X, y)
    # score compares with labels never seen in fit: they simply count as errors
    assert clf.score(X, y + 100) == 0.0


# ------------------------------------------------------------- class statistics
def test_class_statistics_come_from_the_training_split_only(imbalanced):
    X, y = imbalanced
    full = np.bincount(y)
    clf = CrossEntropyClassifier(validation_fraction=0.2, **SMALL).fit(X, y)
    expected_train = full - np.floor(0.2 * full).astype(int)
    np.testing.assert_array_equal(clf.class_counts_, expected_train)
    np.testing.assert_allclose(clf.class_prior_, expected_train / expected_train.sum())
    assert "valid_loss" in clf.history[-1]
    assert 0.0 <= clf.history[-1, "valid_bacc"] <= 1.0


def test_validation_split_never_starves_a_tiny_class():
    rng = np.random.RandomState(0)
    X = rng.randn(53, 2)
    y = np.r_[np.zeros(50, int), np.ones(3, int)]
    clf = CrossEntropyClassifier(validation_fraction=0.2, **SMALL).fit(X, y)
    # floor(0.2 * 3) = 0: the minority class stays whole in training
    np.testing.assert_array_equal(clf.class_counts_, [40, 3])


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, "0.2"])
def test_bad_validation_fraction(imbalanced, fraction):
    X, y = imbalanced
    with pytest.raises(ValueError, match="validation_fraction"):
        CrossEntropyClassifier(validation_fraction=fraction, **SMALL).fit(X, y)


class _RecordingLoss(torch.nn.CrossEntropyLoss):
    """Cross-entropy that keeps the class counts it was built with."""

    def __init__(self, class_counts=None, weight=None, reduction="mean"):
        super().__init__(weight=weight, reduction=reduction)
        self.class_counts = class_counts


def test_criterion_receives_training_counts_and_weights(imbalanced):
    X, y = imbalanced
    clf = ImbalancedNetClassifier(
        criterion=_RecordingLoss, class_weight="balanced", validation_fraction=0.5, **SMALL
    ).fit(X, y)
    np.testing.assert_array_equal(clf.criterion_.class_counts.numpy(), clf.class_counts_)
    np.testing.assert_allclose(clf.criterion_.weight.numpy(), clf.class_weight_)


def test_balanced_class_weight_values(imbalanced):
    X, y = imbalanced
    clf = WeightedCrossEntropyClassifier(**SMALL).fit(X, y)
    counts = np.bincount(y)
    expected = (1 / counts) / (1 / counts).sum() * 3
    np.testing.assert_allclose(clf.class_weight_, expected, rtol=1e-6)
    assert clf.class_weight_.sum() == pytest.approx(3.0)


def test_dict_class_weight_by_original_label(imbalanced):
    X, y = imbalanced
    labels = np.array(["a", "b", "c"])[y]
    clf = CrossEntropyClassifier(class_weight={"c": 5.0}, **SMALL).fit(X, labels)
    np.testing.assert_array_equal(clf.class_weight_, [1.0, 1.0, 5.0])
    with pytest.raises(ValueError, match="not in the training classes"):
        CrossEntropyClassifier(class_weight={"zzz": 2.0}, **SMALL).fit(X, labels)
    with pytest.raises(ValueError, match="'class_weight' parameter"):
        CrossEntropyClassifier(class_weight="inverse", **SMALL).fit(X, labels)


# --------------------------------------------------------------- sample weights
def test_weighted_mean_matches_torch_weighted_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(7, 3)
    target = torch.tensor([0, 1, 2, 2, 1, 0, 2])
    weight = torch.tensor([0.5, 1.0, 3.0])
    criterion = torch.nn.CrossEntropyLoss(weight=weight)
    value = sample_weighted_loss(criterion, logits, target, torch.ones(7))
    expected = torch.nn.functional.cross_entropy(logits, target, weight=weight)
    assert torch.allclose(value, expected)
    assert criterion.reduction == "mean"  # restored
    # with sample weights: sum(w_c * s * l) / sum(w_c * s)
    sample_weight = torch.tensor([1.0, 2.0, 0.0, 1.0, 1.0, 3.0, 0.5])
    value = sample_weighted_loss(criterion, logits, target, sample_weight)
    per_sample = torch.nn.functional.cross_entropy(logits, target, reduction="none")
    w = weight[target] * sample_weight
    assert torch.allclose(value, (w * per_sample).sum() / w.sum())


def test_zero_sample_weight_removes_samples(imbalanced):
    X, y = imbalanced
    keep = np.arange(len(y)) % 3 != 0
    params = dict(SMALL, batch_size=len(y))  # one full batch: identical gradients
    weighted = CrossEntropyClassifier(**params).fit(X, y, sample_weight=keep.astype(float))
    # Removing the rows changes the batch composition but not a full-batch gradient
    dropped = CrossEntropyClassifier(**dict(params, batch_size=int(keep.sum()))).fit(
        X[keep], y[keep]
    )
    np.testing.assert_allclose(
        weighted.predict_proba(X), dropped.predict_proba(X), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize(
    "sample_weight, message",
    [
        (np.ones(5), "sample_weight"),
        (-np.ones(300), "Negative values"),
        (np.zeros(300), "non-zero"),
    ],
)
def test_bad_sample_weight(imbalanced, sample_weight, message):
    X, y = imbalanced
    with pytest.raises(ValueError, match=message):
        CrossEntropyClassifier(**SMALL).fit(X, y, sample_weight=sample_weight)


# ------------------------------------------------------------------ determinism
def test_same_seed_same_predictions(imbalanced):
    X, y = imbalanced
    first = CrossEntropyClassifier(**SMALL).fit(X, y).predict_proba(X)
    second = CrossEntropyClassifier(**SMALL).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    other = CrossEntropyClassifier(**dict(SMALL, random_state=1)).fit(X, y).predict_proba(X)
    assert not np.array_equal(first, other)


def test_fit_restores_global_torch_rng(imbalanced):
    X, y = imbalanced
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    CrossEntropyClassifier(**SMALL).fit(X, y)
    assert torch.equal(torch.rand(3), expected)


# ------------------------------------------------------- sklearn / imblearn glue
def test_pipeline_and_grid_search_in_parallel(imbalanced):
    X, y = imbalanced
    pipe = make_pipeline(StandardScaler(), CrossEntropyClassifier(**SMALL))
    search = GridSearchCV(
        pipe,
        {
            "crossentropyclassifier__lr": [1e-3, 1e-2],
            "crossentropyclassifier__class_weight": [None, "balanced"],
        },
        cv=2,
        scoring="balanced_accuracy",
        n_jobs=2,
    ).fit(X, y)
    assert set(search.cv_results_["params"][0]) == {
        "crossentropyclassifier__lr",
        "crossentropyclassifier__class_weight",
    }
    assert search.best_estimator_.predict(X).shape == (len(X),)


@pytest.mark.parametrize("sampler", [SMOTE(random_state=0), RandomUnderSampler(random_state=0)])
def test_imblearn_pipeline_resamples_before_the_net(imbalanced, sampler):
    X, y = imbalanced
    pipe = make_imblearn_pipeline(StandardScaler(), sampler, CrossEntropyClassifier(**SMALL))
    pipe.fit(X, y)
    counts = pipe[-1].class_counts_
    assert counts.min() == counts.max()  # the net saw balanced classes
    assert pipe.predict(X).shape == (len(X),)


def test_clone_keeps_parameters_and_drops_state(imbalanced):
    X, y = imbalanced
    clf = CrossEntropyClassifier(module__dropout=0.1, optimizer__weight_decay=1e-4, **SMALL)
    clf.fit(X, y)
    copy = clone(clf)
    assert copy.get_params()["module__dropout"] == 0.1
    assert copy.get_params()["optimizer__weight_decay"] == 1e-4
    assert not hasattr(copy, "module_")
    assert not hasattr(copy, "classes_")


@pytest.mark.parametrize("dumps, loads", [(pickle.dumps, pickle.loads), ("joblib", "joblib")])
def test_persistence_round_trip(imbalanced, tmp_path, dumps, loads):
    X, y = imbalanced
    clf = CrossEntropyClassifier(**SMALL).fit(X, y)
    if dumps == "joblib":
        joblib.dump(clf, tmp_path / "clf.joblib")
        restored = joblib.load(tmp_path / "clf.joblib")
    else:
        restored = loads(dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(restored.classes_, clf.classes_)


def test_nested_set_params_reach_module_optimizer_and_lr(imbalanced):
    X, y = imbalanced
    clf = CrossEntropyClassifier(**SMALL)
    clf.set_params(module__hidden_layer_sizes=(5, 4), optimizer__weight_decay=0.01, lr=0.02)
    clf.fit(X, y)
    assert clf.module_.head.in_features == 4
    group = clf.optimizer_.param_groups[0]
    assert group["weight_decay"] == 0.01
    assert group["lr"] == 0.02


def test_train_split_is_refused(imbalanced):
    X, y = imbalanced
    with pytest.raises(ValueError, match="validation_fraction"):
        CrossEntropyClassifier(train_split=lambda ds, y: (ds, None), **SMALL).fit(X, y)


def test_callbacks_see_the_data_given_to_fit_and_the_split(imbalanced):
    from skorch.callbacks import Callback

    seen = {}

    class Spy(Callback):
        def on_train_begin(self, net, X=None, y=None, **kwargs):
            seen["X"] = X

        def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
            seen["parts"] = len(dataset_train), len(dataset_valid)

    X, y = imbalanced
    CrossEntropyClassifier(callbacks=[Spy()], validation_fraction=0.2, **SMALL).fit(X, y)
    # on_train_begin sees X as given to fit (validated), as in skorch
    assert seen["X"].shape == X.shape
    n_train, n_valid = seen["parts"]
    assert n_train + n_valid == len(y)


def test_warm_start_continues_training(imbalanced):
    X, y = imbalanced
    clf = CrossEntropyClassifier(warm_start=True, **SMALL).fit(X, y)
    clf.fit(X, y)
    assert len(clf.history) == 2 * SMALL["max_epochs"]


def test_device_auto_resolves_and_is_kept_as_parameter(imbalanced):
    X, y = imbalanced
    clf = CrossEntropyClassifier(device="auto", **SMALL).fit(X, y)
    assert clf.device == "auto"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(clf.module_.parameters()).device.type == expected
    restored = pickle.loads(pickle.dumps(clf))
    assert restored.device == "auto"
    np.testing.assert_array_equal(restored.predict(X), clf.predict(X))


def test_progress_bar_and_epoch_table(imbalanced, capsys):
    X, y = imbalanced
    CrossEntropyClassifier(verbose=1, **SMALL).fit(X, y)
    out = capsys.readouterr().out
    assert "train_loss" in out and "epoch" in out
    clf = CrossEntropyClassifier(progress_bar=True, **SMALL)
    assert "progress_bar" in dict(clf.get_default_callbacks())


def test_sample_weight_with_validation_split(imbalanced):
    X, y = imbalanced
    weights = np.where(y == 2, 3.0, 1.0)
    clf = CrossEntropyClassifier(validation_fraction=0.2, **SMALL)
    clf.fit(X, y, sample_weight=weights)
    assert 0.0 <= clf.history[-1, "valid_bacc"] <= 1.0
    assert np.isfinite(clf.history[-1, "valid_loss"])


def test_same_seed_same_predictions_across_processes(imbalanced):
    import subprocess
    import sys

    X, y = imbalanced
    code = (
        "import numpy as np, sys\n"
        "from sklearn.datasets import make_classification\n"
        "from skimbal import CrossEntropyClassifier\n"
        "X, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=3,"
        " weights=[0.7, 0.2, 0.1], random_state=0)\n"
        "clf = CrossEntropyClassifier(max_epochs=5, hidden_layer_sizes=(8,), random_state=0)\n"
        "np.save(sys.stdout.buffer, clf.fit(X, y).predict_proba(X))\n"
    )
    import io

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    other_process = np.load(io.BytesIO(out))
    here = CrossEntropyClassifier(**SMALL).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(here, other_process)


# ------------------------------------------------------- max_epochs='auto'
class _StopAfterFirstEpoch(Callback):
    def on_epoch_end(self, net, **kwargs):
        raise KeyboardInterrupt  # skorch ends the fit cleanly


def test_auto_epochs_are_a_fixed_step_budget():
    assert [auto_max_epochs(n, 128) for n in (150, 1000, 4000, 10240, 100000)] == [
        500, 500, 125, 50, 50]
    # ceil(4000 / steps per epoch), clipped to [50, 500]; -1 is one step per epoch.
    assert auto_max_epochs(6400, 128) == 80 and auto_max_epochs(6401, 128) == 79
    assert auto_max_epochs(10**6, -1) == 500
    assert resolve_max_epochs(7, 100, 128) == 7  # an int keeps its meaning
    with pytest.raises(ValueError, match="max_epochs='auto'"):
        resolve_max_epochs("auto")


def test_auto_is_the_default_and_fractional_schedules_follow_it(imbalanced):
    X, y = imbalanced
    assert CrossEntropyClassifier().max_epochs == "auto"
    schedule = DeferredReweighting(start=0.5)
    clf = CrossEntropyClassifier(batch_size=32, validation_fraction=0.2, random_state=0,
                                 callbacks=[schedule, _StopAfterFirstEpoch()]).fit(X, y)
    n_train = len(y) - len(clf._split(clf.label_encoding_.encode(y))[1])
    assert n_train < len(y)  # the budget counts the training part only
    assert clf.max_epochs_ == auto_max_epochs(n_train, 32) == 500
    assert schedule.switch_epoch_ == 250


def test_auto_partial_fit_budgets_each_call_on_its_rows(imbalanced):
    X, y = imbalanced
    clf = CrossEntropyClassifier(batch_size=8, callbacks=[_StopAfterFirstEpoch()],
                                 random_state=0)
    clf.partial_fit(X, y)
    assert clf.max_epochs_ == auto_max_epochs(300, 8) == 106
    clf.partial_fit(X[:200], y[:200])
    assert clf.max_epochs_ == auto_max_epochs(200, 8) == 160
    with pytest.raises(ValueError, match="max_epochs"):
        CrossEntropyClassifier(max_epochs="many").fit(X, y)
