"""Tests of the L-Softmax margin function, logits, annealing and estimator."""

import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification
from skorch.callbacks import Callback, Checkpoint, LoadInitState

from skimbal import LargeMarginSoftmaxClassifier
from skimbal.callbacks import LargeMarginAnnealing
from skimbal.losses import large_margin_logits, large_margin_psi
from skimbal.nn import LargeMarginLinear, LargeMarginSoftmaxNetwork

from ._helpers import InterruptAfter

PI = math.pi


def psi_at(theta, margin):
    cos = torch.cos(torch.as_tensor(theta, dtype=torch.float64))
    return large_margin_psi(cos, margin)


@pytest.mark.parametrize(
    "margin, theta, expected",
    [
        # m = 2: k = 0 on [0, pi/2], k = 1 on [pi/2, pi].
        (2, 0.0, 1.0),
        (2, PI / 4, 0.0),  # cos(pi/2)
        (2, PI / 3, -0.5),  # cos(2 pi/3)
        (2, PI / 2, -1.0),  # -cos(pi) - 2 = cos(pi)
        (2, 3 * PI / 4, -2.0),  # -cos(3 pi/2) - 2
        (2, PI, -3.0),  # -cos(2 pi) - 2
        # m = 3: k = 1 on [pi/3, 2 pi/3] and k = 2 on [2 pi/3, pi].
        (3, PI / 3, -1.0),
        (3, PI / 2, -2.0),  # -cos(3 pi/2) - 2
        (3, 2 * PI / 3, -3.0),
        (3, PI, -5.0),  # cos(3 pi) - 4
        # m = 4 at theta = pi/8: cos(pi/2) with k = 0.
        (4, PI / 8, 0.0),
        (4, PI, -7.0),  # 1 - 2m
    ],
)
def test_psi_at_hand_picked_angles(margin, theta, expected):
    assert psi_at(theta, margin).item() == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("margin", [2, 3, 4, 5])
def test_psi_is_continuous_at_the_interval_ends(margin):
    for k in range(1, margin):
        edge = k * PI / margin
        left, right = psi_at(edge - 1e-9, margin), psi_at(edge + 1e-9, margin)
        assert left.item() == pytest.approx(right.item(), abs=1e-6)
        assert left.item() == pytest.approx(-(2 * k) + (-1) ** k * math.cos(k * PI), abs=1e-6)


@pytest.mark.parametrize("margin", [1, 2, 3, 4])
def test_psi_is_decreasing_and_below_cosine(margin):
    theta = torch.linspace(0, PI, 2001, dtype=torch.float64)
    psi = large_margin_psi(torch.cos(theta), margin)
    assert (psi.diff() < 0).all()
    assert (psi <= torch.cos(theta) + 1e-12).all()
    assert psi[0].item() == pytest.approx(1.0)
    assert psi[-1].item() == pytest.approx(1 - 2 * margin)


def test_psi_with_margin_one_is_the_cosine():
    cos = torch.linspace(-1, 1, 101, dtype=torch.float64)
    torch.testing.assert_close(large_margin_psi(cos, 1), cos)


def test_psi_gradient_is_finite_at_zero_and_pi():
    cos = torch.tensor([1.0, -1.0, 0.3], requires_grad=True)
    large_margin_psi(cos, 3).sum().backward()
    assert torch.isfinite(cos.grad).all()


@pytest.mark.parametrize("margin", [0, 2.0, "2"])
def test_psi_rejects_bad_margins(margin):
    with pytest.raises(ValueError, match="margin"):
        large_margin_psi(torch.zeros(2), margin)


def test_logits_with_margin_one_equal_plain_softmax_logits():
    torch.manual_seed(0)
    x, w, y = torch.randn(20, 6), torch.randn(4, 6), torch.randint(0, 4, (20,))
    for mix in (0.0, 3.0):
        torch.testing.assert_close(large_margin_logits(x, w, y, margin=1, mix=mix), x @ w.T)


