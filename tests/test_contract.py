"""The scikit-learn and skorch contract of every estimator (issue 14).

Table-driven checks over every public estimator configuration of
``tests/_estimators.py`` (plus configurations whose callbacks hold state), then
targeted checks of what a skorch user does: callbacks that monitor a validation
score, ``partial_fit`` with ``classes``, skorch-style modules, criteria given as
instances, datasets, metadata routing, and clear errors for conflicting
settings. skorch's own test suite runs against the base in
``tests/test_skorch_suite.py``; the exact loader length under samplers that
change the epoch size is tested in ``tests/test_sampling.py`` and
``tests/test_imblearn_sampler.py``.
"""

import pickle
import threading
import time
import warnings

import joblib
import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, f1_score, make_scorer, roc_auc_score
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate
from skorch.callbacks import Callback, Checkpoint, EarlyStopping, EpochScoring, LRScheduler
from skorch.dataset import Dataset
from skorch.exceptions import NotInitializedError
from skorch.history import History
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau

from skimbal import (
    ClassBalancedClassifier,
    CrossEntropyClassifier,
    FocalLossClassifier,
    ImbalancedNetClassifier,
    LargeMarginSoftmaxClassifier,
    LDAMClassifier,
    WeightedCrossEntropyClassifier,
)
from skimbal._core.data import TensorBatchLoader
from skimbal._core.schedule import resolve_epoch
from skimbal.callbacks import DeferredReweighting, WarmupMultiStepLR
from skimbal.losses import ClassBalancedLoss, FocalLoss, effective_number_weights

from ._estimators import ESTIMATORS, SMALL

# Configurations whose callbacks keep state after a fit (DRW's switch epoch, the
# annealing's iteration count), given as instances and through callbacks__*.
STATEFUL = [
    CrossEntropyClassifier(callbacks=[DeferredReweighting(start=1), WarmupMultiStepLR()], **SMALL),
    FocalLossClassifier(drw=True, callbacks__deferred_reweighting__start=1,
                        callbacks__deferred_reweighting__beta=0.9, **SMALL),
    LargeMarginSoftmaxClassifier(callbacks__large_margin_annealing__base=100.0, **SMALL),
]
ALL = ESTIMATORS + STATEFUL
NETS = [estimator for estimator in ALL if isinstance(estimator, ImbalancedNetClassifier)]


def _ids(estimators):
    return [f"{i}-{type(estimator).__name__}" for i, estimator in enumerate(estimators)]


def _data(counts=(40, 15, 5), seed=0, n_features=4):
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    X = rng.normal(size=(len(y), n_features)).astype(np.float32)
    X[:, 0] += 2 * y
    return X, y


def _quick(estimator, max_epochs=2):
    """A clone of ``estimator`` that trains for a couple of epochs."""
    estimator = clone(estimator)
    params = estimator.get_params(deep=False)
    if "max_epochs" in params:
        estimator.set_params(max_epochs=max_epochs)
    if "estimator" in params:  # DecoupledClassifier
        estimator.set_params(estimator__max_epochs=max_epochs, stage2_epochs=1)
    return estimator


def _trained_on_the_training_part(estimator):
    """``estimator`` without the refit on all rows that only a fresh fit makes.

    (``tau='auto'`` of post-hoc logit adjustment holds rows out to choose ``tau``,
    then a fresh fit trains again on all of them; ``warm_start`` and ``partial_fit``
    fits keep the training part.)
    """
    if "tau_refit" in estimator.get_params(deep=False):
        estimator.set_params(tau_refit=False)
    return estimator


def _outputs(estimator, X):
    """The most detailed prediction an estimator gives (probabilities when it has them)."""
    if hasattr(estimator, "predict_proba"):
        return np.asarray(estimator.predict_proba(X))
    return np.asarray(estimator.predict(X))


def _assert_same_param(a, b, name):
    """Parameters equal as scikit-learn's clone means it (fresh copies, equal values)."""
    if hasattr(a, "get_params") and not isinstance(a, type):
        assert type(a) is type(b), name
        a_params, b_params = a.get_params(deep=False), b.get_params(deep=False)
        assert a_params.keys() == b_params.keys(), name
        for key in a_params:
            _assert_same_param(a_params[key], b_params[key], f"{name}__{key}")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), name
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            _assert_same_param(u, v, f"{name}[{i}]")
    elif isinstance(a, nn.Module):
        assert type(a) is type(b), name
        for (key, u), (_, v) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
            assert torch.equal(u, v), f"{name}.{key}"
    elif isinstance(a, (np.ndarray, torch.Tensor)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)
    else:
        assert a is b or a == b, (name, a, b)


