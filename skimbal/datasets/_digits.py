"""digits-LT: a long-tailed training split and a balanced test split of scikit-learn's digits."""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import check_random_state

from ._long_tailed import long_tailed_indices

__all__ = ["load_digits_lt"]


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

