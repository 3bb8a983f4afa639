"""Class-aware samplers: drawing statistics, schedules, errors and use inside fit."""

import numpy as np
import pytest
import torch
from scipy.stats import chi2
from sklearn.metrics import balanced_accuracy_score

from skimbal import CrossEntropyClassifier
from skimbal._core.data import TensorBatchLoader, TensorDataset
from skimbal.sampling import (
    ClassAwareSampler,
    ProgressiveSampler,
    ReversedSampler,
    check_sampler,
)

COUNTS = torch.tensor([500, 120, 30, 8])


def _labels(seed=0):
    """Labels with COUNTS per class, in a shuffled (not class-sorted) order."""
    y = torch.repeat_interleave(torch.arange(len(COUNTS)), COUNTS)
    return y[torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))]


def _assert_frequencies(observed, expected, alpha=1e-4):
    """Chi-square goodness of fit of class counts against probabilities ``expected``."""
    observed = observed.double()
    expected = expected.double() * observed.sum()
    keep = expected > 0
    assert torch.all(observed[~keep] == 0)
    statistic = float(((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum())
    assert statistic < chi2.ppf(1 - alpha, int(keep.sum()) - 1), (observed, expected)


def _draw_class_counts(sampler, y, n_epochs=5, epoch=0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    counts = torch.zeros(len(COUNTS), dtype=torch.long)
    for _ in range(n_epochs):
        index = sampler.epoch_indices(y, epoch=epoch, generator=generator)
        counts += torch.bincount(y[index], minlength=len(COUNTS))
    return counts


@pytest.mark.parametrize("q", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("replacement", [True, False])
def test_class_frequencies_follow_power_of_counts(q, replacement):
    y = _labels()
    sampler = ClassAwareSampler(q=q, n_samples=20_000, replacement=replacement)
    expected = COUNTS.double() ** q / (COUNTS.double() ** q).sum()
    torch.testing.assert_close(sampler.class_probabilities(COUNTS), expected)
    observed = _draw_class_counts(sampler, y)
    _assert_frequencies(observed, expected)
    # Binomial bound per class: within 5 standard deviations.
    n = observed.sum()
    sd = torch.sqrt(n * expected * (1 - expected))
    assert torch.all((observed - n * expected).abs() <= 5 * sd)


def test_hand_computed_probabilities():
    counts = torch.tensor([100, 25, 4])
    torch.testing.assert_close(
        ClassAwareSampler(q=0.5).class_probabilities(counts),
        torch.tensor([10.0, 5.0, 2.0], dtype=torch.float64) / 17,
    )
    # BBN: w_j = n_max / n_j = (1, 4, 25), normalised.
    torch.testing.assert_close(
        ReversedSampler().class_probabilities(counts),
        torch.tensor([1.0, 4.0, 25.0], dtype=torch.float64) / 30,
    )


def test_empty_class_is_never_drawn_even_with_q_zero():
    y = torch.tensor([0] * 10 + [2] * 5)  # class 1 absent
    sampler = ClassAwareSampler(q=0.0)
    probabilities = sampler.class_probabilities(torch.bincount(y))
    torch.testing.assert_close(probabilities, torch.tensor([0.5, 0.0, 0.5], dtype=torch.float64))
    index = sampler.epoch_indices(y, epoch=0, generator=torch.Generator().manual_seed(0))
    assert set(y[index].tolist()) == {0, 2}


def test_reversed_sampler_frequencies():
    y = _labels()
    expected = (COUNTS.max() / COUNTS.double()) / (COUNTS.max() / COUNTS.double()).sum()
    observed = _draw_class_counts(ReversedSampler(n_samples=20_000), y)
    _assert_frequencies(observed, expected)
    assert observed.argmax() == len(COUNTS) - 1


def test_samples_uniform_within_class():
    y = _labels()
    generator = torch.Generator().manual_seed(1)
    index = ClassAwareSampler(q=0.0, n_samples=40_000).epoch_indices(
        y, epoch=0, generator=generator
    )
    rows_of_class = torch.nonzero(y == 1).ravel()
    hits = torch.bincount(index, minlength=len(y))[rows_of_class]
    _assert_frequencies(hits, torch.full((len(rows_of_class),), 1.0 / len(rows_of_class)))


def test_without_replacement_uses_every_sample_before_repeating():
    y = _labels()
    index = ClassAwareSampler(q=0.0, replacement=False).epoch_indices(
        y, epoch=0, generator=torch.Generator().manual_seed(2)
    )
    hits = torch.bincount(index, minlength=len(y))
    for j in range(len(COUNTS)):
        class_hits = hits[y == j]
        # k_j draws of class j: every row drawn floor(k_j/n_j) or ceil(k_j/n_j) times.
        assert class_hits.max() - class_hits.min() <= 1
        assert class_hits.sum() == torch.sum(y[index] == j)


@pytest.mark.parametrize(
    "sampler",
    [ClassAwareSampler(q=0.5), ClassAwareSampler(replacement=False), ReversedSampler()],
    ids=repr,
)
def test_indices_are_valid_rows_of_default_length(sampler):
    y = _labels()
    index = sampler.epoch_indices(y, epoch=0, generator=torch.Generator().manual_seed(0))
    assert index.dtype == torch.long
    assert index.shape == (len(y),)
    assert int(index.min()) >= 0 and int(index.max()) < len(y)


def test_n_samples_sets_epoch_length():
    index = ClassAwareSampler(n_samples=37).epoch_indices(_labels(), epoch=0)
    assert index.shape == (37,)


def test_redrawn_every_epoch_and_deterministic_under_seed():
    y = _labels()
    sampler = ClassAwareSampler(q=0.5)
    generator = torch.Generator().manual_seed(3)
    first = sampler.epoch_indices(y, epoch=0, generator=generator)
    second = sampler.epoch_indices(y, epoch=1, generator=generator)
    assert not torch.equal(first, second)
    generator = torch.Generator().manual_seed(3)
    torch.testing.assert_close(sampler.epoch_indices(y, epoch=0, generator=generator), first)
    torch.testing.assert_close(sampler.epoch_indices(y, epoch=1, generator=generator), second)


def test_progressive_probabilities_by_epoch():
    sampler = ProgressiveSampler()
    sampler.set_max_epochs(5)
    instance = COUNTS.double() / COUNTS.sum()
    balanced = torch.full((4,), 0.25, dtype=torch.float64)
    torch.testing.assert_close(sampler.class_probabilities(COUNTS, epoch=0), instance)
    torch.testing.assert_close(
        sampler.class_probabilities(COUNTS, epoch=2), 0.5 * instance + 0.5 * balanced
    )
    torch.testing.assert_close(sampler.class_probabilities(COUNTS, epoch=4), balanced)
    # Epochs past the end stay class-balanced.
    torch.testing.assert_close(sampler.class_probabilities(COUNTS, epoch=9), balanced)


def test_progressive_exponent_interpolation_reaches_square_root_midway():
    sampler = ProgressiveSampler(interpolation="exponent")
    sampler.set_max_epochs(5)
    for epoch, q in [(0, 1.0), (2, 0.5), (4, 0.0)]:
        torch.testing.assert_close(
            sampler.class_probabilities(COUNTS, epoch=epoch),
            ClassAwareSampler(q=q).class_probabilities(COUNTS),
        )


@pytest.mark.parametrize("epoch", [0, 2, 4])
def test_progressive_empirical_frequencies(epoch):
    sampler = ProgressiveSampler(n_samples=20_000)
    sampler.set_max_epochs(5)
    observed = _draw_class_counts(sampler, _labels(), n_epochs=3, epoch=epoch)
    _assert_frequencies(observed, sampler.class_probabilities(COUNTS, epoch=epoch))


def test_progressive_needs_max_epochs():
    with pytest.raises(ValueError, match="set_max_epochs"):
        ProgressiveSampler().epoch_indices(_labels(), epoch=0)
    with pytest.raises(ValueError, match="max_epochs"):
        ProgressiveSampler().set_max_epochs(0)


@pytest.mark.parametrize(
    "sampler, message",
    [
        (ClassAwareSampler(q="a"), "The 'q' parameter of ClassAwareSampler must be"),
        (ClassAwareSampler(n_samples=0), "'n_samples' parameter of ClassAwareSampler"),
        (ClassAwareSampler(n_samples=2.5), "'n_samples' parameter of ClassAwareSampler"),
        (ClassAwareSampler(replacement="yes"), "'replacement' parameter of ClassAwareSampler"),
    ],
)
def test_bad_parameters_raise(sampler, message):
    with pytest.raises(ValueError, match=message):
        sampler.epoch_indices(_labels(), epoch=0)


def test_bad_interpolation_raises():
    sampler = ProgressiveSampler(interpolation="cubic")
    sampler.set_max_epochs(3)
    with pytest.raises(ValueError, match="'interpolation' parameter of ProgressiveSampler"):
        sampler.epoch_indices(_labels(), epoch=0)


@pytest.mark.parametrize(
    "y, message",
    [
        (torch.zeros((4, 2), dtype=torch.long), "1-d"),
        (torch.tensor([0.0, 1.0]), "integer"),
        (torch.tensor([], dtype=torch.long), "empty"),
        (torch.tensor([-1, 0]), "non-negative"),
    ],
)
def test_bad_labels_raise(y, message):
    with pytest.raises(ValueError, match=message):
        ClassAwareSampler().epoch_indices(y, epoch=0)


@pytest.mark.parametrize(
    "name, q",
    [("instance-balanced", 1.0), ("class-balanced", 0.0), ("square-root", 0.5)],
)
def test_check_sampler_shortcuts(name, q):
    sampler = check_sampler(name)
    assert type(sampler) is ClassAwareSampler
    assert sampler.q == q
    assert type(check_sampler("progressive")) is ProgressiveSampler
    assert type(check_sampler("reversed")) is ReversedSampler
    assert check_sampler(None) is None


def test_check_sampler_errors_name_the_valid_strings():
    with pytest.raises(ValueError, match="'class-balanced'.*'reversed'"):
        check_sampler("balanced")
    with pytest.raises(ValueError, match="epoch_indices"):
        check_sampler(object())


# ----------------------------------------------------------- inside an estimator
def _toy(n_per_class=(60, 20), seed=0):
    rng = np.random.RandomState(seed)
    X = np.concatenate([rng.normal(loc=2.0 * j, size=(n, 2)) for j, n in enumerate(n_per_class)])
    y = np.repeat(np.arange(len(n_per_class)), n_per_class)
    return X, y


class SharedList(list):
    """A list that survives the estimator's deep copy of its sampler."""

    def __deepcopy__(self, memo):
        return self


class RecordingSampler(ClassAwareSampler):
    """Records the labels it is handed and the epochs it is asked for."""

    def __init__(self, q=0.0, n_samples=None, replacement=True, record=None):
        super().__init__(q=q, n_samples=n_samples, replacement=replacement)
        self.record = record

    def epoch_indices(self, y, *, epoch, generator=None):
        self.record.append((epoch, y.clone()))
        return super().epoch_indices(y, epoch=epoch, generator=generator)


class BatchRecordingClassifier(CrossEntropyClassifier):
    """Keeps the feature rows of every training batch."""

    def train_step_single(self, batch, **fit_params):
        vars(self).setdefault("_seen", []).append(batch[0].clone())
        return super().train_step_single(batch, **fit_params)


def test_sampler_sees_only_training_split_and_is_called_each_epoch():
    X, y = _toy()
    X = np.c_[X, np.arange(len(X))]  # last column: the row id
    record = SharedList()
    clf = BatchRecordingClassifier(
        sampler=RecordingSampler(record=record),
        validation_fraction=0.25,
        max_epochs=3,
        batch_size=16,
        hidden_layer_sizes=(4,),
        random_state=0,
    ).fit(X, y)
    train_index, valid_index = clf._split(y)
    assert [epoch for epoch, _ in record] == [0, 1, 2]
    for _, labels in record:
        assert len(labels) == len(train_index)
        np.testing.assert_array_equal(np.bincount(labels.numpy()), clf.class_counts_)
    seen_ids = torch.cat(clf._seen)[:, -1].long().unique().numpy()
    assert set(seen_ids) <= set(train_index.tolist())
    assert not set(seen_ids) & set(valid_index.tolist())


def test_estimator_draws_class_balanced_batches():
    X, y = _toy(n_per_class=(90, 10))
    clf = BatchRecordingClassifier(
        sampler="class-balanced", max_epochs=10, hidden_layer_sizes=(4,), random_state=0
    ).fit(X, y)
    seen = torch.cat(clf._seen)
    # Batches hold features only; recover each row's label through the exact rows of X.
    rows = {tuple(row): label for row, label in zip(X.astype(np.float32).tolist(), y, strict=True)}
    labels = np.array([rows[tuple(row)] for row in seen.tolist()])
    assert len(labels) == 10 * len(y)
    # 1000 draws, p = 0.5: 5 standard deviations is about 0.08.
    assert abs(np.mean(labels == 1) - 0.5) < 0.08


def test_estimator_sampler_parameter_is_not_modified_and_fits_reproduce():
    X, y = _toy()
    sampler = ProgressiveSampler()
    clf = CrossEntropyClassifier(
        sampler=sampler, max_epochs=3, hidden_layer_sizes=(4,), random_state=0
    )
    proba = clf.fit(X, y).predict_proba(X)
    assert not hasattr(sampler, "max_epochs_")
    np.testing.assert_array_equal(clf.fit(X, y).predict_proba(X), proba)


def test_estimator_rejects_unknown_sampler_string():
    X, y = _toy()
    clf = CrossEntropyClassifier(sampler="oversample", max_epochs=1)
    with pytest.raises(ValueError, match="valid names are"):
        clf.fit(X, y)


def test_class_balanced_sampling_beats_instance_balanced_on_long_tail():
    rng = np.random.RandomState(0)
    centres = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 1.7]])
    counts = [600, 60, 15]
    X = np.concatenate(
        [rng.normal(c, 0.9, size=(n, 2)) for c, n in zip(centres, counts, strict=True)]
    )
    y = np.repeat(np.arange(3), counts)
    X_test = np.concatenate([rng.normal(c, 0.9, size=(500, 2)) for c in centres])
    y_test = np.repeat(np.arange(3), 500)
    scores = {}
    for name in ("instance-balanced", "class-balanced"):
        clf = CrossEntropyClassifier(
            sampler=name, max_epochs=20, lr=0.01, hidden_layer_sizes=(16,), random_state=0
        ).fit(X, y)
        scores[name] = balanced_accuracy_score(y_test, clf.predict(X_test))
    assert scores["class-balanced"] > scores["instance-balanced"] + 0.1, scores


def test_loader_length_is_exact_when_the_sampler_changes_the_epoch_size():
    y = _labels()
    dataset = TensorDataset(torch.randn(len(y), 2), y)
    loader = TensorBatchLoader(
        dataset, batch_size=64, sampler=ClassAwareSampler(n_samples=500), seed=0
    )
    for _ in range(3):
        expected = len(loader)
        batches = list(loader)
        assert expected == len(batches) == 8  # ceil(500 / 64), not ceil(658 / 64)
        assert sum(len(X) for X, _ in batches) == 500


def test_estimator_epochs_have_the_sampler_size():
    X, y = _toy()
    clf = CrossEntropyClassifier(
        sampler=ClassAwareSampler(n_samples=500), batch_size=64, max_epochs=2,
        hidden_layer_sizes=(4,), random_state=0,
    ).fit(X, y)
    assert clf.history[:, "train_batch_count"] == [8, 8]
    assert sum(clf.history[-1, "batches", :, "train_batch_size"]) == 500


def test_progressive_sampling_continues_across_partial_fit_calls():
    X, y = _toy(n_per_class=(90, 10))
    record = SharedList()

    class RecordingProgressive(ProgressiveSampler):
        def __init__(self, record=None):
            super().__init__()
            self.record = record

        def epoch_indices(self, y, *, epoch, generator=None):
            counts = torch.bincount(y)
            self.record.append((epoch, self.class_probabilities(counts, epoch=epoch)))
            return super().epoch_indices(y, epoch=epoch, generator=generator)

    clf = CrossEntropyClassifier(
        sampler=RecordingProgressive(record=record), max_epochs=3, hidden_layer_sizes=(4,),
        random_state=0,
    )
    clf.partial_fit(X, y)
    sampler = clf.sampler_
    clf.partial_fit(X, y)
    assert clf.sampler_ is sampler
    # The epoch index comes from the history: 0..5, not 0..2 twice.
    assert [epoch for epoch, _ in record] == list(range(6))
    balanced = torch.tensor([0.5, 0.5], dtype=torch.float64)
    torch.testing.assert_close(record[1][1], torch.tensor([0.7, 0.3], dtype=torch.float64))
    for _, probabilities in record[2:]:
        torch.testing.assert_close(probabilities, balanced)
