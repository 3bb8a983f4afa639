"""Minority augmentation: strengths, untouched majority, within-class mixing, the fit."""

import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from skorch.history import History

from skimbal import CrossEntropyClassifier
from skimbal._core.data import TensorDataset
from skimbal.callbacks import MinorityAugmentation
from skimbal.callbacks._minority_augmentation import _same_class_partner, class_strengths


def test_class_strengths_formula():
    np.testing.assert_allclose(class_strengths([100, 25, 4]), [0.0, 0.25, 1.0], atol=1e-7)
    np.testing.assert_allclose(class_strengths([100, 25, 4], power=1.0), [0, 3 / 24, 1], atol=1e-7)
    np.testing.assert_array_equal(class_strengths([10, 10]), [0.0, 0.0])
    np.testing.assert_array_equal(class_strengths([10, 0, 5])[1], 0.0)


def _set_up(augmentation, counts=(80, 15, 5), n_features=3, X=None, epoch=0):
    """Run the callback's start of training and of an epoch on a stand-in net."""
    torch.manual_seed(0)
    y = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    X = torch.randn(len(y), n_features) if X is None else X
    history = History()
    for _ in range(epoch + 1):
        history.new_epoch()
    net = SimpleNamespace(class_counts_=np.array(counts), seed_=0, history=history)
    augmentation.initialize()
    augmentation.on_train_begin(net)
    augmentation.on_epoch_begin(net, dataset_train=TensorDataset(X, y))
    return X, y, net


def _transform(augmentation, net, X, y):
    out, target = augmentation.transform_batch(net, X, y)
    assert target is y
    return out


def test_majority_rows_are_left_untouched():
    augmentation = MinorityAugmentation(noise=0.5, mixup=1.0)
    X, y, net = _set_up(augmentation)
    out = _transform(augmentation, net, X, y)
    majority = y == 0
    assert torch.equal(out[majority], X[majority])
    assert not torch.equal(out[~majority], X[~majority])


def test_all_classes_change_when_majority_is_not_spared():
    augmentation = MinorityAugmentation(noise=0.5, mixup=0.0, majority_untouched=False)
    X, y, net = _set_up(augmentation)
    out = _transform(augmentation, net, X, y)
    assert (out != X).any(dim=1).all()
    np.testing.assert_allclose(augmentation.strengths_[0].item(), 1 / 3, rtol=1e-6)


