"""Scores of single-label predictions on imbalanced and long-tailed test sets.

Thin wrappers around :mod:`sklearn.metrics` and :mod:`imblearn.metrics` plus the
long-tailed convention that neither library has: accuracy per class grouped by
the number of training samples (many / medium / few shot).
"""

import numpy as np
from imblearn.metrics import geometric_mean_score
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, recall_score
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_consistent_length, column_or_1d

__all__ = ["imbalance_report", "per_class_accuracy", "shot_accuracy"]


def per_class_accuracy(y_true, y_pred, *, labels=None):
    """Accuracy on the test samples of each class (the per-class recall).

    ``acc_j = |{i : y_i = j, yhat_i = j}| / |{i : y_i = j}|``, computed with
    :func:`sklearn.metrics.recall_score` and ``average=None``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    labels : array-like, default=None
        Classes to report, in this order; None takes the sorted union of the
        labels in ``y_true`` and ``y_pred``.

    Returns
    -------
    accuracy : ndarray of float64, shape (n_labels,)
        NaN for a class without test samples.

    Examples
    --------
    >>> from skimbal.metrics import per_class_accuracy
    >>> per_class_accuracy([0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 0, 2]).round(3).tolist()
    [0.5, 0.667, 1.0]
    """
    y_true, y_pred = _check_targets(y_true, y_pred)
    if labels is None:
        labels = np.union1d(y_true, y_pred)
    return recall_score(
        y_true, y_pred, labels=np.asarray(labels), average=None, zero_division=np.nan
    ).astype(np.float64)


def _check_targets(y_true, y_pred):
    y_true = column_or_1d(y_true, warn=True)
    y_pred = column_or_1d(y_pred, warn=True)
    check_consistent_length(y_true, y_pred)
    return y_true, y_pred


def _resolve_train_counts(train_counts, labels, y_true, y_pred):
    """Return ``(labels, counts)`` as aligned arrays."""
    if hasattr(train_counts, "keys"):
        mapping = dict(train_counts.items())
        if labels is None:
            labels = list(mapping)
        missing = [label for label in labels if label not in mapping]
        if missing:
            raise ValueError(f"train_counts has no count for the labels {missing!r}.")
        counts = [mapping[label] for label in labels]
    else:
        counts = train_counts
        if labels is None:
            labels = np.union1d(y_true, y_pred)
            if len(labels) != len(np.ravel(counts)):
                raise ValueError(
                    f"train_counts has {len(np.ravel(counts))} entries but the labels in "
                    f"y_true and y_pred are {labels.tolist()!r}; pass labels= (the classes "
                    "of train_counts, e.g. clf.classes_) or a dict {label: count}."
                )
    counts = np.asarray(counts, dtype=np.float64).ravel()
    labels = np.asarray(labels)
    if len(counts) != len(labels):
        raise ValueError(f"train_counts has {len(counts)} entries for {len(labels)} labels.")
    if np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise ValueError("train_counts must be finite and non-negative.")
    unknown = np.setdiff1d(np.union1d(y_true, y_pred), labels)
    if len(unknown):
        raise ValueError(
            f"y_true or y_pred contain labels {unknown.tolist()!r} that have no training count."
        )
    return labels, counts


