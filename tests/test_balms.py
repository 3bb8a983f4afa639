"""Balanced Meta-Softmax: the meta sampler, its update and its state across fits."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from skorch.callbacks import Callback, Checkpoint, LoadInitState

from skimbal import BalancedMetaSoftmaxClassifier, CrossEntropyClassifier
from skimbal.callbacks import MetaSamplerUpdate
from skimbal.sampling import MetaClassSampler

from ._helpers import InterruptAfter

SMALL = dict(hidden_layer_sizes=(8,), batch_size=32, random_state=0)


def _data(seed=0):
    rng = np.random.RandomState(seed)
    X = np.r_[rng.randn(180, 4) + 1.0, rng.randn(20, 4) - 1.0]
    y = np.r_[np.zeros(180, int), np.ones(20, int)]
    return X, y


def test_sampler_starts_instance_or_class_balanced():
    y = torch.tensor([0] * 75 + [1] * 25)
    instance = MetaClassSampler(init_q=1.0)
    instance.epoch_indices(y, epoch=0)
    torch.testing.assert_close(instance.class_probabilities(), torch.tensor([0.75, 0.25]))
    balanced = MetaClassSampler(init_q=0.0)
    balanced.epoch_indices(y, epoch=0)
    torch.testing.assert_close(balanced.class_probabilities(), torch.tensor([0.5, 0.5]))


def test_epoch_draws_follow_the_learned_distribution():
    y = torch.tensor([0] * 900 + [1] * 100)
    sampler = MetaClassSampler(init_q=0.0, n_samples=20000)
    sampler.epoch_indices(y, epoch=0)
    with torch.no_grad():
        sampler.logits_.copy_(torch.log(torch.tensor([0.3, 0.7])))
    index = sampler.epoch_indices(y, epoch=1, generator=torch.Generator().manual_seed(0))
    share = (y[index] == 1).float().mean().item()
    assert share == pytest.approx(0.7, abs=0.015)  # > 4 binomial standard deviations


def test_class_without_rows_is_never_drawn():
    sampler = MetaClassSampler(init_q=0.0)
    sampler.epoch_indices(torch.tensor([0] * 5 + [1] * 5 + [2] * 5), epoch=0)
    y = torch.tensor([0] * 10 + [2] * 10)  # a later call without class 1
    generator = torch.Generator().manual_seed(0)
    assert set(y[sampler.epoch_indices(y, epoch=1, generator=generator)].tolist()) == {0, 2}
    index, _ = sampler.relaxed_batch(y, 200, generator=generator)
    assert set(y[index].tolist()) == {0, 2}


def test_relaxed_batch_is_differentiable_and_in_class():
    torch.manual_seed(0)
    y = torch.tensor([0] * 10 + [1] * 5 + [2] * 2)
    sampler = MetaClassSampler()
    sampler.epoch_indices(y, epoch=0)
    index, weight = sampler.relaxed_batch(y, 64)
    torch.testing.assert_close(weight, torch.ones(64))
    (weight * torch.arange(64.0)).sum().backward()
    assert sampler.logits_.grad is not None and sampler.logits_.grad.abs().sum() > 0
    assert index.max() < len(y)


def test_relaxed_batch_follows_the_distribution_and_its_generator():
    y = torch.tensor([0] * 900 + [1] * 100)
    sampler = MetaClassSampler(init_q=1.0)
    index, _ = sampler.relaxed_batch(y, 20000, generator=torch.Generator().manual_seed(0))
    # The hard Gumbel-softmax sample is a draw from softmax(logits): p_1 = 0.1.
    assert (y[index] == 1).float().mean().item() == pytest.approx(0.1, abs=0.01)
    again, _ = sampler.relaxed_batch(y, 20000, generator=torch.Generator().manual_seed(0))
    assert torch.equal(index, again)


def test_fit_updates_the_sampler_from_training_data():
    X, y = _data()
    clf = BalancedMetaSoftmaxClassifier(
        max_epochs=3, meta_lr=0.05, validation_fraction=0.2, random_state=0
    ).fit(X, y)
    probabilities = clf.history[-1, "meta_class_probabilities"]
    assert len(probabilities) == 2 and sum(probabilities) == pytest.approx(1.0)
    # counts of the training split (not the validation part) seed the sampler
    assert clf.sampler_.class_counts_.tolist() == clf.class_counts_.tolist() == [144, 16]
    initial = np.array([144, 16]) / 160
    assert not np.allclose(probabilities, initial, atol=1e-4)  # it learned something
    assert type(clf.criterion_).__name__ == "BalancedSoftmaxLoss"
    # The learned logits are the network's buffer; the sampler holds a CPU copy.
    buffer = clf.module_.meta_sampler_logits
    assert not buffer.requires_grad and not clf.sampler_.logits_.requires_grad
    np.testing.assert_allclose(torch.softmax(buffer, 0).tolist(), probabilities, rtol=1e-6)


def test_fit_is_reproducible():
    X, y = _data()
    first = BalancedMetaSoftmaxClassifier(max_epochs=2, **SMALL).fit(X, y)
    second = BalancedMetaSoftmaxClassifier(max_epochs=2, **SMALL).fit(X, y)
    assert first.history[:, "meta_class_probabilities"] == \
        second.history[:, "meta_class_probabilities"]
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))


def test_user_sampler_is_refused():
    X = np.random.RandomState(0).randn(20, 2)
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match="learns its own sampler"):
        BalancedMetaSoftmaxClassifier(sampler="class-balanced", max_epochs=1).fit(X, y)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(meta_lr=0.0), "'meta_lr' parameter"),
        (dict(meta_samples_per_class=0), "'meta_samples_per_class' parameter"),
        (dict(gumbel_temperature=-1.0), "'gumbel_temperature' parameter"),
        (dict(meta_interval=0), "'meta_interval' parameter"),
        (dict(init_q="a"), "'init_q' parameter"),
        (dict(callbacks__meta_sampler_update__meta_lr=0.5), "set meta_lr instead"),
    ],
)
def test_invalid_parameters(params, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        BalancedMetaSoftmaxClassifier(max_epochs=1, **params).fit(X, y)


def test_meta_interval_counts_the_batches_of_each_epoch():
    X, y = _data()
    updates = []

    class Count(Callback):
        def on_batch_end(self, net, training=False, **kwargs):
            if training:
                updates.append(net.sampler_.logits_.detach().clone())

    BalancedMetaSoftmaxClassifier(
        max_epochs=2, meta_interval=3, callbacks=[Count()], **SMALL
    ).fit(X, y)
    # 200 rows in batches of 32: 7 batches per epoch, updates after batches 3 and 6.
    changed = [not torch.equal(a, b) for a, b in zip(updates, updates[1:], strict=False)]
    assert changed == [False, True, False, False, True, False, False,
                       False, True, False, False, True, False]


def test_warm_start_and_partial_fit_continue_the_learned_sampler():
    X, y = _data()
    seen = []

    class AtStart(Callback):
        def on_train_begin(self, net, **kwargs):
            seen.append(net.sampler_.class_probabilities().clone())

    clf = BalancedMetaSoftmaxClassifier(
        max_epochs=2, warm_start=True, meta_lr=0.05, callbacks=[AtStart()], **SMALL
    )
    clf.fit(X, y)
    learned = clf.module_.meta_sampler_logits.clone()
    sampler = clf.sampler_
    clf.fit(X, y)
    assert clf.sampler_ is sampler and len(clf.history) == 4
    torch.testing.assert_close(seen[1], torch.softmax(learned, 0))
    assert not torch.allclose(seen[0], seen[1])
    partial = BalancedMetaSoftmaxClassifier(max_epochs=1, callbacks=[AtStart()], **SMALL)
    partial.partial_fit(X, y)
    after_first = partial.module_.meta_sampler_logits.clone()
    partial.partial_fit(X, y)
    torch.testing.assert_close(seen[-1], torch.softmax(after_first, 0))
    assert len(partial.history) == 2


def test_learned_sampler_survives_a_checkpoint_resume(tmp_path):
    X, y = _data()
    params = dict(max_epochs=4, meta_lr=0.05, **SMALL)
    checkpoint = Checkpoint(dirname=str(tmp_path), monitor=None)
    interrupted = BalancedMetaSoftmaxClassifier(
        callbacks=[checkpoint, InterruptAfter(2)], **params
    ).fit(X, y)
    seen = []

    class AtEpochBegin(Callback):
        def on_epoch_begin(self, net, **kwargs):
            seen.append(net.sampler_.class_probabilities().tolist())

    resumed = BalancedMetaSoftmaxClassifier(
        callbacks=[checkpoint, LoadInitState(checkpoint), AtEpochBegin()], **params
    ).fit(X, y)
    assert len(resumed.history) == 4
    # Epoch 3 starts from the distribution the interrupted run had learned.
    learned = interrupted.history[-1, "meta_class_probabilities"]
    np.testing.assert_allclose(seen[0], learned, rtol=1e-6)
    uninterrupted = BalancedMetaSoftmaxClassifier(**params).fit(X, y)
    np.testing.assert_allclose(
        resumed.history[:2, "meta_class_probabilities"],
        uninterrupted.history[:2, "meta_class_probabilities"], rtol=1e-6,
    )


def test_clone_and_pickle_of_a_fitted_estimator():
    X, y = _data()
    clf = BalancedMetaSoftmaxClassifier(max_epochs=2, **SMALL).fit(X, y)
    update = dict(clf.callbacks_)["meta_sampler_update"]
    # No training data, generator or Adam state outlive the fit.
    assert {name for name in vars(update) if name.endswith("_")} == set()
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    assert len(pickle.dumps(clf)) < 100_000
    fresh = clone(clf)
    assert not hasattr(fresh, "sampler_") and fresh.get_params()["meta_interval"] == 1
    fresh.fit(X, y)
    np.testing.assert_array_equal(fresh.predict_proba(X), clf.predict_proba(X))


def test_update_composes_with_another_estimator_and_needs_the_meta_sampler():
    X, y = _data()
    clf = CrossEntropyClassifier(
        sampler=MetaClassSampler(init_q=0.0), callbacks=[MetaSamplerUpdate(meta_lr=0.05)],
        max_epochs=2, **SMALL,
    ).fit(X, y)
    assert not np.allclose(clf.history[-1, "meta_class_probabilities"], [0.5, 0.5])
    with pytest.raises(ValueError, match="MetaClassSampler"):
        CrossEntropyClassifier(
            sampler="class-balanced", callbacks=[MetaSamplerUpdate()], max_epochs=1, **SMALL
        ).fit(X, y)
