"""The GPU fast path, exercised on the CPU with a stand-in for CUDA graphs.

There is no GPU in the test environment. ``GPUFastPathMixin`` is switched on for
the CPU in a test subclass and ``torch.cuda.graph`` is replaced by a stand-in
with the same contract: a capture records the step without changing any state,
a replay runs it and writes its results into the captured output tensors. The
fast path must then train exactly like the eager estimator.
"""

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone

from skimbal import CrossEntropyClassifier, GPUFastPathMixin, with_gpu_fast_path
from skimbal._gpu import _GRAPH_STEPS, _GraphedTrainStep, state_fingerprint
from skimbal.callbacks import WarmupMultiStepLR


class _StandInGraphs:
    """Capture = run on a snapshot and roll back; replay = run, write outputs in place."""

    def __init__(self, fail=False):
        self.fail = fail
        self.net = None

    def capture(self, fn):
        if self.fail:
            raise RuntimeError("operation not permitted when stream is capturing")
        net = self.net
        saved = (
            copy.deepcopy(net.module_.state_dict()),
            copy.deepcopy(net.optimizer_.state_dict()),
            torch.get_rng_state(),
        )
        outputs = fn()
        net.module_.load_state_dict(saved[0])
        net.optimizer_.load_state_dict(saved[1])
        torch.set_rng_state(saved[2])
        return (fn, outputs), outputs

    @staticmethod
    def replay(graph):
        fn, static = graph
        fresh = fn()
        with torch.no_grad():
            for key, value in static.items():
                if isinstance(value, torch.Tensor):
                    value.copy_(fresh[key])

    @staticmethod
    def run_warmup(fn):
        return fn()


class _CPUFastCE(GPUFastPathMixin, CrossEntropyClassifier):
    _fast_path_devices = ("cpu",)


@pytest.fixture
def stand_in(monkeypatch):
    backend = _StandInGraphs()
    monkeypatch.setattr(_GraphedTrainStep, "backend", backend)
    return backend


def _data(n=70, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] + 0.3 * rng.normal(size=n) > 0.5).astype(int)
    return X, y


SETTINGS = dict(
    optimizer=torch.optim.SGD,
    lr=0.1,
    optimizer__momentum=0.9,
    batch_size=16,  # 70 rows: four batches of 16 and one of 6
    max_epochs=6,
    hidden_layer_sizes=(8,),
    random_state=0,
)


def _schedule():
    return [WarmupMultiStepLR(warmup=2, milestones=(4,), factors=(0.1,))]


def _fit_with_stand_in(stand_in, **params):
    X, y = _data()
    net = _CPUFastCE(**{**SETTINGS, **params})
    stand_in.net = net
    return net.fit(X, y)


def test_graph_path_trains_exactly_like_eager(stand_in):
    X, y = _data()
    eager = CrossEntropyClassifier(**SETTINGS, callbacks=_schedule()).fit(X, y)
    steps = {}
    original_call = _GraphedTrainStep.__call__

    def spy(self, net, batch):
        steps["runner"] = self
        return original_call(self, net, batch)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_GraphedTrainStep, "__call__", spy)
        fast = _fit_with_stand_in(stand_in, callbacks=_schedule(), graph_warmup_steps=1)
    np.testing.assert_array_equal(fast.predict_proba(X), eager.predict_proba(X))
    assert fast.history_[:, "train_loss"] == eager.history_[:, "train_loss"]
    assert fast.history_[:, "lr"] == eager.history_[:, "lr"]
    runner = steps["runner"]
    assert runner.disabled is None
    # One warm-up step per batch shape: epoch 0 captures the full batch (16 rows)
    # at its second batch and warms up the last one (6 rows). The lr changes at
    # epochs 1 (end of warm-up) and 4 re-capture both shapes.
    assert runner.n_captures == 1 + 2 + 2
    assert runner.n_replays > 0
    # The losses in the history are floats, read back at the end of each epoch.
    assert all(isinstance(v, float) for v in fast.history_[-1, "batches", :, "train_loss"])
    # Graph state is released after the fit.
    assert fast not in _GRAPH_STEPS


def test_capture_failure_falls_back_to_eager(stand_in):
    stand_in.fail = True
    X, y = _data()
    eager = CrossEntropyClassifier(**SETTINGS).fit(X, y)
    with pytest.warns(RuntimeWarning, match="capture failed with RuntimeError"):
        fast = _fit_with_stand_in(stand_in)
    np.testing.assert_array_equal(fast.predict_proba(X), eager.predict_proba(X))


