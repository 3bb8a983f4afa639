"""The imbalanced-learn bridge: per-epoch re-sampling of the training split only."""

import numpy as np
import pytest
import torch
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.under_sampling import NearMiss, RandomUnderSampler

from skimbal import CrossEntropyClassifier
from skimbal._core.data import TensorBatchLoader, TensorDataset
from skimbal.sampling import ImbalancedLearnSampler

COUNTS = (40, 12)


def _data(seed=0):
    rng = np.random.RandomState(seed)
    X = np.concatenate([rng.normal(loc=3.0 * j, size=(n, 2)) for j, n in enumerate(COUNTS)])
    y = np.repeat(np.arange(len(COUNTS)), COUNTS)
    return torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)


def _rows(X):
    return {tuple(row) for row in X.tolist()}


def test_random_over_sampler_duplicates_training_rows_with_their_weights():
    X, y = _data()
    weight = torch.arange(len(y), dtype=torch.float32)
    X_epoch, y_epoch, w_epoch = ImbalancedLearnSampler(RandomOverSampler()).epoch_data(
        X, y, weight, epoch=0, generator=torch.Generator().manual_seed(0)
    )
    np.testing.assert_array_equal(torch.bincount(y_epoch).numpy(), [40, 40])
    # Every epoch row is an original row, with that row's label and weight.
    torch.testing.assert_close(X_epoch, X[w_epoch.long()])
    torch.testing.assert_close(y_epoch, y[w_epoch.long()])
    assert len(w_epoch.unique()) == len(y)  # every original row kept


def test_random_under_sampler_keeps_minority_size():
    X, y = _data()
    X_epoch, y_epoch, w_epoch = ImbalancedLearnSampler(RandomUnderSampler()).epoch_data(
        X, y, None, epoch=0, generator=torch.Generator().manual_seed(0)
    )
    np.testing.assert_array_equal(torch.bincount(y_epoch).numpy(), [12, 12])
    assert w_epoch is None
    assert _rows(X_epoch) <= _rows(X)


def test_smote_adds_synthetic_minority_rows_between_minority_samples():
    X, y = _data()
    X_epoch, y_epoch, _ = ImbalancedLearnSampler(SMOTE(k_neighbors=3)).epoch_data(
        X, y, None, epoch=0, generator=torch.Generator().manual_seed(0)
    )
    np.testing.assert_array_equal(torch.bincount(y_epoch).numpy(), [40, 40])
    assert X_epoch.dtype == X.dtype and X_epoch.device == X.device
    assert _rows(X) <= _rows(X_epoch)
    synthetic = [row for row in X_epoch.tolist() if tuple(row) not in _rows(X)]
    assert len(synthetic) == 28
    minority = X[y == 1]
    synthetic = torch.tensor(synthetic)
    # Interpolations between minority samples stay in their bounding box.
    assert torch.all(synthetic >= minority.min(0).values - 1e-6)
    assert torch.all(synthetic <= minority.max(0).values + 1e-6)


def test_redrawn_each_epoch_and_reproducible_under_seed():
    X, y = _data()
    sampler = ImbalancedLearnSampler(SMOTE(k_neighbors=3))
    generator = torch.Generator().manual_seed(5)
    first = sampler.epoch_data(X, y, None, epoch=0, generator=generator)[0]
    second = sampler.epoch_data(X, y, None, epoch=1, generator=generator)[0]
    assert _rows(first) != _rows(second)  # new synthetic points
    generator = torch.Generator().manual_seed(5)
    torch.testing.assert_close(
        sampler.epoch_data(X, y, None, epoch=0, generator=generator)[0], first
    )


def test_rows_are_shuffled_not_grouped_by_class():
    X, y = _data()
    _, y_epoch, _ = ImbalancedLearnSampler(RandomOverSampler()).epoch_data(
        X, y, None, epoch=0, generator=torch.Generator().manual_seed(0)
    )
    assert not torch.equal(y_epoch, torch.sort(y_epoch).values)


def test_deterministic_sampler_gives_same_rows_in_a_new_order():
    X, y = _data()
    sampler = ImbalancedLearnSampler(NearMiss())
    generator = torch.Generator().manual_seed(0)
    first = sampler.epoch_data(X, y, None, epoch=0, generator=generator)[0]
    second = sampler.epoch_data(X, y, None, epoch=1, generator=generator)[0]
    assert _rows(first) == _rows(second) and len(first) == 24
    assert not torch.equal(first, second)
    # A different training split is re-sampled, not served from the cache.
    third = sampler.epoch_data(X[4:], y[4:], None, epoch=2, generator=generator)[0]
    assert _rows(third) <= _rows(X[4:])


def test_image_shaped_features_keep_their_shape():
    X, y = _data()
    images = X.repeat(1, 6).reshape(len(X), 3, 2, 2)
    X_epoch, _, _ = ImbalancedLearnSampler(SMOTE(k_neighbors=3)).epoch_data(
        images, y, None, epoch=0, generator=torch.Generator().manual_seed(0)
    )
    assert X_epoch.shape == (80, 3, 2, 2)


