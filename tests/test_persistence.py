"""Checkpoints, resuming an interrupted fit exactly, and weights-only model files."""

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from sklearn.base import clone
from sklearn.datasets import make_classification
from skorch.callbacks import Callback, Checkpoint, LoadInitState

from skimbal import (
    BalancedMetaSoftmaxClassifier,
    ClusterKNNClassifier,
    CrossEntropyClassifier,
    DecoupledClassifier,
    FocalLossClassifier,
    HingeLossClassifier,
    LDAMClassifier,
    LMLEClassifier,
    MaxMarginClassifier,
    PostHocLogitAdjustedClassifier,
)
from skimbal.callbacks import (
    DeferredReweighting,
    EpochSchedule,
    LargeMarginAnnealing,
    MetaReweighting,
    MetaSamplerUpdate,
    MinorityAugmentation,
    WarmupMultiStepLR,
)
from skimbal.nn import MLP, LargeMarginLinear
from skimbal.persistence import WeightsOnlyError, allowed_names, load_model, save_model
from skimbal.sampling import DeferredResampling

from ._estimators import ESTIMATORS
from ._helpers import InterruptAfter

SMALL = dict(hidden_layer_sizes=(8,), random_state=0)


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=200, n_features=5, weights=[0.8, 0.2], random_state=0)


def test_interrupted_fit_resumes_from_last_finished_epoch(data, tmp_path):
    X, y = data
    checkpoint = Checkpoint(dirname=str(tmp_path), monitor=None)
    interrupted = CrossEntropyClassifier(
        max_epochs=8, callbacks=[checkpoint, InterruptAfter(3)], **SMALL
    ).fit(X, y)
    assert len(interrupted.history) == 3

    resumed = CrossEntropyClassifier(
        max_epochs=8, callbacks=[checkpoint, LoadInitState(checkpoint)], **SMALL
    ).fit(X, y)
    # 3 restored epochs + 5 new ones, not 8 new ones
    assert len(resumed.history) == 8
    assert [row["epoch"] for row in resumed.history] == list(range(1, 9))


def test_resume_of_a_finished_fit_trains_nothing_more(data, tmp_path):
    X, y = data
    checkpoint = Checkpoint(dirname=str(tmp_path), monitor=None)
    done = CrossEntropyClassifier(max_epochs=4, callbacks=[checkpoint], **SMALL).fit(X, y)
    again = CrossEntropyClassifier(
        max_epochs=4, callbacks=[checkpoint, LoadInitState(checkpoint)], **SMALL
    ).fit(X, y)
    assert len(again.history) == 4
    np.testing.assert_allclose(again.predict_proba(X), done.predict_proba(X), rtol=1e-6)


def test_best_scores_continue_from_the_restored_history(data, tmp_path):
    # Without it the first new epoch is "best" whatever its loss (skorch's scoring
    # callbacks start from infinity), and Checkpoint(monitor='..._best') saves it.
    X, y = data
    params = dict(max_epochs=6, lr=0.05, validation_fraction=0.25, **SMALL)
    whole = CrossEntropyClassifier(**params).fit(X, y)
    checkpoint = Checkpoint(dirname=str(tmp_path), monitor=None)
    CrossEntropyClassifier(callbacks=[checkpoint, InterruptAfter(3)], **params).fit(X, y)
    resumed = CrossEntropyClassifier(
        callbacks=[checkpoint, LoadInitState(checkpoint)], **params
    ).fit(X, y)
    for key in ("train_loss_best", "valid_loss_best", "valid_bacc_best"):
        assert resumed.history[:, key] == whole.history[:, key]
    assert False in whole.history[3:, "train_loss_best"] + whole.history[3:, "valid_loss_best"]


# ------------------------------------------------ resuming every schedule exactly
RUN = dict(max_epochs=6, hidden_layer_sizes=(8,), batch_size=32, lr=0.01, random_state=0)
SWITCH = 3  # the deferred schedules switch at epoch 3; runs are interrupted before and after


def _drw(estimator, **params):
    def make(callbacks):
        return estimator(callbacks=callbacks,
                         callbacks__deferred_reweighting__start=SWITCH, **{**RUN, **params})
    return make


def _ce(sampler=None, callbacks=(), **params):
    def make(checkpointing):
        return CrossEntropyClassifier(sampler=sampler, callbacks=[*callbacks, *checkpointing],
                                      **{**RUN, **params})
    return make


