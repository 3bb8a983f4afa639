"""Meta re-weighting: the look-ahead meta-gradient, the meta set and the batch transform."""

import pickle
from functools import partial

import numpy as np
import pytest
import torch
from sklearn.base import clone
from skorch.callbacks import Callback

from skimbal import CrossEntropyClassifier
from skimbal._core.batch import Target
from skimbal._core.reduction import per_sample_loss
from skimbal.callbacks import MetaReweighting
from skimbal.callbacks._meta_learning import (
    class_balanced_subset,
    lookahead_meta_loss,
    meta_sample_weights,
    meta_weight_gradient,
)

SMALL = dict(hidden_layer_sizes=(8,), batch_size=32, random_state=0)


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


def _data(seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(120, 4)
    y = np.r_[np.zeros(100, int), np.ones(20, int)]
    return X, y


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
    module = torch.nn.Sequential(module, torch.nn.BatchNorm1d(2).double())
    before = [t.detach().clone() for t in list(module.parameters()) + list(module.buffers())]
    meta_weight_gradient(module, _per_sample, X, y, X_meta, y_meta, inner_lr=0.5)
    after = list(module.parameters()) + list(module.buffers())
    for old, new in zip(before, after, strict=True):
        assert torch.equal(old, new)  # parameters and batch-norm statistics
        assert new.grad is None


def test_sample_weights_are_a_distribution():
    module, X, y, X_meta, y_meta = _tiny_problem()
    weight = meta_sample_weights(module, _per_sample, X, y, X_meta, y_meta, 0.5)
    assert torch.all(weight >= 0)
    assert weight.sum().item() == pytest.approx(1.0)
    grad = meta_weight_gradient(module, _per_sample, X, y, X_meta, y_meta, 0.5)
    # weights are the clipped negative gradient, normalised
    expected = torch.clamp(-grad, min=0)
    torch.testing.assert_close(weight, expected / expected.sum())


def test_uniform_fallback_when_every_weight_is_clipped():
    module, X, y, X_meta, y_meta = _tiny_problem()
    weight = meta_sample_weights(module, _per_sample, X, y, X_meta, y_meta, 0.0)  # zero step
    torch.testing.assert_close(weight, torch.full((6,), 1 / 6, dtype=weight.dtype))


def test_class_balanced_subset_counts():
    y = torch.tensor([0] * 50 + [1] * 7 + [2] * 2)
    index = class_balanced_subset(y, 5, generator=torch.Generator().manual_seed(0))
    assert torch.bincount(y[index]).tolist() == [5, 5, 2]
    assert len(torch.unique(index)) == len(index)


class _Spy(Callback):
    """Keep each epoch's training and validation rows and the callback's meta rows."""

    def __init__(self, seen):
        self.seen = seen

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        meta = dict(net.callbacks_)["MetaReweighting"]
        self.seen.append((dataset_train.X, dataset_valid.X, meta.X_meta_.clone(),
                          dataset_train.X[meta.meta_index_]))


def test_meta_set_comes_from_the_training_split_only():
    X, y = _data()
    seen = []
    CrossEntropyClassifier(
        callbacks=[MetaReweighting(4), _Spy(seen)], validation_fraction=0.3, max_epochs=2,
        **SMALL,
    ).fit(X, y)

    def contains(rows, row):
        return bool((rows == row).all(dim=1).any())

    for train, valid, meta_rows, indexed in seen:
        assert len(meta_rows) == 8
        torch.testing.assert_close(meta_rows, indexed)
        for row in meta_rows:
            assert contains(train, row)
            assert not contains(valid, row)
    # A fresh balanced draw every epoch, from the epoch's generator.
    assert not torch.equal(seen[0][2], seen[1][2])


def test_transform_multiplies_the_sample_weights():
    X, y = _data()
    clf = CrossEntropyClassifier(max_epochs=1, **SMALL).fit(X, y)
    meta = MetaReweighting(4, inner_lr=0.1).initialize()
    Xt = torch.as_tensor(X[:32], dtype=torch.float32)
    yt = torch.as_tensor(y[:32])
    meta.X_meta_, meta.y_meta_ = torch.as_tensor(X[-8:], dtype=torch.float32), torch.tensor(
        [0] * 4 + [1] * 4)
    expected = meta_sample_weights(
        clf.module_, partial(per_sample_loss, clf.criterion_), Xt, yt, meta.X_meta_,
        meta.y_meta_, 0.1,
    )
    _, plain = meta.transform_batch(clf, Xt, yt)
    torch.testing.assert_close(plain.sample_weight, expected)
    assert torch.equal(plain.y, yt)
    sample_weight = torch.arange(32, dtype=torch.float32)
    extra = torch.arange(32) + 5
    _, target = meta.transform_batch(clf, Xt, Target(yt, sample_weight, cluster_ids=extra))
    torch.testing.assert_close(target.sample_weight, expected * sample_weight)
    assert torch.equal(target.extras["cluster_ids"], extra)


def test_fit_with_sample_weight_is_reproducible_and_learns():
    X, y = _data()
    X = X + 1.5 * y[:, None]
    params = dict(callbacks=[MetaReweighting(5)], max_epochs=5, lr=0.01, **SMALL)
    first = CrossEntropyClassifier(**params).fit(X, y, sample_weight=np.ones(len(y)))
    second = CrossEntropyClassifier(**params).fit(X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    assert np.isfinite(first.history[:, "train_loss"]).all()


def test_clone_and_pickle_carry_no_training_data():
    X, y = _data()
    clf = CrossEntropyClassifier(callbacks=[MetaReweighting(5)], max_epochs=2, **SMALL).fit(X, y)
    meta = dict(clf.callbacks_)["MetaReweighting"]
    # The meta set is training data: it does not outlive the fit.
    assert {name for name in vars(meta) if name.endswith("_")} == set()
    assert pickle.dumps(meta) == pickle.dumps(MetaReweighting(5))
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    fresh = clone(clf).fit(X, y)
    np.testing.assert_array_equal(fresh.predict_proba(X), clf.predict_proba(X))


def test_bad_parameters_and_targets():
    X, y = _data()
    with pytest.raises(ValueError, match="'meta_samples_per_class' parameter of MetaReweighting"):
        CrossEntropyClassifier(callbacks=[MetaReweighting(0)], max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="'inner_lr' parameter of MetaReweighting"):
        CrossEntropyClassifier(callbacks=[MetaReweighting(inner_lr=-1.0)], max_epochs=1).fit(X, y)
    multilabel = np.c_[y, 1 - y]
    with pytest.raises(ValueError, match="single-label targets"):
        CrossEntropyClassifier(callbacks=[MetaReweighting()], max_epochs=1).fit(X, multilabel)