def shot_accuracy(
    y_true, y_pred, train_counts, *, labels=None, many_threshold=100, few_threshold=20
):
    """Accuracy of the many-, medium- and few-shot classes.

    The classes are grouped by their number of training samples ``n_j``:
    many-shot ``n_j > many_threshold``, few-shot ``n_j < few_threshold`` and
    medium-shot the rest (the thresholds 100 and 20 follow Liu et al., "Large-Scale
    Long-Tailed Recognition in an Open World", CVPR 2019, Sec. 5). The accuracy of
    a group is the mean of the per-class accuracies of its classes that have test
    samples (on a balanced test set, the accuracy on the group's test samples).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted test labels.
    train_counts : dict or array-like
        Training samples of each class: a dict ``{label: count}``, or counts
        aligned with ``labels`` (for a fitted skimbal estimator,
        ``clf.class_counts_`` with ``labels=clf.classes_``).
    labels : array-like, default=None
        Classes of ``train_counts`` when it is an array; None takes the sorted
        union of ``y_true`` and ``y_pred``, which must then have one entry per count.
    many_threshold : float, default=100
        Classes with more training samples than this are many-shot.
    few_threshold : float, default=20
        Classes with fewer training samples than this are few-shot.

    Returns
    -------
    accuracy : dict
        ``{'many': float, 'medium': float, 'few': float}``; a group without
        classes (or without test samples) is NaN.

    Examples
    --------
    >>> from skimbal.metrics import shot_accuracy
    >>> acc = shot_accuracy([0, 0, 1, 1, 2, 2], [0, 0, 1, 0, 0, 0],
    ...                     train_counts={0: 500, 1: 50, 2: 5})
    >>> acc["many"], acc["medium"], acc["few"]
    (1.0, 0.5, 0.0)
    """
    if not few_threshold <= many_threshold:
        raise ValueError(
            f"few_threshold ({few_threshold}) must not exceed many_threshold ({many_threshold})."
        )
    y_true, y_pred = _check_targets(y_true, y_pred)
    labels, counts = _resolve_train_counts(train_counts, labels, y_true, y_pred)
    accuracy = per_class_accuracy(y_true, y_pred, labels=labels)
    groups = {
        "many": counts > many_threshold,
        "medium": (counts >= few_threshold) & (counts <= many_threshold),
        "few": counts < few_threshold,
    }
    result = {}
    for name, members in groups.items():
        values = accuracy[members & ~np.isnan(accuracy)]
        result[name] = float(values.mean()) if len(values) else float("nan")
    return result


def imbalance_report(
    y_true, y_pred, train_counts=None, *, labels=None, many_threshold=100, few_threshold=20
):
    """Every imbalance-aware score of a set of predictions, in one dict.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted test labels.
    train_counts : dict or array-like, default=None
        Training samples of each class (see :func:`shot_accuracy`); None leaves
        out the many/medium/few-shot entries.
    labels : array-like, default=None
        Classes of ``train_counts`` when it is an array, and the order of
        ``per_class_accuracy``; None takes the dict's keys or the sorted union of
        ``y_true`` and ``y_pred``.
    many_threshold, few_threshold : float, default=100, 20
        See :func:`shot_accuracy`.

    Returns
    -------
    report : dict
        ``accuracy``, ``balanced_accuracy`` (mean per-class recall,
        :func:`sklearn.metrics.balanced_accuracy_score`), ``macro_f1``
        (:func:`sklearn.metrics.f1_score` with ``average='macro'``), ``g_mean``
        (:func:`imblearn.metrics.geometric_mean_score`, 0 when a class is never
        recognised), ``labels`` and ``per_class_accuracy`` (aligned arrays) and,
        with ``train_counts``, ``many_shot_accuracy``, ``medium_shot_accuracy`` and
        ``few_shot_accuracy`` (NaN for an empty group) and ``train_counts``.

    Examples
    --------
    >>> from skimbal.metrics import imbalance_report
    >>> report = imbalance_report([0, 0, 1, 1], [0, 0, 1, 0], {0: 150, 1: 10})
    >>> report["balanced_accuracy"], report["few_shot_accuracy"]
    (0.75, 0.5)
    """
    if type_of_target(y_true) not in ("binary", "multiclass"):
        raise ValueError(
            "imbalance_report expects binary or multi-class labels; for multi-label "
            "indicator matrices use mean_attribute_balanced_accuracy."
        )
    y_true, y_pred = _check_targets(y_true, y_pred)
    report = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "g_mean": float(geometric_mean_score(y_true, y_pred)),
    }
    if train_counts is not None:
        labels, counts = _resolve_train_counts(train_counts, labels, y_true, y_pred)
        shots = shot_accuracy(
            y_true,
            y_pred,
            dict(zip(labels.tolist(), counts, strict=True)),
            labels=labels,
            many_threshold=many_threshold,
            few_threshold=few_threshold,
        )
        for group, value in shots.items():
            report[f"{group}_shot_accuracy"] = value
        report["train_counts"] = counts
    elif labels is None:
        labels = np.union1d(y_true, y_pred)
    report["labels"] = np.asarray(labels)
    report["per_class_accuracy"] = per_class_accuracy(y_true, y_pred, labels=labels)
    return report