def test_target_logit_is_norms_times_psi_mixed_with_the_plain_logit():
    x = torch.tensor([[2.0, 0.0]], dtype=torch.float64)
    w = torch.tensor([[1.0, 1.0], [0.0, 3.0]], dtype=torch.float64)  # theta_0 = pi/4
    y = torch.tensor([0])
    norms = 2.0 * math.sqrt(2.0)
    pure = large_margin_logits(x, w, y, margin=2, mix=0.0)
    torch.testing.assert_close(pure, torch.tensor([[norms * 0.0, 0.0]], dtype=torch.float64))
    mixed = large_margin_logits(x, w, y, margin=2, mix=3.0)
    expected = (3.0 * 2.0 + norms * 0.0) / 4.0  # plain logit w_0.x = 2
    assert mixed[0, 0].item() == pytest.approx(expected)
    assert mixed[0, 1].item() == 0.0
    with pytest.raises(ValueError, match="mix"):
        large_margin_logits(x, w, y, margin=2, mix=-1.0)


def test_annealing_schedule_values():
    schedule = LargeMarginAnnealing(base=1000.0, gamma=0.12, power=1.0, minimum=0.0)
    assert schedule.mix_at(0) == 1000.0
    assert schedule.mix_at(100) == pytest.approx(1000.0 / 13.0)
    floored = LargeMarginAnnealing(base=10.0, gamma=1.0, power=2.0, minimum=0.5)
    assert floored.mix_at(1) == pytest.approx(2.5)
    assert floored.mix_at(100) == 0.5


def small_problem():
    X, y = make_classification(
        n_samples=120, n_features=5, n_informative=3, n_redundant=0, n_classes=3,
        n_clusters_per_class=1, random_state=0,
    )
    return X.astype(np.float32), y


def test_estimator_anneals_the_head_once_per_training_batch():
    X, y = small_problem()
    clf = LargeMarginSoftmaxClassifier(
        margin=3, callbacks__large_margin_annealing__base=50.0,
        callbacks__large_margin_annealing__gamma=1.0,
        callbacks__large_margin_annealing__power=1.0,
        callbacks__large_margin_annealing__minimum=2.0,
        hidden_layer_sizes=(8,), max_epochs=3, batch_size=40, random_state=0,
    ).fit(X, y)
    assert isinstance(clf.module_, LargeMarginSoftmaxNetwork)
    assert isinstance(clf.module_.head, LargeMarginLinear)
    assert clf.module_.head.margin == 3
    # 3 batches x 3 epochs = 9 iterations; the last one used t = 8.
    assert clf.module_.head.mix == pytest.approx(max(2.0, 50.0 / 9.0))
    with pytest.raises(ValueError, match="gamma"):
        LargeMarginSoftmaxClassifier(
            callbacks__large_margin_annealing__gamma=-1.0, max_epochs=1
        ).fit(X, y)


@pytest.mark.parametrize("name", ["mix_base", "mix_gamma", "mix_power", "mix_min"])
def test_annealing_is_configured_on_the_callback_only(name):
    X, y = small_problem()
    with pytest.raises(ValueError, match=name):
        LargeMarginSoftmaxClassifier(**{name: 1.0}, max_epochs=1).fit(X, y)


@pytest.mark.parametrize("margin, match", [(0, "margin"), (2.5, "margin"), ("2", "margin")])
def test_estimator_rejects_bad_margins(margin, match):
    X, y = small_problem()
    with pytest.raises(ValueError, match=match):
        LargeMarginSoftmaxClassifier(margin=margin, max_epochs=1).fit(X, y)