def test_synthetic_rows_refuse_sample_weight():
    X, y = _data()
    with pytest.raises(ValueError, match="synthetic samples"):
        ImbalancedLearnSampler(SMOTE(k_neighbors=3)).epoch_data(X, y, torch.ones(len(y)), epoch=0)


def test_bad_inputs_raise():
    X, y = _data()
    message = "'sampler' parameter of ImbalancedLearnSampler.*fit_resample"
    with pytest.raises(ValueError, match=message):
        ImbalancedLearnSampler(object()).epoch_data(X, y, None, epoch=0)
    with pytest.raises(ValueError, match="1-d"):
        ImbalancedLearnSampler(RandomOverSampler()).epoch_data(
            X, torch.zeros((len(y), 2), dtype=torch.long), None, epoch=0
        )


# ----------------------------------------------------------- inside an estimator
class SharedList(list):
    """A list that survives the estimator's deep copy of its sampler."""

    def __deepcopy__(self, memo):
        return self


class RecordingBridge(ImbalancedLearnSampler):
    def __init__(self, sampler, record=None):
        super().__init__(sampler)
        self.record = record

    def epoch_data(self, X, y, sample_weight=None, *, epoch, generator=None):
        result = super().epoch_data(X, y, sample_weight, epoch=epoch, generator=generator)
        self.record.append((X.clone(), result[0].clone()))
        return result


@pytest.mark.parametrize(
    "imblearn_sampler",
    [RandomOverSampler(), RandomUnderSampler(), SMOTE(k_neighbors=3)],
    ids=lambda s: type(s).__name__,
)
def test_estimator_fit_keeps_validation_out_of_resampling(imblearn_sampler):
    X, y = _data()
    X = np.c_[X.numpy(), np.arange(len(X))]  # last column: the row id
    y = y.numpy()
    record = SharedList()
    clf = CrossEntropyClassifier(
        sampler=RecordingBridge(imblearn_sampler, record=record),
        validation_fraction=0.25,
        max_epochs=3,
        batch_size=16,
        hidden_layer_sizes=(4,),
        random_state=0,
    ).fit(X, y)
    train_index, valid_index = clf._split(y)
    valid_rows = _rows(torch.as_tensor(X[valid_index], dtype=torch.float32))
    assert len(record) == 3
    for seen, epoch_rows in record:
        np.testing.assert_array_equal(np.sort(seen[:, -1].numpy()), np.sort(train_index))
        assert not _rows(epoch_rows) & valid_rows
    # The balanced epochs differ from one epoch to the next.
    if not isinstance(imblearn_sampler, SMOTE):
        assert len({tuple(sorted(map(tuple, r.tolist()))) for _, r in record}) > 1


def test_estimator_fit_with_smote_is_reproducible_and_balances():
    X, y = _data()
    X, y = X.numpy(), y.numpy()
    clf = CrossEntropyClassifier(
        sampler=ImbalancedLearnSampler(SMOTE(k_neighbors=3)),
        max_epochs=4,
        hidden_layer_sizes=(4,),
        random_state=0,
    )
    proba = clf.fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(clf.fit(X, y).predict_proba(X), proba)
    np.testing.assert_array_equal(clf.class_counts_, COUNTS)  # statistics of the real split


def test_estimator_with_smote_and_sample_weight_raises():
    X, y = _data()
    clf = CrossEntropyClassifier(sampler=ImbalancedLearnSampler(SMOTE(k_neighbors=3)), max_epochs=1)
    with pytest.raises(ValueError, match="sample_weight"):
        clf.fit(X.numpy(), y.numpy(), sample_weight=np.ones(len(y)))


def test_too_small_class_for_smote_names_the_training_counts():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(103, 3)).astype(np.float32)
    y = np.r_[np.zeros(100), np.ones(3)]
    clf = CrossEntropyClassifier(sampler=ImbalancedLearnSampler(SMOTE()), max_epochs=1)
    with pytest.raises(ValueError, match=r"SMOTE failed on the training split.*\[100, 3\]"):
        clf.fit(X, y)


def test_loader_length_is_exact_for_resampled_epochs():
    X, y = _data()
    loader = TensorBatchLoader(
        TensorDataset(X, y), batch_size=16, sampler=ImbalancedLearnSampler(RandomOverSampler()),
        seed=0,
    )
    for _ in range(3):
        expected = len(loader)
        batches = list(loader)
        assert expected == len(batches) == 5  # 80 over-sampled rows, not 52 rows
        assert sum(len(X_batch) for X_batch, _ in batches) == 80


def test_estimator_epochs_have_the_resampled_size():
    X, y = _data()
    clf = CrossEntropyClassifier(
        sampler=ImbalancedLearnSampler(RandomOverSampler()), batch_size=16, max_epochs=2,
        hidden_layer_sizes=(4,), random_state=0,
    ).fit(X.numpy(), y.numpy())
    assert clf.history[:, "train_batch_count"] == [5, 5]
    assert sum(clf.history[-1, "batches", :, "train_batch_size"]) == 80