def _drw_and_warmup_listed_after(checkpointing):
    schedules = [WarmupMultiStepLR(warmup=2, milestones=(SWITCH, 5)),
                 DeferredReweighting(start=SWITCH, beta=0.99)]
    return CrossEntropyClassifier(optimizer=torch.optim.SGD, callbacks=[*checkpointing, *schedules],
                                  **{**RUN, "lr": 0.1})


#: Every estimator with a schedule (something that changes with the epoch: class
#: weights, learning rate, sampling, a mixing weight, clusters, per-epoch draws).
#: A name maps to the factory of the estimator (given the checkpointing callbacks),
#: or to the family test that checks its exact resume.
SCHEDULED = {
    "LDAMClassifier: DRW (its default)": _drw(LDAMClassifier),
    "MaxMarginClassifier: DRW (its default)": _drw(MaxMarginClassifier),
    "FocalLossClassifier(drw=True)": _drw(FocalLossClassifier, drw=True),
    "HingeLossClassifier(drw=True)": _drw(HingeLossClassifier, drw=True),
    "CrossEntropyClassifier + WarmupMultiStepLR + DeferredReweighting listed after "
    "LoadInitState": _drw_and_warmup_listed_after,
    "CrossEntropyClassifier + WarmupMultiStepLR + DeferredReweighting listed before "
    "LoadInitState": "tests/test_deferred.py::"
                     "test_interrupted_run_resumes_the_lr_and_drw_schedules_exactly",
    "CrossEntropyClassifier(sampler='progressive')": _ce("progressive"),
    "CrossEntropyClassifier(sampler=DeferredResampling)": _ce(DeferredResampling(start=SWITCH)),
    "CrossEntropyClassifier + MinorityAugmentation (draws per epoch)": _ce(
        "class-balanced", [MinorityAugmentation()]
    ),
    "CrossEntropyClassifier + MetaReweighting (meta set per epoch)": _ce(
        callbacks=[MetaReweighting()]
    ),
    "BalancedMetaSoftmaxClassifier: learned sampler": (
        lambda callbacks: BalancedMetaSoftmaxClassifier(callbacks=callbacks, **RUN)
    ),
    "LargeMarginSoftmaxClassifier: annealing": "tests/test_large_margin_softmax.py::"
                                               "test_annealing_continues_after_a_checkpoint_resume",
    "BBNClassifier: cumulative learning": "tests/test_bbn.py::"
                                          "test_resumed_run_continues_the_schedule_and_the_batches",
    "LMLEClassifier: re-clustering": "tests/test_lmle.py::"
                                     "test_resumed_run_matches_an_uninterrupted_one",
}
_FACTORIES = {name: make for name, make in SCHEDULED.items() if callable(make)}


class _RecordSchedule(Callback):
    """Record what the schedules set (class weights, learning rates, L-Softmax mix)."""

    def on_epoch_end(self, net, **kwargs):
        weight = getattr(net.criterion_, "weight", None)
        net.history.record("schedule", {
            "lr": [float(group["lr"]) for group in net.optimizer_.param_groups],
            "weight": None if weight is None else weight.tolist(),
            "mix": [m.mix for m in net.module_.modules() if isinstance(m, LargeMarginLinear)],
        })


def _comparable(history):
    """History rows without the timings and the checkpoint's marks."""
    return [{key: value for key, value in row.items()
             if key not in ("dur", "event_cp", "recluster_dur")} for row in history]


def _long_tailed(counts=(80, 25, 10), seed=0):
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    return (rng.normal(size=(len(y), 4)) + y[:, None]).astype(np.float32), y


@pytest.mark.parametrize("interrupt_after", [SWITCH - 1, SWITCH + 1])
@pytest.mark.parametrize("name", list(_FACTORIES))
def test_resumed_run_equals_the_uninterrupted_one(name, interrupt_after, tmp_path):
    make = _FACTORIES[name]
    X, y = _long_tailed()
    whole = make([_RecordSchedule()]).fit(X, y)
    checkpoint = Checkpoint(monitor=None, dirname=str(tmp_path))
    # The recorder comes first: Checkpoint saves the history with its record.
    interrupted = make([_RecordSchedule(), checkpoint, InterruptAfter(interrupt_after)]).fit(X, y)
    assert len(interrupted.history) == interrupt_after
    resumed = make([_RecordSchedule(), checkpoint, LoadInitState(checkpoint)]).fit(X, y)
    assert _comparable(resumed.history) == _comparable(whole.history)
    np.testing.assert_array_equal(resumed.predict_proba(X), whole.predict_proba(X))