class _RecordTrainingTargets(Callback):
    """Records the labels of every training batch."""

    def __init__(self, record=None):
        self.record = record

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.record.append(batch[1].tolist())


class _SkorchModule(nn.Module):
    """A module as skorch users write them: its own argument names, sizes given."""

    def __init__(self, n_in, n_out=2):
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)

    def forward(self, X):
        return self.linear(X)


# --------------------------------------------------------------- every estimator
@pytest.mark.parametrize("estimator", ALL, ids=_ids(ALL))
def test_clone_of_a_fitted_estimator_is_unfitted_with_equal_params(estimator):
    X, y = _data()
    fitted = _quick(estimator).fit(X, y)
    unfitted = clone(fitted)
    _assert_same_param(unfitted, fitted, type(fitted).__name__)
    with pytest.raises(NotFittedError):
        unfitted.predict(X)
    # Callback instances come back without the state of the fit (skorch hands
    # every attribute not ending in "_" to __init__).
    for callback in unfitted.get_params(deep=False).get("callbacks") or []:
        assert [name for name in vars(callback) if name.endswith("_")] == []
    # Same parameters, same random_state: the clone refits to the same network.
    np.testing.assert_array_equal(_outputs(unfitted.fit(X, y), X), _outputs(fitted, X))


@pytest.mark.parametrize("estimator", ALL, ids=_ids(ALL))
def test_cross_val_score_of_a_fitted_estimator(estimator):
    X, y = _data()
    fitted = _quick(estimator).fit(X, y)
    scores = cross_val_score(fitted, X, y, cv=2)
    np.testing.assert_array_equal(scores, cross_val_score(_quick(estimator), X, y, cv=2))
    np.testing.assert_array_equal(_outputs(fitted, X), _outputs(_quick(estimator).fit(X, y), X))


@pytest.mark.parametrize("estimator", ALL, ids=_ids(ALL))
def test_pickle_round_trips_the_predictions(estimator):
    X, y = _data()
    fitted = _quick(estimator).fit(X, y)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(_outputs(restored, X), _outputs(fitted, X))
    np.testing.assert_array_equal(restored.predict(X), fitted.predict(X))


def test_stateful_callbacks_hold_their_state_after_fit_and_clone_drops_it():
    X, y = _data()
    drw, lr = DeferredReweighting(start=1), WarmupMultiStepLR()
    fitted = CrossEntropyClassifier(callbacks=[drw, lr], max_epochs=3, random_state=0).fit(X, y)
    assert drw.switch_epoch_ == 1  # the instances are the ones the fit used
    unfitted = clone(fitted)
    cloned_drw, cloned_lr = unfitted.callbacks
    assert cloned_drw is not drw and vars(cloned_drw) == {"start": 1, "beta": 0.9999}
    assert vars(cloned_lr) == {"warmup": 0.025, "milestones": (0.8, 0.9), "factors": (0.01, 0.0001)}