def test_noise_scale_follows_class_strength():
    augmentation = MinorityAugmentation(noise=1.0, mixup=0.0)
    counts = (4000, 1000, 4000 // 25)
    X, y, net = _set_up(augmentation, counts=counts, n_features=200)
    change = (_transform(augmentation, net, X, y) - X).std(dim=1)
    strengths = class_strengths(counts)
    std = augmentation.feature_std_.mean().item()
    for label in (1, 2):
        observed = change[y == label].mean().item()
        assert observed == pytest.approx(strengths[label] * std, rel=0.05)


def test_feature_std_is_that_of_the_training_split():
    augmentation = MinorityAugmentation()
    X, _, _ = _set_up(augmentation, n_features=4)
    torch.testing.assert_close(augmentation.feature_std_, X.std(dim=0, unbiased=False))


def test_draws_come_from_the_epoch_generator():
    outputs = []
    for epoch in (0, 0, 1):
        augmentation = MinorityAugmentation(noise=0.5, mixup=1.0)
        X, y, net = _set_up(augmentation, epoch=epoch)
        torch.manual_seed(epoch + 100)  # the global generator plays no part
        outputs.append(_transform(augmentation, net, X, y))
    assert torch.equal(outputs[0], outputs[1])
    assert not torch.equal(outputs[0], outputs[2])


def test_mixup_partner_is_same_class_and_another_sample():
    y = torch.tensor([0, 1, 0, 2, 1, 0, 1])
    partner = _same_class_partner(y, torch.Generator().manual_seed(0))
    assert torch.equal(y[partner], y)
    assert partner[3] == 3  # alone in its class
    for i in (0, 1, 2, 4, 5, 6):
        assert partner[i] != i


def test_mixed_rows_stay_within_their_class_convex_hull():
    augmentation = MinorityAugmentation(noise=0.0, mixup=1.0)
    X, y, net = _set_up(augmentation, counts=(50, 10))
    out = _transform(augmentation, net, X, y)
    minority = X[y == 1]
    lo, hi = minority.min(0).values, minority.max(0).values
    assert torch.all(out[y == 1] >= lo - 1e-6) and torch.all(out[y == 1] <= hi + 1e-6)


def test_image_augmentation_only_for_minority_images():
    from skimbal.nn import RandomCropFlip

    augmentation = MinorityAugmentation(noise=0.0, mixup=0.0, image_augmentation=RandomCropFlip())
    X = torch.randn(33, 3, 8, 8)
    X, y, net = _set_up(augmentation, counts=(30, 3), X=X)
    out = _transform(augmentation, net, X, y)
    assert torch.equal(out[:30], X[:30])
    assert out.shape == X.shape
    assert not torch.equal(out[30:], X[30:])  # strength 1: every minority image changes


class _Spy(Callback):
    """Keep the augmentation's statistics as they are during training."""

    def __init__(self, seen):
        self.seen = seen

    def on_epoch_begin(self, net, **kwargs):
        augmentation = dict(net.callbacks_)["MinorityAugmentation"]
        self.seen.append((augmentation.strengths_.clone(), augmentation.feature_std_.clone()))


def test_estimator_sets_up_from_training_counts_and_releases_the_data():
    rng = np.random.RandomState(0)
    X = rng.randn(110, 3)
    y = np.r_[np.zeros(100, int), np.ones(10, int)]
    augmentation, seen = MinorityAugmentation(), []
    before = pickle.dumps(augmentation)
    clf = CrossEntropyClassifier(
        callbacks=[augmentation, _Spy(seen)], max_epochs=2, validation_fraction=0.2,
        random_state=0,
    ).fit(X, y)
    train = X[clf._split(y)[0]].astype(np.float32)
    for strengths, feature_std in seen:
        assert strengths.tolist() == [0.0, 1.0]  # counts of the training split: 80 and 8
        np.testing.assert_allclose(feature_std.numpy(), train.std(axis=0), rtol=1e-5)
    # Nothing of the fit stays on the callback (the estimator's parameter).
    assert pickle.dumps(augmentation) == before
    assert pickle.loads(pickle.dumps(clf)).predict(X).shape == (110,)
    with pytest.raises(ValueError, match="'mixup' parameter of MinorityAugmentation"):
        CrossEntropyClassifier(callbacks=[MinorityAugmentation(mixup=2.0)], max_epochs=1).fit(
            X, y
        )
    with pytest.raises(ValueError, match="single-label"):
        CrossEntropyClassifier(callbacks=[MinorityAugmentation()], max_epochs=1).fit(
            X, np.c_[y, 1 - y]
        )


def test_fit_is_reproducible_and_augments_the_minority_batches():
    rng = np.random.RandomState(0)
    X = rng.randn(110, 3)
    y = np.r_[np.zeros(100, int), np.ones(10, int)]
    probas = []
    for _ in range(2):
        clf = CrossEntropyClassifier(
            callbacks=[MinorityAugmentation(noise=0.5)], max_epochs=3, hidden_layer_sizes=(8,),
            random_state=0,
        ).fit(X, y)
        probas.append(clf.predict_proba(X))
    np.testing.assert_array_equal(probas[0], probas[1])
    plain = CrossEntropyClassifier(max_epochs=3, hidden_layer_sizes=(8,), random_state=0).fit(X, y)
    assert not np.array_equal(plain.predict_proba(X), probas[0])
