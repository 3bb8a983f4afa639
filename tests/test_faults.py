"""Faults a user meets: divergence, models moved off the GPU, bad input, unsafe files.

- a fit whose loss or weights stop being finite numbers stops with a
  :class:`~skimbal._core.components.DivergenceError` naming the epoch and the
  likely cause, and ``predict_proba`` never returns NaN;
- a model fitted on CUDA unpickles on a CPU-only machine: every tensor of a fitted
  estimator travels in the parts skorch maps to an available device (simulated on
  the CPU), and pickles hold no training data;
- 3-D X with the default MLP and a one-row last batch with batch normalisation get
  a clear answer;
- CIFAR-10 batches are read without running code.
"""

import io
import os
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification
from skorch.callbacks import Callback

from skimbal import BBNClassifier, ClusterKNNClassifier, CrossEntropyClassifier, DecoupledClassifier
from skimbal._core.components import DivergenceError
from skimbal.datasets import load_cifar10

from ._estimators import ESTIMATORS

IDS = [type(e).__name__ for e in ESTIMATORS]

# Losses on unit-norm embeddings or cosine logits stay finite whatever the weights
# (LDAM and max-margin scale cosines), and the cluster-wise kNN trains nothing: these
# cannot diverge. LMLE's quintuplet loss measures distances on the sphere, but its
# default objective adds the cross-entropy of the head (ce_weight=1), which can.
BOUNDED = {"LDAMClassifier", "MaxMarginClassifier", "ClusterKNNClassifier"}


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=120, n_features=5, n_informative=3, n_classes=3,
                               weights=[0.6, 0.3, 0.1], random_state=0)
    return X.astype(np.float32), y


def _configured(estimator, callback=None, **params):
    """A clone with ``params`` (and ``callback`` appended), set on stage one if nested."""
    estimator = clone(estimator)
    target = estimator.estimator if isinstance(estimator, DecoupledClassifier) else estimator
    if isinstance(target, ClusterKNNClassifier):
        return estimator
    target.set_params(**params)
    if callback is not None:
        target.set_params(callbacks=[*(target.callbacks or []), callback])
    return estimator


def _check_divergence_message(error):
    message = str(error)
    assert "Input X contains" not in message
    assert "epoch" in message and "learning rate" in message
    return message


@pytest.mark.parametrize("fault", ["lr=1e3", "features of 1e30"])
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_a_diverging_fit_stops_with_a_clear_error(estimator, fault, data):
    X, y = data
    lr = 1e3 if fault == "lr=1e3" else 1e-3
    X = X if fault == "lr=1e3" else X * np.float32(1e30)
    # SGD: Adam's steps are bounded by lr, so its weights grow but stay finite.
    clf = _configured(estimator, optimizer=torch.optim.SGD, lr=lr, max_epochs=30)
    if type(estimator).__name__ in BOUNDED:
        clf.fit(X, y)
        assert np.isfinite(clf.predict_proba(X)).all()
        return
    with pytest.raises(DivergenceError) as error:
        clf.fit(X, y)
    assert isinstance(error.value, FloatingPointError)
    message = _check_divergence_message(error.value)
    if isinstance(estimator, DecoupledClassifier):
        assert message.startswith("Stage one (CrossEntropyClassifier): ")


class _PoisonInEpoch(Callback):
    """Turn the weights of parameters named ``*name*`` into NaN during epoch ``epoch``."""

    def __init__(self, epoch=2, name=""):
        self.epoch = epoch
        self.name = name

    def on_batch_end(self, net, training=False, **kwargs):
        if training and len(net.history) == self.epoch:
            with torch.no_grad():
                for name, parameter in net.module_.named_parameters():
                    if self.name in name:
                        parameter.fill_(float("nan"))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_non_finite_weights_stop_every_network_in_their_epoch(estimator, data):
    if isinstance(estimator, ClusterKNNClassifier):
        pytest.skip("no network")
    X, y = data
    clf = _configured(estimator, _PoisonInEpoch(epoch=2), max_epochs=4)
    with pytest.raises(DivergenceError, match="epoch 2[,;]") as error:
        clf.fit(X, y)
    _check_divergence_message(error.value)


