"""Long-tailed versions of classification data sets.

The long-tailed protocol of Cui et al. (CVPR 2019) and Cao et al. (NeurIPS 2019):
keep ``n_i = int(n_max * (1 / IR) ** (i / (C - 1)))`` samples of the ``i``-th
class (exponential profile) or ``n_max`` for the first half of the classes and
``int(n_max / IR)`` for the rest (step profile), and test on a balanced set.
"""

import os
import pickle

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, column_or_1d

__all__ = [
    "cifar10_lt_indices",
    "load_cifar10",
    "load_digits_lt",
    "long_tailed_counts",
    "make_long_tailed",
]

_PROFILES = ("exponential", "step")


def long_tailed_counts(n_max, n_classes, imbalance_ratio=100, profile="exponential"):
    """Number of samples of each class in a long-tailed subset, head class first.

    Exponential profile: ``n_i = int(n_max * (1 / IR) ** (i / (C - 1)))`` for
    ``i = 0 .. C - 1`` (Cui et al., CVPR 2019, Sec. 6; Cao et al., NeurIPS 2019,
    Sec. 4). Step profile: the first ``C // 2`` classes keep ``n_max`` samples and
    the others ``int(n_max / IR)`` (Buda et al., 2018; Cao et al., 2019).

    Parameters
    ----------
    n_max : int
        Samples of the head class.
    n_classes : int
        Number of classes ``C`` (at least 2).
    imbalance_ratio : float, default=100
        ``IR = n_max / n_min``, at least 1.
    profile : {'exponential', 'step'}, default='exponential'
        Shape of the tail.

    Returns
    -------
    counts : ndarray of int64, shape (n_classes,)
        Non-increasing counts.

    Examples
    --------
    >>> from skimbal.datasets import long_tailed_counts
    >>> long_tailed_counts(5000, 10, imbalance_ratio=100).tolist()
    [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    >>> long_tailed_counts(5000, 10, imbalance_ratio=100, profile="step").tolist()
    [5000, 5000, 5000, 5000, 5000, 50, 50, 50, 50, 50]
    """
    imbalance_ratio = _check_imbalance_ratio(imbalance_ratio)
    if profile not in _PROFILES:
        raise ValueError(f"profile must be one of {_PROFILES}, got {profile!r}.")
    n_max, n_classes = int(n_max), int(n_classes)
    if n_classes < 2:
        raise ValueError(f"A long-tailed subset needs at least 2 classes, got {n_classes}.")
    if n_max < 1:
        raise ValueError(f"n_max must be a positive integer, got {n_max}.")
    counts = _profile_counts(n_max, n_classes, imbalance_ratio, profile)
    if counts[-1] < 1:
        raise ValueError(
            f"imbalance_ratio={imbalance_ratio} with n_max={n_max} leaves the tail class "
            f"with no sample; lower imbalance_ratio to at most {n_max}."
        )
    return counts


def _profile_counts(n_max, n_classes, imbalance_ratio, profile, cast=int):
    """Counts of the profile without validation (``cast=float`` gives the ratios)."""
    if profile == "exponential":
        exponents = np.arange(n_classes) / (n_classes - 1)
        counts = [cast(n_max * (1.0 / imbalance_ratio) ** e) for e in exponents]
    else:
        n_head = n_classes // 2
        counts = [cast(n_max)] * n_head + [cast(n_max / imbalance_ratio)] * (n_classes - n_head)
    return np.asarray(counts, dtype=np.int64 if cast is int else np.float64)


def _check_imbalance_ratio(imbalance_ratio):
    try:
        value = float(imbalance_ratio)
    except (TypeError, ValueError):
        raise ValueError(
            f"imbalance_ratio must be a number >= 1, got {imbalance_ratio!r}."
        ) from None
    if not np.isfinite(value) or value < 1:
        raise ValueError(
            f"imbalance_ratio must be a finite number >= 1 (n_max / n_min), got "
            f"{imbalance_ratio!r}."
        )
    return value


def _class_order(classes, available, order):
    """Positions of ``classes`` from head to tail."""
    if order == "index":
        return np.arange(len(classes))
    if order == "frequency":
        # Most frequent first; ties keep the class order (stable sort).
        return np.argsort(-available, kind="stable")
    raise ValueError(f"order must be 'index' or 'frequency', got {order!r}.")


