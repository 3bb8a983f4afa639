"""Minority augmentation: strengths, untouched majority, within-class mixing."""

import numpy as np
import pytest
import torch

from skimbal import CrossEntropyClassifier, MinorityAugmentation, TensorDataset
from skimbal._augmentation import _same_class_partner, class_strengths


def test_class_strengths_formula():
    np.testing.assert_allclose(class_strengths([100, 25, 4]), [0.0, 0.25, 1.0], atol=1e-7)
    np.testing.assert_allclose(class_strengths([100, 25, 4], power=1.0), [0, 3 / 24, 1], atol=1e-7)
    np.testing.assert_array_equal(class_strengths([10, 10]), [0.0, 0.0])
    np.testing.assert_array_equal(class_strengths([10, 0, 5])[1], 0.0)


def _set_up(augmentation, counts=(80, 15, 5), n_features=3):
    torch.manual_seed(0)
    y = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    X = torch.randn(len(y), n_features)
    augmentation.setup(TensorDataset(X, y), np.array(counts))
    return X, y


def test_majority_rows_are_left_untouched():
    augmentation = MinorityAugmentation(noise=0.5, mixup=1.0)
    X, y = _set_up(augmentation)
    out = augmentation(X, y)
    majority = y == 0
    assert torch.equal(out[majority], X[majority])
    assert not torch.equal(out[~majority], X[~majority])


def test_all_classes_change_when_majority_is_not_spared():
    augmentation = MinorityAugmentation(noise=0.5, mixup=0.0, majority_untouched=False)
    X, y = _set_up(augmentation)
    out = augmentation(X, y)
    assert (out != X).any(dim=1).all()


def test_noise_scale_follows_class_strength():
    augmentation = MinorityAugmentation(noise=1.0, mixup=0.0)
    counts = (4000, 1000, 4000 // 25)
    X, y = _set_up(augmentation, counts=counts, n_features=200)
    change = (augmentation(X, y) - X).std(dim=1)
    strengths = class_strengths(counts)
    std = augmentation.feature_std_.mean().item()
    for label in (1, 2):
        observed = change[y == label].mean().item()
        assert observed == pytest.approx(strengths[label] * std, rel=0.05)


def test_mixup_partner_is_same_class_and_another_sample():
    y = torch.tensor([0, 1, 0, 2, 1, 0, 1])
    partner = _same_class_partner(y)
    assert torch.equal(y[partner], y)
    assert partner[3] == 3  # alone in its class
    for i in (0, 1, 2, 4, 5, 6):
        assert partner[i] != i


def test_mixed_rows_stay_within_their_class_convex_hull():
    augmentation = MinorityAugmentation(noise=0.0, mixup=1.0)
    X, y = _set_up(augmentation, counts=(50, 10))
    out = augmentation(X, y)
    minority = X[y == 1]
    lo, hi = minority.min(0).values, minority.max(0).values
    assert torch.all(out[y == 1] >= lo - 1e-6) and torch.all(out[y == 1] <= hi + 1e-6)


def test_image_augmentation_only_for_minority_images():
    from skimbal.nn import RandomCropFlip

    augmentation = MinorityAugmentation(noise=0.0, mixup=0.0, image_augmentation=RandomCropFlip())
    torch.manual_seed(0)
    y = torch.tensor([0] * 30 + [1] * 3)
    X = torch.randn(len(y), 3, 8, 8)
    augmentation.setup(TensorDataset(X, y), np.array([30, 3]))
    out = augmentation(X, y)
    assert torch.equal(out[:30], X[:30])
    assert out.shape == X.shape


def test_estimator_sets_up_from_training_counts():
    rng = np.random.RandomState(0)
    X = rng.randn(110, 3)
    y = np.r_[np.zeros(100, int), np.ones(10, int)]
    clf = CrossEntropyClassifier(
        augmentation=MinorityAugmentation(), max_epochs=2, random_state=0
    ).fit(X, y)
    assert clf.augmentation_.strengths_.tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="mixup"):
        CrossEntropyClassifier(augmentation=MinorityAugmentation(mixup=2.0), max_epochs=1).fit(
            X, y
        )