def test_deep_get_params_reports_the_callback_parameters_the_fit_uses():
    X, y = _data()
    clf = FocalLossClassifier(drw=True, callbacks__deferred_reweighting__start=1,
                              callbacks__deferred_reweighting__beta=0.9, max_epochs=2,
                              random_state=0)
    # skorch would report a fresh default callback's beta (0.9999) here.
    assert clf.get_params()["callbacks__deferred_reweighting__beta"] == 0.9
    clf.fit(X, y)
    assert dict(clf.callbacks_)["deferred_reweighting"].beta == 0.9
    torch.testing.assert_close(
        clf.criterion_.weight, effective_number_weights(clf.class_counts_, beta=0.9),
        rtol=0, atol=0,
    )
    clf.set_params(callbacks__deferred_reweighting__beta=0.5)
    assert clf.get_params()["callbacks__deferred_reweighting__beta"] == 0.5
    assert dict(clf.callbacks_)["deferred_reweighting"].beta == 0.5


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ALL, ids=_ids(ALL))
def test_grid_search_in_threads_equals_serial_and_processes(estimator):
    X, y = _data((50, 25, 15))

    def search(backend):
        grid = GridSearchCV(_quick(estimator), {"random_state": [0, 1]}, cv=2,
                            scoring="balanced_accuracy", n_jobs=None if backend is None else 2)
        if backend is None:
            grid.fit(X, y)
        else:
            with joblib.parallel_backend(backend):
                grid.fit(X, y)
        scores = [grid.cv_results_[f"split{k}_test_score"] for k in range(2)]
        return np.array(scores), _outputs(grid.best_estimator_, X)

    serial_scores, serial_outputs = search(None)
    for backend in ("threading", "loky"):
        scores, outputs = search(backend)
        np.testing.assert_array_equal(scores, serial_scores, err_msg=backend)
        np.testing.assert_array_equal(outputs, serial_outputs, err_msg=backend)


def test_concurrent_fits_in_threads_equal_serial_fits_bitwise():
    # Many short fits in four threads: module initialisation, epoch seeding and
    # the end of a fit all touch torch's process-wide generator; none may
    # disturb another thread's fit.
    X, y = _data()

    def fit(seed):
        # Wide layers: long initialisations; short epochs: frequent epoch seeding.
        clf = CrossEntropyClassifier(max_epochs=10, hidden_layer_sizes=(512, 512),
                                     random_state=seed)
        return clf.fit(X, y).predict_proba(X)

    serial = [fit(seed) for seed in range(16)]
    threaded = joblib.Parallel(n_jobs=4, backend="threading")(
        joblib.delayed(fit)(seed) for seed in range(16)
    )
    for seed, (a, b) in enumerate(zip(serial, threaded, strict=True)):
        np.testing.assert_array_equal(a, b, err_msg=f"random_state={seed}")


def test_fit_in_a_thread_leaves_the_caller_generator_alone():
    # A fit restores torch's process-wide generator: the caller's draws after a
    # fit are those it would have made without it, in the main thread or not.
    X, y = _data()

    def draw_around_a_fit(out):
        torch.manual_seed(123)
        CrossEntropyClassifier(max_epochs=1, random_state=0).fit(X, y)
        out.append(torch.rand(3))

    out = []
    thread = threading.Thread(target=draw_around_a_fit, args=(out,))
    thread.start()
    thread.join()
    torch.manual_seed(123)
    torch.testing.assert_close(out[0], torch.rand(3), rtol=0, atol=0)


@pytest.mark.parametrize("estimator", NETS, ids=_ids(NETS))
def test_predict_before_fit_is_not_fitted_and_not_initialized(estimator):
    X, _ = _data()
    for method in ("predict", "predict_proba"):
        with pytest.raises(NotFittedError) as info:
            getattr(clone(estimator), method)(X)
        assert isinstance(info.value, NotInitializedError)


@pytest.mark.parametrize("estimator", NETS, ids=_ids(NETS))
def test_warm_start_refit_recomputes_the_class_statistics(estimator):
    X1, y1 = _data((40, 15, 5))
    X2, y2 = _data((5, 15, 40), seed=1)
    warm = _quick(estimator).set_params(warm_start=True).fit(X1, y1)
    first_counts = warm.class_counts_.copy()
    warm.fit(X2, y2)
    fresh = _trained_on_the_training_part(_quick(estimator)).fit(X2, y2)
    assert len(warm.history) == 4  # the second fit continued the first
    assert first_counts.argmax() == 0 and warm.class_counts_.argmax() == 2
    np.testing.assert_array_equal(warm.class_counts_, fresh.class_counts_)
    np.testing.assert_array_equal(warm.class_prior_, fresh.class_prior_)
    if fresh.class_weight_ is None:
        assert warm.class_weight_ is None
    else:
        np.testing.assert_array_equal(warm.class_weight_, fresh.class_weight_)
    # Criterion buffers built from the statistics (LDAM margins, logit
    # adjustments, class weights) are those of a fresh fit on the new data;
    # under DRW the weights are past the switch (epochs 2, 3 of a 2-epoch plan).
    drw = dict(warm.callbacks_).get("deferred_reweighting")
    fresh_buffers = dict(fresh.criterion_.named_buffers())
    for name, buffer in warm.criterion_.named_buffers():
        expected = fresh_buffers[name]
        if drw is not None and name == "weight":
            expected = effective_number_weights(warm.class_counts_, beta=drw.beta)
        torch.testing.assert_close(buffer, expected, rtol=0, atol=0, msg=name)