def _largest_n_max(available, imbalance_ratio, profile):
    """Largest head count that every class (ranked head first) can provide."""
    n_classes = len(available)
    ratios = _profile_counts(1.0, n_classes, imbalance_ratio, profile, cast=float)
    n_max = int(np.min(np.floor(available / ratios)))
    # Rounding of int(n_max * ratio) can only make the counts smaller; check anyway.
    while n_max > 1 and np.any(
        _profile_counts(n_max, n_classes, imbalance_ratio, profile) > available
    ):
        n_max -= 1
    return n_max


def long_tailed_indices(
    y,
    imbalance_ratio=100,
    *,
    profile="exponential",
    n_max=None,
    order="index",
    rule="random",
    random_state=None,
):
    """Row indices of a long-tailed subset of the labelled samples ``y``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels.
    imbalance_ratio, profile
        See :func:`long_tailed_counts`.
    n_max : int, 'auto' or None, default=None
        Samples kept of the head class. None takes all the samples of the head
        class; 'auto' takes the largest number that every class can provide.
    order : {'index', 'frequency'}, default='index'
        Which class is the head: 'index' ranks the classes by their sorted label
        (class 0 is the head, as in CIFAR-LT); 'frequency' ranks them by their
        number of samples in ``y``, most frequent first (ties by label).
    rule : {'random', 'first'}, default='random'
        'random' keeps a seeded random subset of each class; 'first' keeps the
        first ``n_i`` samples of each class in the order of ``y``.
    random_state : int, RandomState instance or None, default=None
        Seed of the 'random' rule.

    Returns
    -------
    indices : ndarray of int64
        Sorted row indices of the kept samples.
    """
    y = column_or_1d(y, warn=True)
    check_classification_targets(y)
    if rule not in ("random", "first"):
        raise ValueError(f"rule must be 'random' or 'first', got {rule!r}.")
    classes, y_encoded = np.unique(y, return_inverse=True)
    available = np.bincount(y_encoded, minlength=len(classes))
    ranking = _class_order(classes, available, order)
    if n_max is None:
        n_max = available[ranking[0]]
    elif isinstance(n_max, str):
        if n_max != "auto":
            raise ValueError(f"n_max must be None, 'auto' or an int, got {n_max!r}.")
        n_max = _largest_n_max(available[ranking], imbalance_ratio, profile)
    counts = long_tailed_counts(n_max, len(classes), imbalance_ratio, profile)
    short = [
        (classes.tolist()[c], int(available[c]), int(n))
        for c, n in zip(ranking, counts, strict=True)
        if available[c] < n
    ]
    if short:
        details = ", ".join(f"class {label!r} has {have} < {need}" for label, have, need in short)
        raise ValueError(
            f"Not enough samples for the long-tailed profile with n_max={int(n_max)} "
            f"({details}); pass a smaller n_max or order='frequency'."
        )
    rng = check_random_state(random_state)
    kept = []
    for c, n in zip(ranking, counts, strict=True):
        members = np.flatnonzero(y_encoded == c)
        if rule == "random":
            members = rng.choice(members, size=n, replace=False)
        else:
            members = members[:n]
        kept.append(members)
    return np.sort(np.concatenate(kept)).astype(np.int64)


