import pickle

import numpy as np
import pytest

from skimbal.datasets import (
    cifar10_lt_indices,
    load_cifar10,
    load_digits_lt,
    long_tailed_counts,
    make_long_tailed,
)

# REFERENCE.md, "The standard long-tailed protocol": CIFAR-10 with IR 100.
CIFAR10_LT_100 = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]


@pytest.fixture
def ten_by_5000():
    """Labels of a fake CIFAR-10 training set (10 classes x 5000, interleaved)."""
    y = np.tile(np.arange(10), 5000)
    X = np.arange(len(y)).reshape(-1, 1)
    return X, y


def test_long_tailed_counts_reference():
    assert long_tailed_counts(5000, 10, 100).tolist() == CIFAR10_LT_100
    assert long_tailed_counts(5000, 10, 100).sum() == 12406
    assert long_tailed_counts(5000, 10, 100, "step").tolist() == [5000] * 5 + [50] * 5
    # Odd number of classes: the first C // 2 are the head.
    assert long_tailed_counts(100, 5, 10, "step").tolist() == [100, 100, 10, 10, 10]
    assert long_tailed_counts(7, 3, 1).tolist() == [7, 7, 7]
    # int(100 * 0.1 ** 0.5) = int(31.62...) = 31.
    assert long_tailed_counts(100, 3, 10).tolist() == [100, 31, 10]


def test_make_long_tailed_reference_counts(ten_by_5000):
    X, y = ten_by_5000
    X_lt, y_lt = make_long_tailed(X, y, imbalance_ratio=100, random_state=0)
    assert np.bincount(y_lt).tolist() == CIFAR10_LT_100
    # Rows and labels stay paired (X holds the row number).
    np.testing.assert_array_equal(y[X_lt.ravel()], y_lt)
    assert len(np.unique(X_lt)) == len(X_lt)

    _, y_step = make_long_tailed(X, y, imbalance_ratio=100, profile="step", random_state=0)
    assert np.bincount(y_step).tolist() == [5000] * 5 + [50] * 5


def test_make_long_tailed_seeding(ten_by_5000):
    X, y = ten_by_5000
    first, _ = make_long_tailed(X, y, imbalance_ratio=10, random_state=3)
    again, _ = make_long_tailed(X, y, imbalance_ratio=10, random_state=3)
    other, _ = make_long_tailed(X, y, imbalance_ratio=10, random_state=4)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    # A random subset of each class, not its first rows.
    tail = first.ravel()[y[first.ravel()] == 9]
    assert len(tail) == 500
    assert not np.array_equal(tail, np.flatnonzero(y == 9)[:500])


def test_make_long_tailed_frequency_order_and_auto_n_max():
    # Class 'b' is the most frequent: with order='frequency' it is the head.
    y = np.repeat(np.array(["a", "b", "c"]), [60, 100, 30])
    X = np.arange(len(y)).reshape(-1, 1)
    _, y_lt = make_long_tailed(X, y, imbalance_ratio=4, order="frequency", random_state=0)
    labels, counts = np.unique(y_lt, return_counts=True)
    assert dict(zip(labels.tolist(), counts.tolist(), strict=True)) == {"b": 100, "a": 50, "c": 25}
    # With 40 samples of 'a', the head count of 'b' (100) asks too much of 'a'.
    y = np.repeat(np.array(["a", "b", "c"]), [40, 100, 30])
    with pytest.raises(ValueError, match="class 'a' has 40 < 50"):
        make_long_tailed(X[: len(y)], y, imbalance_ratio=4, order="frequency")
    # 'auto' picks the largest head count every class can give:
    # n_max <= min(100 / 1, 40 / 0.5, 30 / 0.25) = 80.
    _, y_auto = make_long_tailed(
        X[: len(y)], y, imbalance_ratio=4, order="frequency", n_max="auto", random_state=0
    )
    labels, counts = np.unique(y_auto, return_counts=True)
    assert dict(zip(labels.tolist(), counts.tolist(), strict=True)) == {"b": 80, "a": 40, "c": 20}


def test_make_long_tailed_keeps_dataframe():
    pd = pytest.importorskip("pandas")
    y = np.repeat([0, 1], [20, 20])
    X = pd.DataFrame({"x": np.arange(40)})
    X_lt, y_lt = make_long_tailed(X, y, imbalance_ratio=4, random_state=0)
    assert isinstance(X_lt, pd.DataFrame)
    np.testing.assert_array_equal(y[X_lt["x"].to_numpy()], y_lt)
    assert np.bincount(y_lt).tolist() == [20, 5]


@pytest.mark.parametrize("ratio", [0.5, 0, -3, np.nan, np.inf, "ten"])
def test_make_long_tailed_rejects_bad_ratio(ten_by_5000, ratio):
    X, y = ten_by_5000
    with pytest.raises(ValueError, match="imbalance_ratio"):
        make_long_tailed(X, y, imbalance_ratio=ratio)


