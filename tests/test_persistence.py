"""Checkpoints, resuming an interrupted fit and weights-only persistence."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from skorch.callbacks import Callback, Checkpoint, LoadInitState

from skimbal import CrossEntropyClassifier

SMALL = dict(hidden_layer_sizes=(8,), random_state=0)


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=200, n_features=5, weights=[0.8, 0.2], random_state=0)


class _InterruptAfter(Callback):
    """Simulate Ctrl-C after ``n`` finished epochs."""

    def __init__(self, n):
        self.n = n

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.n:
            raise KeyboardInterrupt


def test_interrupted_fit_resumes_from_last_finished_epoch(data, tmp_path):
    X, y = data
    checkpoint = Checkpoint(dirname=str(tmp_path), monitor=None)
    interrupted = CrossEntropyClassifier(
        max_epochs=8, callbacks=[checkpoint, _InterruptAfter(3)], **SMALL
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


@pytest.mark.parametrize("use_safetensors", [False, True])
def test_weights_only_save_and_load(data, tmp_path, use_safetensors):
    X, y = data
    clf = CrossEntropyClassifier(max_epochs=3, **SMALL).fit(X, y)
    path = tmp_path / ("model.safetensors" if use_safetensors else "model.pt")
    clf.save_params(f_params=str(path), use_safetensors=use_safetensors)

    # The receiving side fits on a few rows to set up classes and sizes, then loads.
    fresh = CrossEntropyClassifier(max_epochs=1, **SMALL).fit(X, y)
    fresh.load_params(f_params=str(path), use_safetensors=use_safetensors)
    np.testing.assert_array_equal(fresh.predict_proba(X), clf.predict_proba(X))