def make_long_tailed(
    X,
    y,
    imbalance_ratio=100,
    profile="exponential",
    *,
    n_max=None,
    order="index",
    random_state=None,
):
    """Draw a long-tailed subset of a classification data set.

    Class ``i`` from the head keeps ``n_i`` samples (see
    :func:`long_tailed_counts`), a seeded random subset of its samples, as in the
    CIFAR-LT protocol (Cui et al., CVPR 2019; Cao et al., NeurIPS 2019).

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Features (any array indexable by rows, including a DataFrame).
    y : array-like of shape (n_samples,)
        Class labels.
    imbalance_ratio : float, default=100
        ``n_max / n_min``, at least 1.
    profile : {'exponential', 'step'}, default='exponential'
        Exponential decay of the counts or two levels (``n_max`` for the first
        ``C // 2`` classes, ``int(n_max / IR)`` for the rest).
    n_max : int, 'auto' or None, default=None
        Samples of the head class. None keeps all of the head class; 'auto' takes
        the largest ``n_max`` for which every class has enough samples.
    order : {'index', 'frequency'}, default='index'
        Which class is the head. 'index': classes ranked by sorted label, the
        first label is the head (the CIFAR-LT convention; every class must then
        have enough samples for its rank). 'frequency': classes ranked by their
        number of samples, most frequent first (ties by label), which fits data
        that are already imbalanced.
    random_state : int, RandomState instance or None, default=None
        Seed of the subset drawn from each class.

    Returns
    -------
    X_lt : same type as X
        The kept rows, in their original order.
    y_lt : ndarray of shape (n_kept,)
        Their labels.

    Raises
    ------
    ValueError
        If ``imbalance_ratio < 1``, the profile is unknown, or a class has fewer
        samples than its rank requires (the message names it).

    Examples
    --------
    >>> import numpy as np
    >>> from skimbal.datasets import make_long_tailed
    >>> y = np.repeat(np.arange(4), 100)
    >>> X = np.arange(400).reshape(-1, 1)
    >>> X_lt, y_lt = make_long_tailed(X, y, imbalance_ratio=10, random_state=0)
    >>> np.bincount(y_lt).tolist()
    [100, 46, 21, 10]
    """
    check_consistent_length(X, y)
    y = column_or_1d(y, warn=True)
    indices = long_tailed_indices(
        y,
        imbalance_ratio,
        profile=profile,
        n_max=n_max,
        order=order,
        rule="random",
        random_state=random_state,
    )
    return _safe_indexing(X, indices), y[indices]


def _balanced_split(y, n_test_per_class, rng):
    """Indices of a test part with ``n_test_per_class`` samples of every class."""
    test = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        test.append(rng.choice(members, size=n_test_per_class, replace=False))
    test = np.sort(np.concatenate(test))
    train = np.setdiff1d(np.arange(len(y)), test)
    return train, test


def load_digits_lt(imbalance_ratio=20, *, test_size=0.25, profile="exponential", random_state=None):
    """Long-tailed training split and balanced test split of the digits data set.

    The 1,797 8x8 images of scikit-learn's :func:`~sklearn.datasets.load_digits`
    (shipped with scikit-learn, no download). First a balanced test split is
    drawn with the same number of images of every digit; the long-tailed profile
    is then applied to the rest, digit 0 being the head class with ``n_max``
    equal to the smallest number of remaining images of a digit.

    Parameters
    ----------
    imbalance_ratio : float, default=20
        ``n_max / n_min`` of the training split (1 gives a balanced training split).
    test_size : float in (0, 1) or int, default=0.25
        A float is the fraction of the data set in the test split,
        ``int(test_size * 1797 / 10)`` images of every digit; an int is the number
        of images of every digit.
    profile : {'exponential', 'step'}, default='exponential'
        See :func:`long_tailed_counts`.
    random_state : int, RandomState instance or None, default=None
        Seed of the test split and of the long-tailed subset.

    Returns
    -------
    X_train : ndarray of float64, shape (n_train, 64)
    X_test : ndarray of float64, shape (n_test, 64)
    y_train : ndarray of int, shape (n_train,)
    y_test : ndarray of int, shape (n_test,)

    Examples
    --------
    >>> import numpy as np
    >>> from skimbal.datasets import load_digits_lt
    >>> X_train, X_test, y_train, y_test = load_digits_lt(10, random_state=0)
    >>> np.bincount(y_train).tolist()
    [130, 100, 77, 60, 46, 36, 28, 21, 16, 13]
    >>> np.bincount(y_test).tolist()
    [44, 44, 44, 44, 44, 44, 44, 44, 44, 44]
    """
    X, y = load_digits(return_X_y=True)
    n_classes = len(np.unique(y))
    smallest = int(np.bincount(y).min())
    if isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool):
        n_test = int(test_size)
    elif isinstance(test_size, float) and 0 < test_size < 1:
        n_test = int(test_size * len(y) / n_classes)
    else:
        raise ValueError(
            f"test_size must be a float in (0, 1) or a positive int, got {test_size!r}."
        )
    if not 1 <= n_test < smallest:
        raise ValueError(
            f"test_size gives {n_test} test images per digit; it must be between 1 and "
            f"{smallest - 1} (the smallest digit has {smallest} images)."
        )
    rng = check_random_state(random_state)
    train, test = _balanced_split(y, n_test, rng)
    n_max = int(np.bincount(y[train]).min())
    keep = long_tailed_indices(
        y[train], imbalance_ratio, profile=profile, n_max=n_max, random_state=rng
    )
    train = train[keep]
    return X[train], X[test], y[train], y[test]