def test_warm_start_ldam_margins_follow_the_new_counts():
    X1, y1 = _data((40, 15, 5))
    X2, y2 = _data((5, 15, 40), seed=1)
    clf = LDAMClassifier(max_epochs=1, warm_start=True, hidden_layer_sizes=(8,), random_state=0)
    clf.fit(X1, y1)
    # m_j = 0.5 (n_min / n_j)^(1/4)
    torch.testing.assert_close(
        clf.criterion_.margins, torch.tensor([0.5 * 8 ** -0.25, 0.5 * 3 ** -0.25, 0.5])
    )
    clf.fit(X2, y2)
    np.testing.assert_array_equal(clf.class_counts_, [5, 15, 40])
    torch.testing.assert_close(
        clf.criterion_.margins, torch.tensor([0.5, 0.5 * 3 ** -0.25, 0.5 * 8 ** -0.25])
    )


@pytest.mark.parametrize("estimator", NETS, ids=_ids(NETS))
def test_max_epochs_zero_warns_and_trains_nothing(estimator):
    X, y = _data()
    clf = clone(estimator).set_params(max_epochs=0)
    with pytest.warns(UserWarning, match="max_epochs=0, fit trains nothing"):
        clf.fit(X, y)
    assert len(clf.history) == 0
    assert clf.optimizer_.state_dict()["state"] == {}  # not a single step
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.predict(X).shape == (len(X),)


# ------------------------------------------------------------------ partial_fit
@pytest.mark.parametrize("estimator", NETS, ids=_ids(NETS))
def test_partial_fit_classes_declares_labels_missing_from_the_first_call(estimator):
    X, y = _data((20, 20, 20))
    first = y < 2
    clf = _quick(estimator)
    clf.partial_fit(X[first], y[first], classes=[0, 1, 2])
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.class_counts_[2] == 0
    assert clf.predict_proba(X).shape == (len(X), 3)
    counts_of_first = clf.class_counts_.copy()
    clf.partial_fit(X, y)  # label 2 appears
    # The class counts accumulate: a fresh fit's counts of the second call on top.
    fresh = _trained_on_the_training_part(_quick(estimator)).fit(X, y)
    np.testing.assert_array_equal(clf.class_counts_, counts_of_first + fresh.class_counts_)
    assert len(clf.history) == 4
    assert np.isfinite(clf.predict_proba(X)).all()


def test_partial_fit_refuses_other_classes_or_unknown_labels_later():
    X, y = _data((20, 20, 20))
    clf = CrossEntropyClassifier(max_epochs=1, random_state=0)
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    clf.partial_fit(X, y, classes=[0, 1, 2])  # repeating them is fine
    for classes in ([0, 1], [0, 1, 2, 3]):
        with pytest.raises(ValueError, match="differs from the classes of the first call"):
            clf.partial_fit(X, y, classes=classes)
    with pytest.raises(ValueError, match="not seen"):
        clf.partial_fit(X, np.where(y == 2, 3, y))
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])


def test_constructor_classes_declare_every_label():
    X, y = _data((20, 20, 20))
    first = y < 2
    clf = CrossEntropyClassifier(classes=[0, 1, 2], max_epochs=1, random_state=0)
    clf.fit(X[first], y[first])
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    np.testing.assert_array_equal(clf.class_counts_, [20, 20, 0])
    assert clf.predict_proba(X).shape == (len(X), 3)
    clf.partial_fit(X, y)
    np.testing.assert_array_equal(clf.class_counts_, [40, 40, 20])


