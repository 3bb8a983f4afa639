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

from skimbal import CrossEntropyClassifier
from skimbal.callbacks import DeferredReweighting, WarmupMultiStepLR
from skimbal.gpu import GPUFastPathMixin, state_fingerprint, with_gpu_fast_path
from skimbal.gpu._fast_path import _GRAPH_STEPS
from skimbal.gpu._graph import _GraphedTrainStep


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


def test_sample_weighted_batches_go_through_graphs(stand_in):
    # With sample_weight the batch target is a Target(y, sample_weight): graphed too.
    X, y = _data()
    weight = np.linspace(0.5, 2.0, len(y))
    eager = CrossEntropyClassifier(**SETTINGS).fit(X, y, sample_weight=weight)
    runners = []
    original_init = _GraphedTrainStep.__init__

    def spy(self, net):
        runners.append(self)
        original_init(self, net)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_GraphedTrainStep, "__init__", spy)
        net = _CPUFastCE(**SETTINGS, graph_warmup_steps=1)
        stand_in.net = net
        fast = net.fit(X, y, sample_weight=weight)
    np.testing.assert_array_equal(fast.predict_proba(X), eager.predict_proba(X))
    assert fast.history_[:, "train_loss"] == eager.history_[:, "train_loss"]
    assert runners[0].disabled is None
    assert runners[0].n_captures == 2 and runners[0].n_replays > 0


def test_target_batches_signature_copy_and_map():
    from skimbal._core.batch import ModelOutput, Target
    from skimbal.gpu._graph import _batch_signature, _copy_into, _map_tensors

    X = torch.zeros(3, 2)
    target = Target(torch.tensor([0, 1, 0]), torch.ones(3), cluster_ids=torch.tensor([4, 5, 6]))
    signature = _batch_signature(X, target)
    assert signature is not None
    # Same shapes, same signature; another field, shape or dtype is another graph.
    same = Target(torch.tensor([1, 1, 1]), torch.zeros(3), cluster_ids=torch.tensor([0, 0, 0]))
    assert _batch_signature(X, same) == signature
    assert _batch_signature(X, Target(target.y, target.sample_weight)) != signature
    assert _batch_signature(X, Target(target.y, None, **target.extras)) != signature
    assert _batch_signature(X, Target(target.y.float(), target.sample_weight)) != signature
    assert _batch_signature(X, torch.tensor([0, 1, 0])) != signature
    nested = Target(target.y, reversed=Target(target.y, torch.ones(3)))
    assert _batch_signature(X, nested) != _batch_signature(X, Target(target.y, reversed=target))
    # Non-tensor parts cannot be graphed.
    assert _batch_signature(X, {"y": target.y}) is None
    assert _batch_signature(X, Target(target.y, names=["a", "b", "c"])) is None
    assert _batch_signature([[0.0, 0.0]], target.y) is None

    static = _map_tensors(target, torch.clone)
    assert isinstance(static, Target) and static.y is not target.y
    assert static.extras["cluster_ids"] is not target.extras["cluster_ids"]
    _copy_into(static, same)
    assert static.y.tolist() == [1, 1, 1] and static.sample_weight.tolist() == [0, 0, 0]
    assert static.extras["cluster_ids"].tolist() == [0, 0, 0]
    assert target.y.tolist() == [0, 1, 0]  # the copy did not touch the source
    # The model output keeps its type (bf16 outputs are cast back to float32).
    logits = torch.ones(2, dtype=torch.bfloat16)
    output = _map_tensors(ModelOutput(logits, None), torch.Tensor.float)
    assert isinstance(output, ModelOutput) and output.logits.dtype == torch.float32
    assert output.embedding is None


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


class _ReplacingDeferredReweighting(DeferredReweighting):
    """DRW that puts a new weight tensor on the criterion at the switch."""

    def apply(self, net, epoch):
        if epoch == self.switch_epoch_:
            net.criterion_.weight = net.criterion_.weight.clone()
        super().apply(net, epoch)


@pytest.mark.parametrize(
    "drw_class, n_captures",
    [
        # DRW writes the weights in place: the graphs read the new values, no re-capture.
        (DeferredReweighting, 1 + 1),
        # A new tensor at the switch (epoch 3) changes the fingerprint: both re-captured.
        (_ReplacingDeferredReweighting, 1 + 1 + 2),
    ],
)
def test_deferred_reweighting_and_validation_through_graphs(stand_in, drw_class, n_captures):
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
            stand_in, callbacks=[drw_class(start=3)], validation_fraction=0.2,
            graph_warmup_steps=1,
        )
    np.testing.assert_array_equal(fast.predict_proba(X), eager.predict_proba(X))
    for key in ("train_loss", "valid_loss", "valid_bacc"):
        assert fast.history_[:, key] == eager.history_[:, key]
    torch.testing.assert_close(fast.criterion_.weight, eager.criterion_.weight, rtol=0, atol=0)
    assert not torch.equal(eager.criterion_.weight, torch.ones(2))
    # 57 training rows: three batches of 16 and one of 9. Epoch 0 captures the
    # full batch, epoch 1 the last one.
    assert runners[0].n_captures == n_captures
    assert runners[0].n_replays > 0
    assert runners[0].disabled is None
