"""Meta re-weighting: the look-ahead meta-gradient and the meta set."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from skimbal import CrossEntropyClassifier, MetaReweighting
from skimbal._meta_reweighting import (
    class_balanced_subset,
    lookahead_meta_loss,
    meta_weight_gradient,
)


def _tiny_problem():
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    module = module.double()
    X = torch.randn(6, 3, dtype=torch.float64)
    y = torch.tensor([0, 0, 0, 0, 1, 1])
    X_meta = torch.randn(4, 3, dtype=torch.float64)
    y_meta = torch.tensor([0, 0, 1, 1])
    return module, X, y, X_meta, y_meta


def _per_sample(logits, target):
    return torch.nn.functional.cross_entropy(logits, target, reduction="none")


def test_meta_gradient_matches_finite_differences():
    module, X, y, X_meta, y_meta = _tiny_problem()
    grad = meta_weight_gradient(module, _per_sample, X, y, X_meta, y_meta, inner_lr=0.5)
    h = 1e-6
    numeric = torch.zeros(len(X), dtype=torch.float64)
    for i in range(len(X)):
        step = torch.zeros(len(X), dtype=torch.float64)
        step[i] = h
        with torch.enable_grad():
            plus = lookahead_meta_loss(module, _per_sample, X, y, step, X_meta, y_meta, 0.5)
            minus = lookahead_meta_loss(module, _per_sample, X, y, -step, X_meta, y_meta, 0.5)
        numeric[i] = (plus - minus).item() / (2 * h)
    torch.testing.assert_close(grad, numeric, rtol=1e-5, atol=1e-8)
    assert grad.abs().max() > 1e-4  # the check is not vacuous


def test_meta_step_leaves_the_module_untouched():
    module, X, y, X_meta, y_meta = _tiny_problem()
    before = [p.detach().clone() for p in module.parameters()]
    meta_weight_gradient(module, _per_sample, X, y, X_meta, y_meta, inner_lr=0.5)
    for old, new in zip(before, module.parameters(), strict=True):
        assert torch.equal(old, new)
        assert new.grad is None


def test_sample_weights_are_a_distribution():
    module, X, y, X_meta, y_meta = _tiny_problem()
    meta = MetaReweighting()
    meta.X_meta_, meta.y_meta_, meta.inner_lr_ = X_meta, y_meta, 0.5
    weight = meta.sample_weight(module, _per_sample, X, y)
    assert torch.all(weight >= 0)
    assert weight.sum().item() == pytest.approx(1.0)
    grad = meta_weight_gradient(module, _per_sample, X, y, X_meta, y_meta, 0.5)
    # weights are the clipped negative gradient, normalised
    expected = torch.clamp(-grad, min=0)
    torch.testing.assert_close(weight, expected / expected.sum())


def test_uniform_fallback_when_every_weight_is_clipped():
    module, X, y, X_meta, y_meta = _tiny_problem()
    meta = MetaReweighting()
    meta.X_meta_, meta.y_meta_, meta.inner_lr_ = X_meta, y_meta, 0.0  # zero step: zero grad
    weight = meta.sample_weight(module, _per_sample, X, y)
    torch.testing.assert_close(weight, torch.full((6,), 1 / 6, dtype=weight.dtype))


def test_class_balanced_subset_counts():
    y = torch.tensor([0] * 50 + [1] * 7 + [2] * 2)
    index = class_balanced_subset(y, 5, generator=torch.Generator().manual_seed(0))
    assert torch.bincount(y[index]).tolist() == [5, 5, 2]
    assert len(torch.unique(index)) == len(index)


def test_meta_set_comes_from_the_training_split_only():
    rng = np.random.RandomState(0)
    X = rng.randn(120, 4)
    y = np.r_[np.zeros(100, int), np.ones(20, int)]
    seen = {}

    class Spy(Callback):
        def on_train_begin(self, net, X=None, y=None, **kwargs):
            seen["train"], seen["valid"] = X.train.X, X.valid.X

    clf = CrossEntropyClassifier(
        meta_reweighting=MetaReweighting(4),
        validation_fraction=0.3,
        callbacks=[Spy()],
        max_epochs=1,
        random_state=0,
    ).fit(X, y)
    meta_rows = clf.meta_reweighting_.X_meta_
    assert len(meta_rows) == 8

    def contains(rows, row):
        return bool((rows == row).all(dim=1).any())

    for row in meta_rows:
        assert contains(seen["train"], row)
        assert not contains(seen["valid"], row)


def test_bad_meta_set_size():
    X = np.random.RandomState(0).randn(20, 2)
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match="meta_samples_per_class"):
        CrossEntropyClassifier(meta_reweighting=MetaReweighting(0), max_epochs=1).fit(X, y)
