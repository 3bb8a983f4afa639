"""Tests of deferred re-weighting (DRW) and deferred re-sampling (DRS)."""

import numpy as np
import pytest
import torch
from imblearn.over_sampling import SMOTE
from imblearn.under_sampling import RandomUnderSampler
from skorch.callbacks import Callback, Checkpoint, LoadInitState

from skimbal import CrossEntropyClassifier
from skimbal.callbacks import DeferredReweighting, WarmupMultiStepLR, deferred_switch_epoch
from skimbal.losses import effective_number_weights
from skimbal.sampling import ClassAwareSampler, DeferredResampling, ImbalancedLearnSampler

from ._helpers import InterruptAfter

# CIFAR-10 IR100 counts and the DRW weights after normalisation (REFERENCE.md).
CIFAR10_IR100 = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
CIFAR10_IR100_DRW = [
    0.0506, 0.0769, 0.1211, 0.1950, 0.3188, 0.5246, 0.8683, 1.4426, 2.4092, 3.9927,
]


@pytest.mark.parametrize(
    "start, max_epochs, expected",
    [
        (0.8, 200, 160),  # Cao et al.: 160 of 200
        (160, 200, 160),
        (160, None, 160),
        (0, 10, 0),
        (0.5, 5, 3),  # 2.5 rounds half up
        (0.25, 10, 3),
        (0.24, 10, 2),
        (0.1, 3, 0),
        (np.int64(7), 10, 7),
        (300, 200, 300),  # never switches
    ],
)
def test_switch_epoch(start, max_epochs, expected):
    assert deferred_switch_epoch(start, max_epochs) == expected


@pytest.mark.parametrize("start", [-1, 0.0, 1.0, 1.5, -0.2, True, "0.8", None])
def test_switch_epoch_rejects_bad_start(start):
    with pytest.raises(ValueError, match="start"):
        deferred_switch_epoch(start, 10)


def test_fractional_switch_needs_max_epochs():
    with pytest.raises(ValueError, match="fractional start needs the number of epochs"):
        deferred_switch_epoch(0.5)


class WeightRecorder(Callback):
    """Record the criterion's weight at the beginning of every epoch."""

    def initialize(self):
        self.weights = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        weight = net.criterion_.weight
        self.weights.append(None if weight is None else weight.detach().clone())


def long_tailed_blobs(counts, seed=0):
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    X = (rng.normal(size=(len(y), 2)) + y[:, None]).astype(np.float32)
    return X, y


def fit_with_recorder(counts, drw, max_epochs, **params):
    X, y = long_tailed_blobs(counts)
    recorder = WeightRecorder()
    params = dict(hidden_layer_sizes=(4,), batch_size=4096, random_state=0, **params)
    clf = CrossEntropyClassifier(
        max_epochs=max_epochs, callbacks=[drw, recorder], **params
    ).fit(X, y)
    return clf, recorder.weights


@pytest.mark.parametrize("start, switch", [(3, 3), (0.6, 3), (0.2, 1)])
def test_drw_weights_on_cifar10_ir100_counts(start, switch):
    clf, weights = fit_with_recorder(
        CIFAR10_IR100, DeferredReweighting(start=start, beta=0.9999), max_epochs=5
    )
    assert len(weights) == 5
    # The plain phase: all-one weights, the same loss as no weights.
    assert all(torch.equal(w, torch.ones(10)) for w in weights[:switch])
    for w in weights[switch:]:
        np.testing.assert_allclose(w.numpy(), CIFAR10_IR100_DRW, atol=5e-5)
    np.testing.assert_array_equal(clf.class_counts_, CIFAR10_IR100)