def test_make_long_tailed_errors():
    y = np.repeat(np.arange(3), [50, 60, 5])
    X = np.zeros((len(y), 1))
    # Class 2 (index order) must keep int(50 * 0.1) = 5: enough; with IR 2 it needs 25.
    make_long_tailed(X, y, imbalance_ratio=10)
    with pytest.raises(ValueError, match=r"class 2 has 5 < 25"):
        make_long_tailed(X, y, imbalance_ratio=2)
    with pytest.raises(ValueError, match="class 1 has 60 < 100"):
        make_long_tailed(X, y, imbalance_ratio=1, n_max=100)
    with pytest.raises(ValueError, match="profile"):
        make_long_tailed(X, y, imbalance_ratio=10, profile="linear")
    with pytest.raises(ValueError, match="order"):
        make_long_tailed(X, y, imbalance_ratio=10, order="size")
    with pytest.raises(ValueError, match="tail class"):
        make_long_tailed(X, y, imbalance_ratio=100)
    with pytest.raises(ValueError, match="at least 2 classes"):
        make_long_tailed(X[:50], y[:50], imbalance_ratio=10)
    with pytest.raises(ValueError, match="inconsistent"):
        make_long_tailed(X[:10], y, imbalance_ratio=10)


def test_load_digits_lt():
    X_train, X_test, y_train, y_test = load_digits_lt(10, random_state=0)
    assert X_train.shape[1] == X_test.shape[1] == 64
    # Test split: int(0.25 * 1797 / 10) = 44 images of every digit.
    assert np.bincount(y_test).tolist() == [44] * 10
    # n_max = smallest number of remaining images of a digit: 174 - 44 = 130.
    assert np.bincount(y_train).tolist() == long_tailed_counts(130, 10, 10).tolist()
    # Train and test are disjoint rows of the 1,797 images.
    assert len(y_train) + len(y_test) <= 1797
    again = load_digits_lt(10, random_state=0)
    np.testing.assert_array_equal(again[0], X_train)
    np.testing.assert_array_equal(again[1], X_test)
    _, _, y_balanced, _ = load_digits_lt(1, test_size=30, random_state=0)
    assert np.bincount(y_balanced).tolist() == [174 - 30] * 10


def test_load_digits_lt_disjoint_rows():
    from sklearn.datasets import load_digits

    X, _ = load_digits(return_X_y=True)
    # Tag every image by its row number in an extra pixel-free way: digits has
    # duplicate images, so compare multisets of rows instead of sets.
    X_train, X_test, _, _ = load_digits_lt(10, random_state=1)
    rows = {}
    for row in map(bytes, X.astype(np.uint8)):
        rows[row] = rows.get(row, 0) + 1
    for row in map(bytes, np.r_[X_train, X_test].astype(np.uint8)):
        rows[row] -= 1
    assert min(rows.values()) >= 0


def test_load_digits_lt_errors():
    with pytest.raises(ValueError, match="test_size"):
        load_digits_lt(10, test_size=1.5)
    with pytest.raises(ValueError, match="test images per digit"):
        load_digits_lt(10, test_size=174)
    with pytest.raises(ValueError, match="imbalance_ratio"):
        load_digits_lt(0.5)


def _write_fake_cifar(folder, per_batch=20, n_test=10):
    rng = np.random.default_rng(0)
    batches = {}
    for i in range(1, 6):
        batches[f"data_batch_{i}"] = per_batch
    batches["test_batch"] = n_test
    written = {}
    for name, n in batches.items():
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=n)]
        with open(folder / name, "wb") as file:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": name.encode()}, file)
        written[name] = (data, labels)
    return written


def test_load_cifar10_fake_folder(tmp_path):
    written = _write_fake_cifar(tmp_path)
    X_train, X_test, y_train, y_test = load_cifar10(tmp_path)
    assert X_train.shape == (100, 3, 32, 32) and X_train.dtype == np.uint8
    assert X_test.shape == (10, 3, 32, 32) and X_test.dtype == np.uint8
    assert y_train.dtype == np.int64
    expected_labels = sum((written[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    assert y_train.tolist() == expected_labels
    assert y_test.tolist() == written["test_batch"][1]
    # Channel-first layout: the first 1024 bytes of a row are the red plane.
    data, _ = written["data_batch_2"]
    np.testing.assert_array_equal(X_train[20, 0], data[0, :1024].reshape(32, 32))
    np.testing.assert_array_equal(X_train[20, 2], data[0, 2048:].reshape(32, 32))


def test_load_cifar10_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_cifar10(tmp_path / "missing")
    _write_fake_cifar(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_cifar10(tmp_path)
    with open(tmp_path / "data_batch_3", "wb") as file:
        pickle.dump({b"pixels": np.zeros((2, 3072), np.uint8)}, file)
    with pytest.raises(ValueError, match="not a CIFAR-10 python batch"):
        load_cifar10(tmp_path)
    with open(tmp_path / "data_batch_3", "wb") as file:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, file)
    with pytest.raises(ValueError, match="3072"):
        load_cifar10(tmp_path)


def test_cifar10_lt_indices(ten_by_5000):
    _, labels = ten_by_5000
    first = cifar10_lt_indices(labels, 100)
    assert np.bincount(labels[first]).tolist() == CIFAR10_LT_100
    # 'first' keeps the first n_i images of each class in file order.
    for c, n in enumerate(CIFAR10_LT_100):
        np.testing.assert_array_equal(first[labels[first] == c], np.flatnonzero(labels == c)[:n])
    random = cifar10_lt_indices(labels, 100, rule="random", random_state=0)
    assert np.bincount(labels[random]).tolist() == CIFAR10_LT_100
    assert not np.array_equal(random, first)
    np.testing.assert_array_equal(
        random, cifar10_lt_indices(labels, 100, rule="random", random_state=0)
    )
    step = cifar10_lt_indices(labels, 10, profile="step")
    assert np.bincount(labels[step]).tolist() == [5000] * 5 + [500] * 5
    with pytest.raises(ValueError, match="rule"):
        cifar10_lt_indices(labels, 100, rule="last")