def test_estimator_trains_on_margin_logits_and_predicts_with_plain_ones():
    X, y = small_problem()
    clf = LargeMarginSoftmaxClassifier(
        margin=2, callbacks__large_margin_annealing__base=0.0, hidden_layer_sizes=(8,),
        max_epochs=2, random_state=0,
    ).fit(X, y)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    features = clf.module_.forward_features(Xt)
    plain = features @ clf.module_.head.weight.T
    torch.testing.assert_close(torch.as_tensor(clf.decision_function(X)), plain.detach())
    step = clf.train_step_single((Xt, yt))
    expected = large_margin_logits(features, clf.module_.head.weight, yt, margin=2, mix=0.0)
    torch.testing.assert_close(step["y_pred"], expected)
    assert step["loss"].item() > torch.nn.functional.cross_entropy(plain, yt).item()
    # The validation and prediction passes get no target: plain logits.
    torch.testing.assert_close(clf.module_(Xt), plain)


def test_estimator_needs_the_embedding_protocol():
    X, y = small_problem()
    with pytest.raises(ValueError, match="embedding protocol"):
        LargeMarginSoftmaxClassifier(module=torch.nn.Linear, module__in_features=5,
                                     module__out_features=3, max_epochs=1).fit(X, y)


class RecordMix(Callback):
    """Append the head's ``mix`` of every training batch to ``log`` (after the annealing)."""

    def __init__(self, log):
        self.log = log

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.log.append(net.module_.head.mix)


ANNEALED = dict(
    callbacks__large_margin_annealing__base=100.0, callbacks__large_margin_annealing__gamma=0.5,
    hidden_layer_sizes=(8,), batch_size=40, random_state=0,
)


def test_annealing_continues_across_partial_fit():
    X, y = small_problem()
    whole_log, split_log = [], []
    whole = LargeMarginSoftmaxClassifier(
        max_epochs=4, callbacks=[RecordMix(whole_log)], **ANNEALED
    ).fit(X, y)
    split = LargeMarginSoftmaxClassifier(
        max_epochs=1, callbacks=[RecordMix(split_log)], **ANNEALED
    )
    for _ in range(4):
        split.partial_fit(X, y)
    schedule = LargeMarginAnnealing(base=100.0, gamma=0.5)
    assert whole_log == [schedule.mix_at(t) for t in range(12)]  # 3 batches x 4 epochs
    assert split_log == whole_log
    np.testing.assert_allclose(split.predict_proba(X), whole.predict_proba(X), rtol=1e-5)


def test_annealing_continues_after_a_checkpoint_resume(tmp_path):
    X, y = small_problem()
    whole_log, first_log, rest_log = [], [], []
    whole = LargeMarginSoftmaxClassifier(
        max_epochs=4, callbacks=[RecordMix(whole_log)], **ANNEALED
    ).fit(X, y)
    checkpoint = Checkpoint(dirname=str(tmp_path), monitor=None)
    interrupted = LargeMarginSoftmaxClassifier(
        max_epochs=4, callbacks=[checkpoint, InterruptAfter(2), RecordMix(first_log)], **ANNEALED
    ).fit(X, y)
    assert len(interrupted.history) == 2
    resumed = LargeMarginSoftmaxClassifier(
        max_epochs=4, callbacks=[checkpoint, LoadInitState(checkpoint), RecordMix(rest_log)],
        **ANNEALED,
    ).fit(X, y)
    assert len(resumed.history) == 4
    assert first_log == whole_log[:6] and rest_log == whole_log[6:]
    np.testing.assert_array_equal(resumed.predict_proba(X), whole.predict_proba(X))


def test_fitted_estimator_clones_and_pickles_without_the_training_data():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [2400, 1000, 600])
    X = (rng.normal(size=(len(y), 20)) + y[:, None]).astype(np.float32)  # 320 kB
    clf = LargeMarginSoftmaxClassifier(hidden_layer_sizes=(8,), max_epochs=1,
                                       random_state=0).fit(X, y)
    fresh = clone(clf)
    assert fresh.get_params()["margin"] == 2 and "module_" not in vars(fresh)
    annealing = dict(clf.callbacks_)["large_margin_annealing"]
    assert annealing.heads_ == []  # no second reference to the module's head
    blob = pickle.dumps(clf)
    assert len(blob) < X.nbytes / 10
    np.testing.assert_array_equal(pickle.loads(blob).predict(X[:100]), clf.predict(X[:100]))