def test_drw_refuses_a_criterion_with_class_weights():
    # DRW would replace the class weights at the switch: the combination is refused
    # instead of silently dropping the weights in one of the phases.
    with pytest.raises(ValueError, match="already has class weights"):
        fit_with_recorder(
            [60, 20], DeferredReweighting(start=2, beta=0.9), max_epochs=3,
            class_weight="balanced",
        )
    _, weights = fit_with_recorder([60, 20], DeferredReweighting(start=2, beta=0.9), max_epochs=3)
    np.testing.assert_array_equal(weights[0].numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(weights[1].numpy(), [1.0, 1.0])
    np.testing.assert_allclose(weights[2].numpy(), effective_number_weights([60, 20], 0.9))


def test_drw_weights_come_from_the_training_split():
    clf, weights = fit_with_recorder(
        [40, 10], DeferredReweighting(start=0, beta=0.9), max_epochs=1, validation_fraction=0.5
    )
    np.testing.assert_array_equal(clf.class_counts_, [20, 5])
    expected = effective_number_weights([20, 5], beta=0.9)
    np.testing.assert_allclose(weights[0].numpy(), expected.numpy())
    assert not np.allclose(expected, effective_number_weights([40, 10], beta=0.9))


def _is_plain(weight):
    return bool(torch.equal(weight, torch.ones_like(weight)))


def test_drw_continues_its_schedule_with_warm_start():
    X, y = long_tailed_blobs([30, 10])
    recorder = WeightRecorder()
    clf = CrossEntropyClassifier(
        max_epochs=2, warm_start=True, hidden_layer_sizes=(4,), random_state=0,
        callbacks=[DeferredReweighting(start=1, beta=0.9), recorder],
    )
    clf.fit(X, y)
    clf.fit(X, y)
    weights = recorder.weights
    # Epochs 0..3 of one schedule: the second fit does not restart the plain phase.
    assert [_is_plain(w) for w in weights] == [True, False, False, False]
    for w in weights[1:]:
        np.testing.assert_allclose(w.numpy(), effective_number_weights([30, 10], 0.9))


def test_drw_continues_its_schedule_across_partial_fit():
    X, y = long_tailed_blobs([30, 10])
    recorder = WeightRecorder()
    clf = CrossEntropyClassifier(
        max_epochs=3, hidden_layer_sizes=(4,), random_state=0,
        callbacks=[DeferredReweighting(start=2, beta=0.9), recorder],
    )
    clf.partial_fit(X, y)
    clf.partial_fit(X, y)
    # The class counts accumulate over the calls, and so do the DRW weights' counts.
    assert [_is_plain(w) for w in recorder.weights] == [True, True, False, False, False, False]
    np.testing.assert_allclose(
        recorder.weights[-1].numpy(), effective_number_weights([60, 20], 0.9)
    )


def test_drw_errors():
    X, y = long_tailed_blobs([30, 10])
    with pytest.raises(ValueError, match="beta"):
        CrossEntropyClassifier(max_epochs=1, callbacks=[DeferredReweighting(beta=1.0)]).fit(X, y)
    with pytest.raises(ValueError, match="start"):
        CrossEntropyClassifier(max_epochs=1, callbacks=[DeferredReweighting(start=-2)]).fit(X, y)

    class NoWeight(torch.nn.Module):
        def __init__(self):
            super().__init__()

        def forward(self, input, target):
            return torch.nn.functional.cross_entropy(input, target)

    with pytest.raises(ValueError, match="weight"):
        CrossEntropyClassifier(
            criterion=NoWeight, max_epochs=1, callbacks=[DeferredReweighting()]
        ).fit(X, y)


class FixedSampler:
    """Inner sampler that returns the rows of the last class and records its calls."""

    calls = []

    def set_max_epochs(self, max_epochs):
        FixedSampler.calls.append(("max_epochs", max_epochs))

    def epoch_indices(self, y, *, epoch, generator=None):
        FixedSampler.calls.append(("epoch", epoch))
        return torch.nonzero(y == y.max()).ravel()


def test_drs_permutes_then_delegates():
    FixedSampler.calls = []
    sampler = DeferredResampling(FixedSampler(), start=0.5)
    sampler.set_max_epochs(4)
    y = torch.tensor([0] * 8 + [1] * 2)
    generator = torch.Generator().manual_seed(0)
    for epoch in (0, 1):
        index = sampler.epoch_indices(y, epoch=epoch, generator=generator)
        assert torch.equal(index.sort().values, torch.arange(10))
    for epoch in (2, 3):
        index = sampler.epoch_indices(y, epoch=epoch, generator=generator)
        assert torch.equal(index, torch.tensor([8, 9]))
    assert FixedSampler.calls == [("max_epochs", 4), ("epoch", 2), ("epoch", 3)]


def test_drs_in_an_estimator_switches_at_the_same_epoch_as_drw():
    FixedSampler.calls = []
    X, y = long_tailed_blobs([30, 10])
    CrossEntropyClassifier(
        sampler=DeferredResampling(FixedSampler(), start=0.6), max_epochs=5,
        hidden_layer_sizes=(4,), random_state=0,
    ).fit(X, y)
    switch = deferred_switch_epoch(0.6, 5)
    assert FixedSampler.calls == [("max_epochs", 5)] + [("epoch", e) for e in range(switch, 5)]


def test_drs_default_is_class_balanced():
    sampler = DeferredResampling(start=0)
    sampler.set_max_epochs(1)
    y = torch.tensor([0] * 950 + [1] * 50)
    index = sampler.epoch_indices(y, epoch=0, generator=torch.Generator().manual_seed(0))
    assert isinstance(sampler.sampler_, ClassAwareSampler) and sampler.sampler_.q == 0.0
    assert 400 < int((y[index] == 1).sum()) < 600


def test_drs_errors():
    with pytest.raises(ValueError, match="fractional start needs the number of epochs"):
        DeferredResampling(start=0.5).epoch_indices(torch.zeros(3, dtype=torch.long), epoch=0)
    with pytest.raises(ValueError, match="epoch_indices"):
        DeferredResampling(sampler=object(), start=1).epoch_indices(
            torch.zeros(3, dtype=torch.long), epoch=0
        )
    with pytest.raises(ValueError, match="Unknown sampler"):
        DeferredResampling(sampler="balanced", start=1).epoch_indices(
            torch.zeros(3, dtype=torch.long), epoch=1
        )


def test_drs_accepts_sampler_names():
    sampler = DeferredResampling("square-root", start=1)
    sampler.set_max_epochs(2)
    y = torch.tensor([0] * 900 + [1] * 100)
    index = sampler.epoch_indices(y, epoch=1, generator=torch.Generator().manual_seed(0))
    assert sampler.sampler_.q == 0.5
    # square-root sampling: class 1 drawn with probability 10 / (30 + 10) = 0.25.
    assert 200 < int((y[index] == 1).sum()) < 300


def test_drs_offers_the_method_of_its_inner_sampler():
    index_drs = DeferredResampling("square-root")
    rows_drs = DeferredResampling(ImbalancedLearnSampler(RandomUnderSampler()))
    assert hasattr(index_drs, "epoch_indices") and not hasattr(index_drs, "epoch_data")
    assert hasattr(rows_drs, "epoch_data") and not hasattr(rows_drs, "epoch_indices")


def test_drs_wraps_an_imbalanced_learn_sampler():
    sampler = DeferredResampling(ImbalancedLearnSampler(RandomUnderSampler()), start=2)
    sampler.set_max_epochs(4)
    X = torch.arange(20, dtype=torch.float32)[:, None]
    y = torch.tensor([0] * 16 + [1] * 4)
    weight = torch.arange(20, dtype=torch.float32) / 10
    generator = torch.Generator().manual_seed(0)
    for epoch in (0, 1):
        X_e, y_e, w_e = sampler.epoch_data(X, y, weight, epoch=epoch, generator=generator)
        # Plain phase: every row once, rows and weights kept together.
        assert torch.equal(X_e[:, 0].sort().values, X[:, 0])
        assert torch.equal(y_e, y[X_e[:, 0].long()])
        assert torch.equal(w_e, weight[X_e[:, 0].long()])
    for epoch in (2, 3):
        X_e, y_e, _ = sampler.epoch_data(X, y, weight, epoch=epoch, generator=generator)
        assert torch.bincount(y_e).tolist() == [4, 4]
        assert torch.equal(y_e, y[X_e[:, 0].long()])


def test_drs_with_smote_in_an_estimator_trains_on_synthetic_rows_late():
    X, y = long_tailed_blobs([40, 8])
    seen = []

    class Recorder(ImbalancedLearnSampler):
        def epoch_data(self, X, y, sample_weight=None, *, epoch, generator=None):
            out = super().epoch_data(X, y, sample_weight, epoch=epoch, generator=generator)
            seen.append((epoch, torch.bincount(out[1]).tolist()))
            return out

    CrossEntropyClassifier(
        sampler=DeferredResampling(Recorder(SMOTE(k_neighbors=3)), start=0.5), max_epochs=4,
        hidden_layer_sizes=(4,), random_state=0,
    ).fit(X, y)
    assert seen == [(2, [40, 40]), (3, [40, 40])]


class _RecordWeight(Callback):
    """Record the criterion's class weights in the history (restored with it)."""

    def on_epoch_begin(self, net, **kwargs):
        net.history.record("class_weight", net.criterion_.weight.tolist())


@pytest.mark.parametrize("interrupt_after", [2, 5])
def test_interrupted_run_resumes_the_lr_and_drw_schedules_exactly(tmp_path, interrupt_after):
    """CE + warm-up/step LR + DRW, interrupted and resumed from a checkpoint."""
    X, y = long_tailed_blobs([120, 30, 10])

    def schedules():
        return [WarmupMultiStepLR(warmup=2, milestones=(4, 6), factors=(0.1, 0.01)),
                DeferredReweighting(start=4, beta=0.99), _RecordWeight()]

    params = dict(optimizer=torch.optim.SGD, optimizer__momentum=0.9, lr=0.1, max_epochs=7,
                  batch_size=32, hidden_layer_sizes=(8,), random_state=0)
    uninterrupted = CrossEntropyClassifier(callbacks=schedules(), **params).fit(X, y)
    checkpoint = Checkpoint(monitor=None, dirname=str(tmp_path))
    interrupted = CrossEntropyClassifier(
        callbacks=[*schedules(), checkpoint, InterruptAfter(interrupt_after)], **params
    ).fit(X, y)
    assert len(interrupted.history) == interrupt_after
    resumed = CrossEntropyClassifier(
        callbacks=[*schedules(), checkpoint, LoadInitState(checkpoint)], **params
    ).fit(X, y)
    assert len(resumed.history) == 7
    expected_lr = [0.05, 0.1, 0.1, 0.1, 0.01, 0.01, 0.001]
    np.testing.assert_allclose(uninterrupted.history[:, "lr"], expected_lr, rtol=1e-12)
    assert resumed.history[:, "lr"] == uninterrupted.history[:, "lr"]
    assert resumed.history[:, "class_weight"] == uninterrupted.history[:, "class_weight"]
    assert resumed.history[:4, "class_weight"] == [[1.0, 1.0, 1.0]] * 4
    assert resumed.history[:, "train_loss"] == uninterrupted.history[:, "train_loss"]
    np.testing.assert_array_equal(resumed.predict_proba(X), uninterrupted.predict_proba(X))
