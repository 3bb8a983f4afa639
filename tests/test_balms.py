"""Balanced Meta-Softmax: the meta sampler and its update."""

import numpy as np
import pytest
import torch

from skimbal import BalancedMetaSoftmaxClassifier
from skimbal.sampling import MetaClassSampler


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


def test_fit_updates_the_sampler_from_training_data():
    rng = np.random.RandomState(0)
    X = np.r_[rng.randn(180, 4) + 1.0, rng.randn(20, 4) - 1.0]
    y = np.r_[np.zeros(180, int), np.ones(20, int)]
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


def test_user_sampler_is_refused():
    X = np.random.RandomState(0).randn(20, 2)
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match="learns its own sampler"):
        BalancedMetaSoftmaxClassifier(sampler="class-balanced", max_epochs=1).fit(X, y)