def _unpickle(path):
    with open(path, "rb") as file:
        return pickle.load(file, encoding="bytes")


def _read_batch(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"CIFAR-10 batch {path!r} not found; expected the python version of CIFAR-10 "
            "(data_batch_1 .. data_batch_5 and test_batch)."
        )
    batch = _unpickle(path)
    try:
        data, labels = batch[b"data"], batch[b"labels"]
    except (KeyError, TypeError):
        raise ValueError(
            f"{path!r} is not a CIFAR-10 python batch (a dict with b'data' and b'labels')."
        ) from None
    data = np.asarray(data, dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise ValueError(
            f"{path!r}: b'data' must have shape (n, 3072) with one label per row, got "
            f"{data.shape} and {len(labels)} labels."
        )
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)


def load_cifar10(path):
    """Read CIFAR-10 from its python batches.

    Reads the standard "CIFAR-10 python version" folder (Krizhevsky, 2009):
    ``data_batch_1`` .. ``data_batch_5`` and ``test_batch``, each a pickled dict
    with ``b'data'`` (uint8, one 3072-byte row per image, channels first) and
    ``b'labels'``. Nothing is downloaded.

    Parameters
    ----------
    path : str or path-like
        The folder holding the batches (usually ``cifar-10-batches-py``).

    Returns
    -------
    X_train : ndarray of uint8, shape (50000, 3, 32, 32)
    X_test : ndarray of uint8, shape (10000, 3, 32, 32)
    y_train : ndarray of int64, shape (50000,)
    y_test : ndarray of int64, shape (10000,)

    See Also
    --------
    cifar10_lt_indices : the long-tailed training subset.
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"CIFAR-10 folder {path!r} does not exist.")
    train = [_read_batch(os.path.join(path, f"data_batch_{i}")) for i in range(1, 6)]
    X_test, y_test = _read_batch(os.path.join(path, "test_batch"))
    X_train = np.concatenate([X for X, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return X_train, X_test, y_train, y_test


def cifar10_lt_indices(
    labels, imbalance_ratio=100, *, profile="exponential", rule="first", random_state=None
):
    """Indices of the long-tailed CIFAR-10 training subset (CIFAR-10-LT).

    Class ``i`` keeps ``int(5000 * (1 / IR) ** (i / 9))`` images (class 0 is the
    head); IR 100 gives 5000 2997 1796 1077 645 387 232 139 83 50 (12,406 images).

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        Training labels, for example ``y_train`` of :func:`load_cifar10`.
    imbalance_ratio : float, default=100
        ``n_max / n_min``.
    profile : {'exponential', 'step'}, default='exponential'
        See :func:`long_tailed_counts`.
    rule : {'first', 'random'}, default='first'
        'first' keeps the first ``n_i`` images of each class in file order (Cao
        et al.'s LDAM code does this); 'random' keeps a seeded random subset.
    random_state : int, RandomState instance or None, default=None
        Seed of the 'random' rule.

    Returns
    -------
    indices : ndarray of int64
        Sorted indices into ``labels``.

    Examples
    --------
    >>> import numpy as np
    >>> from skimbal.datasets import cifar10_lt_indices
    >>> labels = np.tile(np.arange(10), 5000)
    >>> np.bincount(labels[cifar10_lt_indices(labels, 100)]).tolist()
    [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    """
    labels = column_or_1d(labels, warn=True)
    n_max = int(np.bincount(np.unique(labels, return_inverse=True)[1]).max())
    return long_tailed_indices(
        labels,
        imbalance_ratio,
        profile=profile,
        n_max=n_max,
        order="index",
        rule=rule,
        random_state=random_state,
    )
