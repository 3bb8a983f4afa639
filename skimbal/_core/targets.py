"""Targets and class statistics, multi-class and multi-label, in one place.

A target is either a 1-D vector of labels of any type (one multi-class task) or
a binary indicator matrix of shape (n_samples, n_attributes) (one binary task per
attribute). :class:`LabelEncoding` maps either to the encoded form the network
trains on: int64 class indices ``0 .. C - 1``, or a 0/1 int64 matrix. The class
statistics (:func:`class_statistics`) are computed on the encoded labels of the
training split only: per class for a multi-class target, per attribute and value
(shape (n_attributes, 2)) for a multi-label one.
"""

import numbers
from typing import NamedTuple

import numpy as np
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import column_or_1d

__all__ = [
    "ClassStatistics",
    "LabelEncoding",
    "class_statistics",
    "count_classes",
    "is_multilabel_target",
    "split_strata",
    "stratified_holdout",
]


def is_multilabel_target(y):
    """Whether ``y`` is 2-D with several columns (a column vector stays 1-D)."""
    shape = y.shape if hasattr(y, "shape") else np.asarray(y, dtype=object).shape
    return len(shape) == 2 and shape[1] > 1


class LabelEncoding:
    """The labels of a fit and their encoding.

    Parameters
    ----------
    classes : ndarray of shape (n_classes,)
        Original labels in encoded order; for a multi-label target
        ``arange(n_attributes)`` (as in :class:`sklearn.neural_network.MLPClassifier`).
    label_values : ndarray of shape (2,) or None
        The two values of a multi-label indicator matrix (low, high); None for a
        multi-class target.
    """

    def __init__(self, classes, label_values=None):
        self.classes = np.asarray(classes)
        self.label_values = label_values

    @property
    def multilabel(self):
        return self.label_values is not None

    @property
    def n_outputs(self):
        """Number of logits: classes, or attributes for multi-label targets."""
        return len(self.classes)

    @classmethod
    def fit(cls, y, *, classes=None, allow_multilabel=False, name="The estimator"):
        """The encoding of ``y`` (and of the labels in ``classes``, when given).

        Raises a ``ValueError`` naming ``name`` for a target that is not a
        classification target, has a single class, or is a multi-label matrix when
        ``allow_multilabel`` is False.
        """
        if is_multilabel_target(y):
            if not allow_multilabel:
                raise ValueError(
                    f"{name} does not accept multi-label targets (y of shape "
                    f"{np.shape(y)}); pass one label per sample."
                )
            return cls._fit_multilabel(np.asarray(y))
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        labels = np.unique(y)
        if classes is not None:
            given = np.unique(np.asarray(classes))
            unknown = np.setdiff1d(labels, given)
            if len(unknown):
                raise ValueError(
                    f"y contains labels {unknown.tolist()!r} that are not in classes "
                    f"{given.tolist()!r}."
                )
            labels = given
        if len(labels) < 2:
            raise ValueError(
                f"{name} needs samples of at least 2 classes in the data, but the data "
                f"contain only one class: {labels[0]!r}."
            )
        return cls(labels)

    @classmethod
    def _fit_multilabel(cls, y):
        kind = type_of_target(y)
        values = np.unique(y)
        if kind != "multilabel-indicator" or len(values) != 2:
            raise ValueError(
                "A 2-D y must be a binary indicator matrix with two distinct values (0/1); "
                f"got a target of type {kind!r} with values {values[:5].tolist()!r}."
            )
        constant = np.flatnonzero((y == values[1]).min(0) == (y == values[1]).max(0))
        if len(constant):
            raise ValueError(
                f"Every attribute needs both values in y; attribute(s) {constant.tolist()!r} "
                "have a single value."
            )
        return cls(np.arange(y.shape[1]), label_values=values)

    def check_classes(self, classes):
        """Refuse a ``classes`` argument that differs from the labels of the first fit."""
        if not np.array_equal(np.unique(classes), self.classes):
            raise ValueError(
                f"classes={np.unique(classes).tolist()!r} differs from the classes of the "
                f"first call, {self.classes.tolist()!r}."
            )

    def encode(self, y):
        """Encoded labels: int64 indices, or a 0/1 int64 matrix for multi-label targets."""
        if self.multilabel:
            y = np.asarray(y)
            if not is_multilabel_target(y) or y.shape[1] != self.n_outputs:
                raise ValueError(
                    f"y must be an indicator matrix with {self.n_outputs} columns, as in the "
                    f"first fit; got a target of shape {np.shape(y)}."
                )
            unseen = np.setdiff1d(np.unique(y), self.label_values)
            if len(unseen):
                raise ValueError(
                    f"y holds values {unseen.tolist()!r}; the first fit had "
                    f"{self.label_values.tolist()!r}."
                )
            return (y == self.label_values[1]).astype(np.int64)
        if is_multilabel_target(y):
            raise ValueError(
                "y must be of the same kind as in the first fit (1-D labels), got a "
                f"target of shape {np.shape(y)}."
            )
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        unseen = np.setdiff1d(y, self.classes)
        if len(unseen):
            raise ValueError(f"y contains labels not seen in the first fit: {unseen.tolist()!r}.")
        return np.searchsorted(self.classes, y).astype(np.int64)

    def decode(self, index):
        """Original labels (or original values of an indicator matrix) of encoded ones."""
        if self.multilabel:
            return self.label_values[index]
        return self.classes[index]