def test_resumed_drw_switches_at_the_planned_epoch(tmp_path):
    # The symptom of the issue: after a resume DRW never switched on.
    X, y = _long_tailed()
    make = _FACTORIES["LDAMClassifier: DRW (its default)"]
    checkpoint = Checkpoint(monitor=None, dirname=str(tmp_path))
    make([_RecordSchedule(), checkpoint, InterruptAfter(2)]).fit(X, y)
    resumed = make([_RecordSchedule(), checkpoint, LoadInitState(checkpoint)]).fit(X, y)
    weights = [row["weight"] for row in resumed.history[:, "schedule"][2:]]
    assert weights[0] == [1.0, 1.0, 1.0]
    assert weights[1] == weights[-1] != [1.0, 1.0, 1.0]


@pytest.mark.parametrize("first", [True, False])
def test_load_init_state_before_or_after_deferred_reweighting(first, tmp_path):
    # A criterion without class weights loads a checkpoint whose criterion had them.
    X, y = _long_tailed()
    checkpoint = Checkpoint(monitor=None, dirname=str(tmp_path))

    def make(checkpointing):
        drw = [DeferredReweighting(start=1, beta=0.99)]
        return CrossEntropyClassifier(
            callbacks=[*checkpointing, *drw] if first else [*drw, *checkpointing], **RUN
        )

    make([checkpoint, InterruptAfter(3)]).fit(X, y)
    resumed = make([checkpoint, LoadInitState(checkpoint)]).fit(X, y)
    whole = make([]).fit(X, y)
    np.testing.assert_array_equal(resumed.predict_proba(X), whole.predict_proba(X))
    torch.testing.assert_close(resumed.criterion_.weight, whole.criterion_.weight, rtol=0, atol=0)


@pytest.mark.parametrize("reference", [v for v in SCHEDULED.values() if isinstance(v, str)])
def test_schedules_checked_elsewhere_are_checked(reference):
    path, test = reference.split("::")
    source = (Path(__file__).parents[1] / path).read_text()
    assert f"def {test}(" in source


def _has_schedule(estimator):
    if isinstance(estimator, DecoupledClassifier):  # stage one is one of the others
        return False
    callbacks = [cb for _, cb in getattr(estimator, "_default_callbacks", [])]
    given = getattr(estimator, "callbacks", None) or []
    callbacks += [cb[1] if isinstance(cb, tuple) else cb for cb in given]
    scheduled = (EpochSchedule, LargeMarginAnnealing, MetaSamplerUpdate, MinorityAugmentation,
                 MetaReweighting)
    sampler = getattr(estimator, "sampler", None)
    return any(isinstance(cb, scheduled) for cb in callbacks) or (
        sampler == "progressive" or hasattr(sampler, "set_max_epochs")
    )


def test_the_table_lists_every_estimator_with_a_schedule():
    listed = " ".join(SCHEDULED)
    for estimator in ESTIMATORS:
        if _has_schedule(estimator):
            assert type(estimator).__name__.removeprefix("GPU") in listed, estimator


# ------------------------------------------------------- weights-only sharing
def _fitted(estimator, X, y):
    estimator = clone(estimator)
    params = estimator.get_params()
    for name in ("max_epochs", "estimator__max_epochs"):
        if name in params:
            estimator.set_params(**{name: 3})
    return estimator.fit(X, y)


@pytest.fixture(scope="module")
def three_classes():
    X, y = make_classification(n_samples=150, n_features=6, n_informative=4, n_classes=3,
                               weights=[0.6, 0.3, 0.1], random_state=0)
    return X.astype(np.float32), y