def test_drw_switches_on_across_one_epoch_partial_fit_calls():
    X, y = _data((40, 15, 5))
    clf = FocalLossClassifier(drw=True, max_epochs=1, hidden_layer_sizes=(8,), random_state=0)
    switch = resolve_epoch(0.8, 1)  # DeferredReweighting's default start of a 1-epoch plan
    assert switch == 1
    for call in range(5):
        clf.partial_fit(X, y)
        counts = np.array([40, 15, 5]) * (call + 1)
        np.testing.assert_array_equal(clf.class_counts_, counts)
        assert dict(clf.callbacks_)["deferred_reweighting"].switch_epoch_ == switch
        expected = torch.ones(3) if call < switch else effective_number_weights(counts)
        torch.testing.assert_close(clf.criterion_.weight, expected, rtol=0, atol=0)
    assert len(clf.history) == 5


# --------------------------------------------------------- skorch-style usage
def test_initialize_then_partial_fit_with_a_skorch_style_module():
    X, y = _data((28, 12))
    for classes in (None, [0, 1]):
        net = ImbalancedNetClassifier(_SkorchModule, module__n_in=4, classes=classes,
                                      max_epochs=2, random_state=0)
        net.initialize()
        assert net.module_.linear.in_features == 4
        net.partial_fit(X, y)
        np.testing.assert_array_equal(net.classes_, [0, 1])
        np.testing.assert_array_equal(net.class_counts_, [28, 12])
        assert len(net.history) == 2


def test_initialize_load_params_predict(tmp_path):
    X, y = _data((28, 12))
    net = ImbalancedNetClassifier(_SkorchModule, module__n_in=4, max_epochs=3, random_state=0)
    net.fit(X, y)
    net.save_params(f_params=tmp_path / "params.pt")
    loaded = ImbalancedNetClassifier(_SkorchModule, module__n_in=4, classes=[0, 1])
    loaded.initialize()
    loaded.load_params(f_params=tmp_path / "params.pt")
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))


@pytest.mark.parametrize(
    "make_callback, name, monitor, suggestion",
    [
        (lambda path: EarlyStopping(), "EarlyStopping", "valid_loss", "train_loss"),
        (lambda path: Checkpoint(dirname=path), "Checkpoint", "valid_loss_best",
         "train_loss_best"),
        (lambda path: LRScheduler(ReduceLROnPlateau, monitor="valid_loss"), "LRScheduler",
         "valid_loss", "train_loss"),
    ],
)
def test_validation_monitors_without_a_validation_part_raise_clearly(
    make_callback, name, monitor, suggestion, tmp_path
):
    X, y = _data((28, 12))
    clf = CrossEntropyClassifier(callbacks=[make_callback(tmp_path)], max_epochs=3,
                                 random_state=0)
    with pytest.raises(ValueError) as info:
        clf.fit(X, y)
    assert str(info.value) == (
        f"The callback {name!r} monitors {monitor!r}, but this fit has no validation part. "
        "Set validation_fraction (e.g. 0.1) to hold one out, or monitor the training loss: "
        f"{name}(monitor={suggestion!r})."
    )
    assert list(tmp_path.iterdir()) == []  # refused before the first epoch


def test_validation_monitors_work_with_a_validation_fraction(tmp_path):
    X, y = _data((28, 12))
    stop = EarlyStopping(patience=1, threshold=1.0, threshold_mode="abs")
    clf = CrossEntropyClassifier(callbacks=[stop], validation_fraction=0.2, max_epochs=10,
                                 random_state=0).fit(X, y)
    assert len(clf.history) == 2  # epoch 2 misses the (absolute) improvement of 1.0
    assert stop.dynamic_threshold_ == clf.history[0, "valid_loss"] - 1.0

    clf = CrossEntropyClassifier(callbacks=[Checkpoint(dirname=tmp_path)],
                                 validation_fraction=0.2, max_epochs=2, random_state=0).fit(X, y)
    assert clf.history[0, "event_cp"] is True
    assert (tmp_path / "params.pt").is_file()

    scheduler = LRScheduler(ReduceLROnPlateau, monitor="valid_loss", threshold=0.0)
    clf = CrossEntropyClassifier(callbacks=[scheduler], validation_fraction=0.2, max_epochs=3,
                                 random_state=0).fit(X, y)
    assert scheduler.lr_scheduler_.best == min(clf.history[:, "valid_loss"])


