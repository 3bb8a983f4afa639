"""Long-tailed subsets of a labelled data set: the class-count profiles and the draw.

The long-tailed protocol of Cui et al. (CVPR 2019) and Cao et al. (NeurIPS 2019):
keep ``n_i = int(n_max * (1 / IR) ** (i / (C - 1)))`` samples of the ``i``-th
class (exponential profile) or ``n_max`` for the first half of the classes and
``int(n_max / IR)`` for the rest (step profile).
"""

import numpy as np
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, column_or_1d

__all__ = ["long_tailed_counts", "long_tailed_indices", "make_long_tailed"]

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
