"""CIFAR-10 from its python batches, and the CIFAR-10-LT training subset."""

import os
import pickle

import numpy as np
from sklearn.utils.validation import column_or_1d

from ._long_tailed import long_tailed_indices

__all__ = ["cifar10_lt_indices", "load_cifar10"]


# The only globals a CIFAR-10 batch needs: numpy arrays (as pickled by Python 2's
# cPickle and by today's numpy) and the latin-1 byte strings of protocol-2 pickles.
_CIFAR_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickle plain data and numpy arrays only: no other class or function is loaded."""

    def find_class(self, module, name):
        if (module, name) not in _CIFAR_GLOBALS:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: a CIFAR-10 batch holds only a dict of "
                "numpy arrays, lists and strings (this file may run code when unpickled)."
            )
        return super().find_class(module, name)


def _unpickle(path):
    with open(path, "rb") as file:
        try:
            return _ArrayUnpickler(file, encoding="bytes").load()
        except pickle.UnpicklingError as error:
            raise ValueError(f"{path!r} is not a CIFAR-10 python batch: {error}") from None


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
    ``b'labels'``. Nothing is downloaded. The batches are pickles, which can run
    code when loaded; they are read with an unpickler that loads nothing but
    numpy arrays, lists, dicts, numbers and strings, and refuses any other object.

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