def test_training_loss_monitors_work_without_a_validation_part():
    X, y = _data((28, 12))
    stop = EarlyStopping(monitor="train_loss", patience=2, threshold=1.0, threshold_mode="abs")
    clf = CrossEntropyClassifier(callbacks=[stop], max_epochs=10, random_state=0).fit(X, y)
    assert len(clf.history) == 3
    assert "valid_loss" not in clf.history[-1]
    # skorch's LRScheduler monitors train_loss by default.
    scheduler = LRScheduler(ReduceLROnPlateau, threshold=0.0)
    clf = CrossEntropyClassifier(callbacks=[scheduler], max_epochs=3, random_state=0).fit(X, y)
    assert scheduler.lr_scheduler_.best == min(clf.history[:, "train_loss"])


def test_epoch_scoring_roc_auc_on_the_validation_part():
    X, y = _data((60, 20))
    valid = []

    class RecordValidation(Callback):
        def on_epoch_end(self, net, dataset_valid=None, **kwargs):
            valid[:] = [dataset_valid.X.numpy(), dataset_valid.y.numpy()]

    clf = CrossEntropyClassifier(
        callbacks=[EpochScoring("roc_auc", lower_is_better=False), RecordValidation()],
        validation_fraction=0.25, max_epochs=3, random_state=0,
    ).fit(X, y)
    X_valid, y_valid = valid
    np.testing.assert_array_equal(np.bincount(y_valid), [15, 5])
    expected = roc_auc_score(y_valid, clf.predict_proba(X_valid)[:, 1])
    assert clf.history[-1, "roc_auc"] == pytest.approx(expected, rel=1e-12)


class _RecordTrainingPredictions(Callback):
    """The labels and predicted labels of the training batches of the last epoch."""

    def on_epoch_begin(self, net, **kwargs):
        self.y_true_, self.y_pred_ = [], []

    def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs):
        if training:
            self.y_true_.append(batch[1].numpy())
            self.y_pred_.append(y_pred.argmax(dim=1).numpy())


def test_epoch_scoring_f1_on_train():
    X, y = _data((28, 12))
    record = _RecordTrainingPredictions()
    clf = CrossEntropyClassifier(
        callbacks=[EpochScoring("f1", on_train=True, lower_is_better=False), record],
        max_epochs=3, lr=0.05, random_state=0,
    ).fit(X, y)
    # The score of the last epoch's (cached) predictions of the training batches.
    y_true, y_pred = np.concatenate(record.y_true_), np.concatenate(record.y_pred_)
    assert clf.history[-1, "f1"] == f1_score(y_true, y_pred) > 0


@pytest.mark.parametrize("labels", [(0, 1), (3, 7), ("a", "b")])
def test_epoch_scoring_compares_the_original_labels_for_any_label_type(labels):
    # The batches hold the encoded labels; a scoring callback with skorch's default
    # target extractor gets them decoded, as predict returns them: with labels
    # (3, 7) the accuracy used to be 0.0, with strings the scoring raised.
    X, y = _data((28, 12))
    y = np.asarray(labels)[y]
    record = _RecordTrainingPredictions()
    clf = CrossEntropyClassifier(
        callbacks=[EpochScoring("accuracy", on_train=True, lower_is_better=False), record],
        max_epochs=3, lr=0.05, random_state=0,
    ).fit(X, y)
    y_true, y_pred = np.concatenate(record.y_true_), np.concatenate(record.y_pred_)
    assert clf.history[-1, "accuracy"] == accuracy_score(y_true, y_pred) > 0.5


@pytest.mark.parametrize("labels", [(3, 7), ("a", "b")])
def test_epoch_scoring_with_a_positive_label_scores_the_original_labels(labels):
    # f1's pos_label is checked against classes_: the scoring must see original labels.
    X, y = _data((28, 12))
    y = np.asarray(labels)[y]
    record = _RecordTrainingPredictions()
    scoring = EpochScoring(
        make_scorer(f1_score, pos_label=labels[1]), name="f1", on_train=True,
        lower_is_better=False,
    )
    clf = CrossEntropyClassifier(callbacks=[scoring, record], max_epochs=3, lr=0.05,
                                 random_state=0).fit(X, y)
    y_true, y_pred = np.concatenate(record.y_true_), np.concatenate(record.y_pred_)
    assert clf.history[-1, "f1"] == f1_score(y_true, y_pred) > 0