def test_grad_callbacks_disable_capture(stand_in):
    from skorch.callbacks import GradientNormClipping

    with pytest.warns(RuntimeWarning, match="on_grad_computed"):
        _fit_with_stand_in(stand_in, callbacks=[GradientNormClipping(1.0)], max_epochs=1)


def test_cpu_behaviour_unchanged():
    # Off CUDA the mixin defers to the estimator: identical results, no graphs.
    X, y = _data()
    fast_class = with_gpu_fast_path(CrossEntropyClassifier)
    fast = fast_class(**SETTINGS, channels_last=True, bf16=True).fit(X, y)
    eager = CrossEntropyClassifier(**SETTINGS).fit(X, y)
    np.testing.assert_array_equal(fast.predict_proba(X), eager.predict_proba(X))
    assert fast.history_[:, "train_loss"] == eager.history_[:, "train_loss"]


def test_fingerprint_tracks_what_a_graph_freezes():
    X, y = _data()
    net = CrossEntropyClassifier(**SETTINGS).fit(X, y)
    base, _ = state_fingerprint(net)
    assert state_fingerprint(net)[0] == base
    # A learning-rate change is a new fingerprint.
    net.optimizer_.param_groups[0]["lr"] = 0.01
    changed, _ = state_fingerprint(net)
    assert changed != base
    net.optimizer_.param_groups[0]["lr"] = 0.1
    assert state_fingerprint(net)[0] == base
    # Replacing the criterion's weight tensor (what DRW does) is a change ...
    net.criterion_.weight = torch.ones(2)
    with_weight, _ = state_fingerprint(net)
    assert with_weight != base
    # ... updating it in place is not: the graph reads the memory.
    net.criterion_.weight.mul_(2.0)
    assert state_fingerprint(net)[0] == with_weight
    # Freezing parameters or changing a scalar attribute of the loss are changes.
    net.module_.head.weight.requires_grad_(False)
    frozen, _ = state_fingerprint(net)
    assert frozen != with_weight
    net.criterion_.label_smoothing = 0.1
    assert state_fingerprint(net)[0] != frozen


def test_fast_class_is_cached_clonable_and_picklable():
    fast_class = with_gpu_fast_path(CrossEntropyClassifier)
    assert with_gpu_fast_path(CrossEntropyClassifier) is fast_class
    assert with_gpu_fast_path(fast_class) is fast_class
    est = fast_class(max_epochs=2, hidden_layer_sizes=(4,), bf16=True, random_state=0)
    params = clone(est).get_params()
    assert params["bf16"] is True and params["cuda_graph"] is True
    X, y = _data()
    est.fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    assert type(restored) is fast_class
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        copy.deepcopy(est)


@pytest.mark.parametrize("steps", [0, 1.5, None])
def test_invalid_graph_warmup_steps(steps):
    X, y = _data()
    with pytest.raises(ValueError, match="graph_warmup_steps"):
        with_gpu_fast_path(CrossEntropyClassifier)(graph_warmup_steps=steps).fit(X, y)


def test_deferred_reweighting_and_validation_through_graphs(stand_in):
    from skimbal.callbacks import DeferredReweighting

    X, y = _data()
    eager = CrossEntropyClassifier(
        **SETTINGS, validation_fraction=0.2, callbacks=[DeferredReweighting(start=3)]
    ).fit(X, y)
    runners = []
    original_init = _GraphedTrainStep.__init__

    def spy(self, net):
        runners.append(self)
        original_init(self, net)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_GraphedTrainStep, "__init__", spy)
        fast = _fit_with_stand_in(
            stand_in, callbacks=[DeferredReweighting(start=3)], validation_fraction=0.2,
            graph_warmup_steps=1,
        )
    np.testing.assert_array_equal(fast.predict_proba(X), eager.predict_proba(X))
    for key in ("train_loss", "valid_loss", "valid_bacc"):
        assert fast.history_[:, key] == eager.history_[:, key]
    # 57 training rows: three batches of 16 and one of 9. Epoch 0 captures the
    # full batch, epoch 1 the last one; the switch to class weights at epoch 3
    # replaces criterion.weight and re-captures both.
    assert runners[0].n_captures == 1 + 1 + 2
    assert runners[0].disabled is None