def test_bbn_stops_when_only_a_branch_diverges(data):
    # The loss can stay finite while one branch's weights are NaN (alpha = 1 hides
    # the re-balancing branch in the first epoch): the weights are checked too.
    X, y = data
    clf = BBNClassifier(hidden_layer_sizes=(8, 8), max_epochs=3, random_state=0,
                        callbacks=[_PoisonInEpoch(epoch=1, name="rebalancing_block")])
    with pytest.raises(DivergenceError, match="rebalancing_block.*after epoch 1"):
        clf.fit(X, y)


def _poison_networks(estimator):
    for net in (estimator, getattr(estimator, "estimator_", None)):
        if hasattr(net, "module_"):
            with torch.no_grad():
                for parameter in net.module_.parameters():
                    parameter.fill_(float("nan"))
            return


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_predict_proba_never_returns_nan(estimator, data):
    X, y = data
    clf = _configured(estimator, max_epochs=2).fit(X, y)
    assert np.isfinite(clf.predict_proba(X)).all()
    if isinstance(estimator, ClusterKNNClassifier):
        # Distances in float64: features of 1e30 neither overflow nor give NaN.
        far = ClusterKNNClassifier(random_state=0).fit(X * np.float32(1e30), y)
        np.testing.assert_array_equal(far.predict(X * np.float32(1e30)), clf.predict(X))
        return
    _poison_networks(clf)
    with pytest.raises(DivergenceError, match="NaN or infinite values"):
        clf.predict_proba(X)


# ------------------------------------------------------- GPU -> CPU portability
_TORCH_STATE = (torch.Tensor, torch.nn.Module, torch.Generator, torch.optim.Optimizer,
                torch.UntypedStorage, torch.TypedStorage)


class _TorchStateFinder(pickle.Pickler):
    """Pickle to nowhere, listing every torch object met outside skorch's device map."""

    def __init__(self):
        super().__init__(io.BytesIO(), protocol=pickle.HIGHEST_PROTOCOL)
        self.found = []

    def reducer_override(self, obj):
        if isinstance(obj, _TORCH_STATE):
            self.found.append(type(obj).__name__)
        return NotImplemented


def _unmapped_torch_state(estimator):
    """Attributes whose pickle holds tensors that skorch does not map to a device.

    A skorch net pickles its components (``cuda_dependent_attributes_``) apart and
    unpickles them with ``map_location``; anything else is plain pickle, whose CUDA
    tensors fail to load without a GPU. Nested nets map their own components.
    """
    state = estimator.__getstate__() if hasattr(estimator, "__getstate__") else vars(estimator)
    offenders = {}
    for name, value in state.items():
        if name == "__cuda_dependent_attributes__":
            continue
        finder = _TorchStateFinder()
        finder.dump(value)
        if finder.found:
            offenders[name] = sorted(set(finder.found))
    return offenders


@pytest.fixture(scope="module")
def many_rows():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [3000, 2000, 1000])
    X = (rng.normal(size=(len(y), 20)) + y[:, None]).astype(np.float32)  # 480 kB
    return X, y