def test_iterator_train_num_workers_zero_is_the_in_memory_loader():
    X, y = _data()
    clf = CrossEntropyClassifier(iterator_train__num_workers=0, max_epochs=2, random_state=0)
    clf.fit(X, y)
    assert isinstance(clf.get_iterator(clf.get_dataset(X, y), training=True), TensorBatchLoader)
    plain = CrossEntropyClassifier(max_epochs=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), plain.predict_proba(X))


def test_iterator_train_torch_sampler_is_honoured():
    X, y = _data((28, 12))
    record = []
    weights = (y == 1).astype(np.float64)  # draw only class 1
    sampler = torch.utils.data.WeightedRandomSampler(weights, 16)
    CrossEntropyClassifier(
        callbacks=[_RecordTrainingTargets(record)], iterator_train__sampler=sampler,
        batch_size=8, max_epochs=2, random_state=0,
    ).fit(X, y)
    assert record == [[1] * 8] * 4  # two epochs of 16 draws, in batches of 8


def test_criterion_instances_are_used_as_given():
    X, y = _data((28, 12))
    weight = torch.tensor([0.3, 0.7])
    given = nn.CrossEntropyLoss(label_smoothing=0.3, weight=weight)
    clf = CrossEntropyClassifier(criterion=given, max_epochs=1, random_state=0).fit(X, y)
    assert clf.criterion_ is not given  # a copy
    assert clf.criterion_.label_smoothing == 0.3
    torch.testing.assert_close(clf.criterion_.weight, weight, rtol=0, atol=0)
    logits, target = clf.forward(X), torch.as_tensor(y)
    torch.testing.assert_close(clf.get_loss(logits, target), given(logits, target))

    clf = FocalLossClassifier(criterion=FocalLoss(gamma=3.0), max_epochs=1, random_state=0)
    assert clf.fit(X, y).criterion_.gamma == 3.0

    with pytest.raises(ValueError, match="cannot reach it"):
        CrossEntropyClassifier(criterion=given, criterion__label_smoothing=0.1,
                               max_epochs=1).fit(X, y)


def test_softmax_module_with_nll_loss_follows_skorch():
    class SoftmaxModule(nn.Module):
        def __init__(self, n_features=4, n_classes=2):
            super().__init__()
            self.linear = nn.Linear(n_features, n_classes)

        def forward(self, X):
            return torch.softmax(self.linear(X), dim=-1)

    X, y = _data((28, 12))
    clf = ImbalancedNetClassifier(SoftmaxModule, criterion=nn.NLLLoss, max_epochs=3,
                                  random_state=0).fit(X, y)
    probabilities, target = clf.forward(X), torch.as_tensor(y)
    # The loss is on log-probabilities (a loss on raw probabilities is negative).
    expected = nn.NLLLoss()(torch.log(probabilities + torch.finfo(torch.float32).eps), target)
    torch.testing.assert_close(clf.get_loss(probabilities, target), expected, rtol=0, atol=0)
    assert min(clf.history[:, "train_loss"]) > 0
    # 'auto' is the identity for NLLLoss: predict_proba is the module's output.
    np.testing.assert_array_equal(clf.predict_proba(X), probabilities.numpy())


def test_predict_on_torch_datasets_equals_predict_on_the_array():
    X, y = _data()
    clf = CrossEntropyClassifier(max_epochs=2, random_state=0).fit(X, y)
    expected_proba, expected = clf.predict_proba(X), clf.predict(X)
    datasets = [
        Dataset(X, y),
        torch.utils.data.TensorDataset(torch.as_tensor(X), torch.as_tensor(y)),
    ]
    for dataset in datasets:
        start = time.perf_counter()
        proba, labels = clf.predict_proba(dataset), clf.predict(dataset)
        assert time.perf_counter() - start < 10.0  # used to grow memory without bound
        np.testing.assert_array_equal(proba, expected_proba)
        np.testing.assert_array_equal(labels, expected)


def test_dataset_class_with_its_arguments_is_honoured():
    built = []

    class MyDataset(Dataset):
        def __init__(self, X, y=None, foo=None):
            super().__init__(X, y)
            built.append(foo)

    X, y = _data()
    clf = CrossEntropyClassifier(dataset=MyDataset, dataset__foo=123, max_epochs=2,
                                 random_state=0).fit(X, y)
    assert built and set(built) == {123}
    assert len(clf.history) == 2