def _structure(value):
    """Parameters of an estimator or callback, recursively, comparable with ``==``."""
    if hasattr(value, "get_params") and not isinstance(value, type):
        return type(value), {k: _structure(v) for k, v in value.get_params(deep=False).items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_structure(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.dtype, value.tolist()
    return repr(value) if type(value).__repr__ is not object.__repr__ else type(value)


def _no_code_runs(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("load_model unpickled something")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(torch, "load", refuse)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_every_estimator_round_trips_through_a_weights_only_file(
    estimator, three_classes, tmp_path, monkeypatch
):
    X, y = three_classes
    fitted = _fitted(estimator, X, y)
    path = tmp_path / "model.safetensors"
    save_model(fitted, path)
    _no_code_runs(monkeypatch)
    loaded = load_model(path)  # no fit before, no pickle
    monkeypatch.undo()
    assert type(loaded) is type(fitted)
    assert _structure(loaded) == _structure(fitted)
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    np.testing.assert_array_equal(loaded.decision_function(X), fitted.decision_function(X))
    for name in ("classes_", "class_counts_", "class_prior_", "class_weight_", "n_features_in_",
                 "tau_", "tau_scores_", "seed_", "alpha_"):
        if hasattr(fitted, name):
            np.testing.assert_array_equal(getattr(loaded, name), getattr(fitted, name))


def test_posthoc_adjustment_keeps_its_prior_and_tau(three_classes, tmp_path):
    X, y = three_classes
    clf = PostHocLogitAdjustedClassifier(tau="auto", max_epochs=3, **SMALL).fit(X, y)
    save_model(clf, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.tau_ == clf.tau_ and loaded.class_prior_.dtype == clf.class_prior_.dtype
    np.testing.assert_array_equal(loaded.class_prior_, clf.class_prior_)
    np.testing.assert_array_equal(loaded.tau_scores_, clf.tau_scores_)
    np.testing.assert_array_equal(loaded.decision_function(X), clf.decision_function(X))


def test_lmle_keeps_its_cluster_knn(three_classes, tmp_path):
    X, y = three_classes
    clf = LMLEClassifier(max_epochs=3, n_clusters_per_class=2, **SMALL).fit(X, y)
    save_model(clf, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    for name in ("cluster_centers_", "cluster_labels_", "train_clusters_", "classes_"):
        np.testing.assert_array_equal(getattr(loaded.cluster_knn_, name),
                                      getattr(clf.cluster_knn_, name))
    np.testing.assert_array_equal(loaded.transform(X), clf.transform(X))
    # The clusters stored in the module travel too (a further fit starts from them).
    torch.testing.assert_close(loaded.module_.lmle_clusters.centers,
                               clf.module_.lmle_clusters.centers, rtol=0, atol=0)


@pytest.mark.parametrize("method", ["crt", "lws", "tau-norm", "ncm"])
def test_decoupled_keeps_both_stages(method, three_classes, tmp_path):
    X, y = three_classes
    clf = DecoupledClassifier(CrossEntropyClassifier(max_epochs=3, **SMALL), method=method,
                              stage2_epochs=2, tau=[0.0, 1.0], random_state=0).fit(X, y)
    save_model(clf, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    for name in ("tau_", "tau_scores_", "tau_weight_", "class_means_", "lws_scale_"):
        if hasattr(clf, name):
            assert repr(getattr(loaded, name)) == repr(getattr(clf, name))
    if method in ("crt", "lws"):
        assert loaded.stage2_sampler_ is loaded.head_estimator_.sampler
        assert repr(loaded.stage2_sampler_) == repr(clf.stage2_sampler_)


def test_cluster_knn_and_feature_names(tmp_path):
    X, y = make_classification(n_samples=90, n_features=3, n_informative=2, n_redundant=0,
                               random_state=0)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    labels = np.array(["no", "yes"])[y]
    for clf in (ClusterKNNClassifier(n_clusters_per_class=2, random_state=0),
                CrossEntropyClassifier(max_epochs=2, **SMALL)):
        clf.fit(frame, labels)
        save_model(clf, tmp_path / "m.safetensors")
        loaded = load_model(tmp_path / "m.safetensors")
        assert loaded.feature_names_in_.tolist() == ["a", "b", "c"]
        assert loaded.predict(frame).tolist() == clf.predict(frame).tolist()
        np.testing.assert_array_equal(loaded.predict_proba(frame), clf.predict_proba(frame))


def test_multilabel_estimator_round_trips(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 4)).astype(np.float32)
    Y = np.c_[X[:, 0] > 0, X[:, 1] > 0.5].astype(int) * 2 - 1  # values -1 and 1
    clf = CrossEntropyClassifier(max_epochs=2, **SMALL).fit(X, Y)
    save_model(clf, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.label_values_.tolist() == [-1, 1]
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_a_loaded_model_trains_further(data, tmp_path):
    X, y = data
    clf = CrossEntropyClassifier(max_epochs=2, warm_start=True, **SMALL).fit(X, y)
    save_model(clf, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert len(loaded.history) == 0  # the history is training state, not saved
    loaded.partial_fit(X, y)
    assert len(loaded.history) == 2 and loaded.class_counts_.sum() == 2 * len(y)


class _OwnNetwork(MLP):
    """A user's module class, outside the allow-list."""


def test_what_cannot_be_named_fails_at_save_time(data, tmp_path):
    X, y = data
    path = tmp_path / "m.safetensors"
    own = CrossEntropyClassifier(module=_OwnNetwork, max_epochs=1, **SMALL).fit(X, y)
    with pytest.raises(WeightsOnlyError, match="parameter 'module'.*cannot name"):
        save_model(own, path)
    assert not path.exists()
    instance = CrossEntropyClassifier(module=MLP(5, 2, hidden_layer_sizes=(8,)), max_epochs=1,
                                      random_state=0).fit(X, y)
    with pytest.raises(WeightsOnlyError, match="MLP instance.*module's class"):
        save_model(instance, path)
    # A class the user trusts is stored by its import path and needs trust to load.
    save_model(own, path, trusted_classes=[_OwnNetwork])
    with pytest.raises(WeightsOnlyError, match="_OwnNetwork.*not on the allow-list"):
        load_model(path)
    loaded = load_model(path, trusted_classes=[_OwnNetwork])
    np.testing.assert_array_equal(loaded.predict_proba(X), own.predict_proba(X))


def test_callbacks_that_write_files_need_trust(data, tmp_path):
    X, y = data
    checkpoint = Checkpoint(dirname=str(tmp_path / "runs"), monitor=None)
    clf = CrossEntropyClassifier(max_epochs=1, callbacks=[checkpoint], **SMALL).fit(X, y)
    with pytest.raises(WeightsOnlyError, match="class of .*callbacks.*cannot name"):
        save_model(clf, tmp_path / "m.safetensors")
    save_model(clf, tmp_path / "m.safetensors", trusted_classes=[Checkpoint])
    loaded = load_model(tmp_path / "m.safetensors", trusted_classes=[Checkpoint])
    assert loaded.callbacks[0].dirname == str(tmp_path / "runs")


def _rewrite(path, edit):
    with safe_open(str(path), framework="pt") as file:
        document = json.loads(file.metadata()["skimbal"])
        tensors = {key: file.get_tensor(key) for key in file.keys()}
    edit(document)
    save_file(tensors, str(path), metadata={"skimbal": json.dumps(document)})


def test_a_tampered_file_cannot_name_arbitrary_code(data, tmp_path):
    X, y = data
    path = tmp_path / "m.safetensors"
    save_model(CrossEntropyClassifier(max_epochs=1, **SMALL).fit(X, y), path)

    def evil(document):
        document["model"]["params"]["criterion"] = {"__name__": "os.system"}

    _rewrite(path, evil)
    with pytest.raises(WeightsOnlyError, match="'os.system'.*not on the allow-list"):
        load_model(path)
    assert "os.system" not in allowed_names()
    save_file({"w": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(WeightsOnlyError, match="not a skimbal weights-only file"):
        load_model(tmp_path / "other.safetensors")


def test_a_model_saved_for_cuda_loads_on_the_cpu(data, tmp_path):
    X, y = data
    clf = CrossEntropyClassifier(max_epochs=1, **SMALL).fit(X, y)
    path = tmp_path / "m.safetensors"
    save_model(clf, path)
    _rewrite(path, lambda document: document["model"]["params"].update(device="cuda"))
    if torch.cuda.is_available():  # pragma: no cover - CI has no GPU
        pytest.skip("the fallback is for machines without CUDA")
    with pytest.warns(UserWarning, match="CUDA is not available.*device='cpu'"):
        loaded = load_model(path)
    assert loaded.device == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert load_model(path, device="cpu").device == "cpu"


@pytest.mark.parametrize("use_safetensors", [False, True])
def test_weights_only_save_and_load(data, tmp_path, use_safetensors):
    X, y = data
    clf = CrossEntropyClassifier(max_epochs=3, **SMALL).fit(X, y)
    path = tmp_path / ("model.safetensors" if use_safetensors else "model.pt")
    clf.save_params(f_params=str(path), use_safetensors=use_safetensors)

    # skorch's own path: the receiving side fits on a few rows to set up classes and
    # sizes, then loads (save_model/load_model need no such fit).
    fresh = CrossEntropyClassifier(max_epochs=1, **SMALL).fit(X, y)
    fresh.load_params(f_params=str(path), use_safetensors=use_safetensors)
    np.testing.assert_array_equal(fresh.predict_proba(X), clf.predict_proba(X))
