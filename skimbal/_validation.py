"""Input validation and class statistics shared by every estimator."""

import numbers

import numpy as np
from sklearn.utils.validation import _check_sample_weight

__all__ = [
    "check_bool",
    "check_class_weight",
    "check_non_negative",
    "class_counts",
    "stratified_holdout",
]


def check_bool(value, name):
    """Raise a ``ValueError`` naming ``name`` unless ``value`` is a bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool, got {value!r}.")


def check_non_negative(value, name):
    """Raise a ``ValueError`` naming ``name`` unless ``value`` is a real number >= 0.

    Booleans and NaN are refused.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}.")


def class_counts(y_encoded, n_classes):
    """Number of samples of each class in an encoded target vector.

    Parameters
    ----------
    y_encoded : array-like of int, shape (n_samples,)
        Labels encoded as ``0 .. n_classes - 1``.
    n_classes : int
        Number of classes (classes absent from ``y_encoded`` count 0).

    Returns
    -------
    counts : ndarray of int64, shape (n_classes,)
    """
    return np.bincount(np.asarray(y_encoded, dtype=np.int64), minlength=n_classes).astype(
        np.int64
    )


def check_class_weight(class_weight, classes, counts):
    """Resolve the ``class_weight`` parameter into one weight per class.

    Parameters
    ----------
    class_weight : None, 'balanced' or dict
        None gives no weights. 'balanced' gives ``w_j`` proportional to
        ``1 / n_j``. A dict maps original labels to weights; classes it does not
        name get weight 1.
    classes : ndarray of shape (n_classes,)
        Original labels, in encoded order.
    counts : ndarray of shape (n_classes,)
        Training counts of each class.

    Returns
    -------
    weights : ndarray of float32, shape (n_classes,) or None
        'balanced' weights are normalised to sum to ``n_classes``; dict weights are
        taken as given.
    """
    if class_weight is None:
        return None
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(
                f"class_weight must be None, 'balanced' or a dict, got {class_weight!r}."
            )
        with np.errstate(divide="ignore"):
            inverse = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
        return (inverse * len(classes) / inverse.sum()).astype(np.float32)
    if isinstance(class_weight, dict):
        unknown = [label for label in class_weight if label not in set(classes.tolist())]
        if unknown:
            raise ValueError(
                f"class_weight names labels {unknown!r} that are not in the training "
                f"classes {classes.tolist()!r}."
            )
        weights = np.ones(len(classes), dtype=np.float32)
        for i, label in enumerate(classes.tolist()):
            if label in class_weight:
                weights[i] = class_weight[label]
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError("class_weight values must be finite and non-negative.")
        return weights
    raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {class_weight!r}.")


def check_sample_weight(sample_weight, n_samples):
    """Validate ``sample_weight``: right length, finite, non-negative, not all zero."""
    if sample_weight is None:
        return None
    # scikit-learn checks length, finiteness and that one weight is non-zero.
    weights = _check_sample_weight(
        sample_weight, np.empty((n_samples, 0)), dtype=np.float64, ensure_non_negative=True
    )
    return weights.astype(np.float32)


def stratified_holdout(y_encoded, fraction, random_state):
    """Split indices into training and validation parts, class by class.

    Each class ``j`` gives ``floor(fraction * n_j)`` of its samples to the
    validation part, so every class keeps at least ``ceil((1 - fraction) * n_j)``
    training samples; a class too small to spare a sample stays whole in
    training. This is the floor that skorch's stratified 20 % split lacks.

    Parameters
    ----------
    y_encoded : ndarray of int, shape (n_samples,)
        Encoded labels.
    fraction : float in (0, 1)
        Fraction of each class held out.
    random_state : numpy.random.RandomState
        Source of randomness.

    Returns
    -------
    train_index, valid_index : ndarray of int64
    """
    if not isinstance(fraction, numbers.Real) or not 0 < fraction < 1:
        raise ValueError(f"validation_fraction must be None or in (0, 1), got {fraction!r}.")
    train, valid = [], []
    for label in np.unique(y_encoded):
        members = np.flatnonzero(y_encoded == label)
        members = members[random_state.permutation(len(members))]
        n_valid = int(np.floor(fraction * len(members)))
        valid.append(members[:n_valid])
        train.append(members[n_valid:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(valid))