def test_history_instance_is_kept():
    class MyHistory(History):
        pass

    X, y = _data()
    history = MyHistory()
    clf = CrossEntropyClassifier(history=history, max_epochs=2, random_state=0).fit(X, y)
    assert clf.history is history and len(history) == 2
    clf.fit(X, y)  # a new fit starts it afresh
    assert clf.history is history and len(history) == 2


def test_metadata_routing_reaches_the_module_forward():
    calls = []

    class ModuleWithFoo(nn.Module):
        def __init__(self, n_features=4, n_classes=3):
            super().__init__()
            self.linear = nn.Linear(n_features, n_classes)

        def forward(self, X, foo=None):
            calls.append(foo)
            return self.linear(X)

    X, y = _data()
    with sklearn.config_context(enable_metadata_routing=True):
        clf = CrossEntropyClassifier(ModuleWithFoo, max_epochs=1, random_state=0)
        clf.set_fit_request(foo=True)
        clf.fit(X, y, foo=1)
        assert set(calls) == {1}
        calls.clear()
        cross_validate(clf, X, y, cv=2, params={"foo": 7})
        # foo reaches every training forward; predictions for the scores go without it.
        assert set(calls) == {7, None}


def test_forward_on_an_array_in_training_mode():
    X, y = _data()
    clf = CrossEntropyClassifier(max_epochs=1, random_state=0).fit(X, y)
    logits = clf.forward(X, training=True)
    assert isinstance(logits, torch.Tensor) and logits.shape == (len(X), 3)
    torch.testing.assert_close(logits, clf.forward(X), rtol=0, atol=0)  # no dropout


def test_trim_for_prediction_then_clone():
    X, y = _data()
    clf = CrossEntropyClassifier(max_epochs=2, random_state=0).fit(X, y)
    expected = clf.predict_proba(X)
    clf.trim_for_prediction()
    np.testing.assert_array_equal(clf.predict_proba(X), expected)
    unfitted = clone(clf)
    # skorch's trim drops the training parts (criterion, optimizer, iterator_train).
    assert unfitted.criterion is None and unfitted.iterator_train is None
    assert unfitted.get_params(deep=False).keys() == clf.get_params(deep=False).keys()


# ------------------------------------------------------------ conflicting settings
def test_focal_alpha_with_drw_is_refused():
    X, y = _data()
    with pytest.raises(ValueError, match="already has class weights"):
        FocalLossClassifier(alpha=[1.0, 2.0, 3.0], drw=True, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="alpha and class_weight cannot both be set"):
        FocalLossClassifier(alpha=[1.0, 2.0, 3.0], class_weight="balanced",
                            max_epochs=1).fit(X, y)


@pytest.mark.parametrize(
    "estimator, name",
    [
        (FocalLossClassifier(criterion__gamma=2.0), "gamma"),
        (WeightedCrossEntropyClassifier(criterion__weight=torch.ones(3)), "weight"),
        (LDAMClassifier(criterion__max_margin=0.3), "max_margin"),
        (ImbalancedNetClassifier(criterion=ClassBalancedLoss,
                                 criterion__class_counts=torch.ones(3)), "class_counts"),
        (ClassBalancedClassifier(criterion__beta=0.9), "beta"),
    ],
    ids=["focal-gamma", "weight", "ldam-max_margin", "class_counts", "cb-beta"],
)
def test_criterion_parameter_clashing_with_the_estimator_raises(estimator, name):
    X, y = _data()
    with pytest.raises(ValueError) as info:
        estimator.set_params(max_epochs=1).fit(X, y)
    assert str(info.value) == (
        f"criterion__{name} conflicts with the value the estimator derives for {name!r}; "
        "set it through the estimator's own parameter instead."
    )


@pytest.mark.parametrize("make", [
    lambda: FocalLossClassifier(drw=True, drw_start=3, max_epochs=1),
    lambda: LDAMClassifier(drw_start=3, max_epochs=1),
    lambda: LDAMClassifier(drw_beta=0.9, max_epochs=1),
])
def test_the_removed_drw_parameters_are_refused(make):
    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((TypeError, ValueError), match=r"unexpected argument\(s\) drw_"):
            make().fit(X, y)