def _cuda_only(data):
    raise RuntimeError("Attempting to deserialize object on a CUDA device (simulated)")


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_fitted_estimators_load_without_the_training_device(estimator, many_rows, monkeypatch):
    X, y = many_rows
    clf = _configured(estimator, max_epochs=2, batch_size=512).fit(X, y)
    nested = [clf] + [getattr(clf, name) for name in ("estimator_", "head_estimator_")
                      if hasattr(clf, name)]
    for part in nested:
        assert _unmapped_torch_state(part) == {}, type(part).__name__
    blob = pickle.dumps(clf)
    # LMLE's model includes its cluster centres (one per 20 training rows of a class
    # by default) with their labels, held twice: in the module's buffers and the kNN.
    knn = getattr(clf, "cluster_knn_", None)
    centres = 0 if knn is None else knn.cluster_centers_.nbytes + 3 * 8 * len(knn.cluster_labels_)
    assert len(blob) < 120_000 + 2 * centres and X[:8].tobytes() not in blob  # no training data
    # Plain pickle loads tensors through torch.storage._load_from_bytes, skorch's
    # unpickler with a map_location: with the former failing as it would for CUDA
    # tensors on a CPU-only machine, the model must still load.
    monkeypatch.setattr(torch.storage, "_load_from_bytes", _cuda_only)
    loaded = pickle.loads(blob)
    monkeypatch.undo()
    np.testing.assert_array_equal(loaded.predict_proba(X[:50]), clf.predict_proba(X[:50]))


class _KeepsATensor(Callback):
    """An offender: a callback keeping a tensor of the module after training."""

    def on_train_end(self, net, **kwargs):
        self.last_weight_ = net.module_.head.weight.detach().clone()


def test_the_simulation_catches_a_tensor_outside_the_device_map(data, monkeypatch):
    X, y = data
    clf = CrossEntropyClassifier(max_epochs=1, random_state=0, callbacks=[_KeepsATensor()])
    clf.fit(X, y)
    assert _unmapped_torch_state(clf) == {"callbacks": ["Tensor", "TypedStorage"],
                                          "callbacks_": ["Tensor", "TypedStorage"]}
    blob = pickle.dumps(clf)
    monkeypatch.setattr(torch.storage, "_load_from_bytes", _cuda_only)
    with pytest.raises(RuntimeError, match="CUDA device"):
        pickle.loads(blob)


# ---------------------------------------------------------------- bad input
def test_3d_input_to_the_default_mlp_names_the_expected_shape(data):
    X, y = data
    with pytest.raises(ValueError, match=r"2-D X of shape \(n_samples, n_features\).*"
                                         r"\(120, 5, 1\).*Pass a module"):
        CrossEntropyClassifier(max_epochs=1).fit(X[:, :, None], y)
    clf = CrossEntropyClassifier(max_epochs=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"2-D X.*\(120, 5, 1\)"):
        clf.predict(X[:, :, None])


class _BatchNormNet(torch.nn.Module):
    def __init__(self, n_features, n_classes):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(n_features, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
            torch.nn.Linear(8, n_classes),
        )

    def forward(self, x):
        return self.layers(x)


@pytest.mark.parametrize("sampler", [None, "class-balanced"])
def test_a_one_row_last_batch_joins_the_batch_before(data, sampler):
    X, y = data
    X, y = X[:65], y[:65]  # batches of 32: 32, 32 and 1 row
    clf = CrossEntropyClassifier(_BatchNormNet, batch_size=32, max_epochs=2, sampler=sampler,
                                 random_state=0).fit(X, y)
    assert clf.history[-1, "batches", :, "train_batch_size"] == [32, 33]
    assert np.isfinite(clf.predict_proba(X[:1])).all()  # evaluation mode: one row is fine


# ------------------------------------------------------------- unsafe files
def test_cifar_batches_are_read_without_running_code(tmp_path):
    for i in range(1, 6):
        with open(tmp_path / f"data_batch_{i}", "wb") as file:
            pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}, file,
                        protocol=2)

    class RunsCode:
        def __reduce__(self):
            return (os.remove, (str(tmp_path / "data_batch_1"),))

    with open(tmp_path / "test_batch", "wb") as file:
        pickle.dump({b"data": RunsCode(), b"labels": [0]}, file)
    with pytest.raises(ValueError, match="refusing to load posix.remove|refusing to load nt"):
        load_cifar10(tmp_path)
    assert (tmp_path / "data_batch_1").exists()