class ClassStatistics(NamedTuple):
    """Class counts, priors and weights of a training split."""

    counts: np.ndarray
    prior: np.ndarray
    weight: np.ndarray


def count_classes(y_encoded, encoding):
    """Samples per class of encoded labels: shape (n_classes,), or (n_attributes, 2)
    (low and high value of every attribute) for a multi-label target."""
    if encoding.multilabel:
        positives = y_encoded.sum(0)
        return np.stack([len(y_encoded) - positives, positives], axis=1).astype(np.int64)
    return np.bincount(y_encoded, minlength=encoding.n_outputs).astype(np.int64)


def class_statistics(counts, encoding, class_weight=None):
    """Prior and resolved ``class_weight`` of training class counts.

    Parameters
    ----------
    counts : ndarray of int64, shape (n_classes,) or (n_attributes, 2)
        Training counts (:func:`count_classes`).
    encoding : LabelEncoding
    class_weight : None, 'balanced' or dict
        None gives no weights. 'balanced' gives ``w_j`` proportional to ``1 / n_j``,
        normalised to sum to the number of classes (per attribute to 2 for
        multi-label targets). A dict maps original labels to weights (classes it
        does not name get 1); it is refused for multi-label targets.

    Returns
    -------
    statistics : ClassStatistics
        ``counts``; ``prior`` the counts normalised per task; ``weight`` float32 of
        the shape of ``counts``, or None.
    """
    counts = np.asarray(counts, dtype=np.int64)
    prior = counts / np.maximum(counts.sum(-1, keepdims=True), 1)
    return ClassStatistics(counts, prior, _resolve_class_weight(class_weight, encoding, counts))


def _resolve_class_weight(class_weight, encoding, counts):
    if class_weight is None:
        return None
    if isinstance(class_weight, str) and class_weight == "balanced":
        inverse = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
        size = counts.shape[-1]
        return (inverse * size / inverse.sum(-1, keepdims=True)).astype(np.float32)
    if isinstance(class_weight, dict) and not encoding.multilabel:
        classes = encoding.classes.tolist()
        unknown = [label for label in class_weight if label not in set(classes)]
        if unknown:
            raise ValueError(
                f"class_weight names labels {unknown!r} that are not in the training "
                f"classes {classes!r}."
            )
        weights = np.array([class_weight.get(label, 1.0) for label in classes], np.float32)
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError("class_weight values must be finite and non-negative.")
        return weights
    allowed = "None or 'balanced'" if encoding.multilabel else "None, 'balanced' or a dict"
    raise ValueError(f"class_weight must be {allowed}, got {class_weight!r}.")


def split_strata(y_encoded):
    """One stratum per sample for a stratified split.

    Its class for a multi-class target; for a multi-label target its rarest
    (attribute, value) pair, so that every attribute's minority value is spread
    over both parts (samples holding no minority value form one extra stratum).
    """
    if y_encoded.ndim == 1:
        return y_encoded
    positives = y_encoded.sum(0)
    minority_value = (positives * 2 <= len(y_encoded)).astype(np.int64)
    minority_count = np.where(minority_value == 1, positives, len(y_encoded) - positives)
    holds = y_encoded == minority_value
    rank = np.where(holds, minority_count, np.iinfo(np.int64).max)
    strata = rank.argmin(1)
    strata[~holds.any(1)] = y_encoded.shape[1]
    return strata


def stratified_holdout(strata, fraction, random_state):
    """Split indices into training and held-out parts, stratum by stratum.

    Each stratum ``j`` gives ``floor(fraction * n_j)`` of its samples to the held-out
    part, so every class keeps at least ``ceil((1 - fraction) * n_j)`` training
    samples and a class too small to spare a sample stays whole in training (the
    floor that skorch's stratified 20 % split lacks).

    Parameters
    ----------
    strata : ndarray of int, shape (n_samples,)
        Stratum of each sample (:func:`split_strata`).
    fraction : float in (0, 1)
        Fraction of each stratum held out.
    random_state : numpy.random.RandomState
        Source of randomness.

    Returns
    -------
    train_index, holdout_index : ndarray of int64
        Sorted row indices.
    """
    if not isinstance(fraction, numbers.Real) or not 0 < fraction < 1:
        raise ValueError(f"the held-out fraction must be in (0, 1), got {fraction!r}.")
    train, holdout = [], []
    for label in np.unique(strata):
        members = np.flatnonzero(strata == label)
        members = members[random_state.permutation(len(members))]
        n_holdout = int(np.floor(fraction * len(members)))
        holdout.append(members[:n_holdout])
        train.append(members[n_holdout:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(holdout))
