"""The scores of one fold: every metric of the comparison, for each kind of target.

- balanced accuracy: mean per-class recall (multi-label: mean over the
  attributes of their balanced accuracy);
- macro-F1: F1 averaged over the classes (multi-label: over the attributes);
- G-mean: geometric mean of the per-class recalls (multi-label: mean over the
  attributes of sqrt(TPR * TNR));
- average precision and ROC-AUC: of the continuous scores (``predict_proba``,
  else ``decision_function``); binary: of the rarer class, multi-class: one
  class against the rest, macro-averaged; multi-label: macro over the attributes.
  NaN when the method has no continuous score;
- many / medium / few-shot accuracy (:func:`skimbal.metrics.shot_accuracy`) on
  multi-class data with at least :data:`SHOT_MIN_CLASSES` classes, else NaN.
"""

import numpy as np

__all__ = ["METRICS", "SHOT_COLUMNS", "SHOT_MIN_CLASSES", "continuous_scores", "score_fold"]

#: Metric column -> label of the command line and of the tables.
METRICS = {
    "balanced_accuracy": "balanced-accuracy",
    "macro_f1": "macro-f1",
    "g_mean": "g-mean",
    "average_precision": "average-precision",
    "roc_auc": "roc-auc",
}
SHOT_COLUMNS = ("many_shot_accuracy", "medium_shot_accuracy", "few_shot_accuracy")
#: Shot groups are reported for multi-class data with at least this many classes.
SHOT_MIN_CLASSES = 6


def shots_apply(dataset):
    """Whether the many/medium/few-shot groups mean something for ``dataset``."""
    return dataset.task == "multiclass" and len(dataset.labels) >= SHOT_MIN_CLASSES


def continuous_scores(estimator, X, task):
    """Scores of every class (or attribute), shape (n, C) or (n, A); None if none."""
    for method in ("predict_proba", "decision_function"):
        if not hasattr(estimator, method):
            continue
        try:
            scores = getattr(estimator, method)(X)
        except (AttributeError, NotImplementedError):
            continue
        if isinstance(scores, list):  # MultiOutputClassifier: one (n, 2) array per attribute
            scores = np.column_stack([s[:, 1] for s in scores])
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim == 1:  # binary decision_function: the second class's score
            scores = np.column_stack([-scores, scores])
        return scores
    return None


def score_fold(dataset, y_true, y_pred, scores, train_y):
    """Every metric of one fold, the per-class recalls and the training counts.

    Parameters
    ----------
    dataset : Dataset
    y_true, y_pred : ndarray
        Test labels (or indicator matrices) and predictions.
    scores : ndarray or None
        :func:`continuous_scores` of the test part, columns in label order.
    train_y : ndarray
        Training labels of the fold (for the class counts).

    Returns
    -------
    row : dict
        The metric columns, ``recall`` (per class or attribute, label order) and
        ``train_counts`` (training samples per class, or positives per attribute).
    """
    if dataset.task == "multilabel":
        return _score_multilabel(y_true, y_pred, scores, train_y)
    return _score_single_label(dataset, y_true, y_pred, scores, train_y)


def _score_single_label(dataset, y_true, y_pred, scores, train_y):
    from imblearn.metrics import geometric_mean_score
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, recall_score

    labels = np.unique(dataset.y)
    counts = np.array([np.sum(train_y == label) for label in labels])
    recall = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0.0)
    row = {
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro",
                                   zero_division=0.0)),
        "g_mean": float(geometric_mean_score(y_true, y_pred, labels=labels,
                                             average="multiclass")),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        **_ranking_scores(dataset, y_true, scores, labels),
        "recall": recall.astype(float).tolist(),
        "train_counts": counts.tolist(),
    }
    if shots_apply(dataset):
        from ..metrics import shot_accuracy

        shots = shot_accuracy(y_true, y_pred, dict(zip(labels.tolist(), counts.tolist(),
                                                       strict=True)))
        row.update({f"{group}_shot_accuracy": shots[group] for group in ("many", "medium",
                                                                         "few")})
    return row


def _ranking_scores(dataset, y_true, scores, labels):
    from sklearn.metrics import average_precision_score, roc_auc_score
    from sklearn.preprocessing import label_binarize

    nan = {"average_precision": float("nan"), "roc_auc": float("nan")}
    if scores is None or scores.shape[1] != len(labels) or not np.all(np.isfinite(scores)):
        return nan
    if dataset.task == "binary":
        column = int(np.flatnonzero(labels == dataset.positive_label)[0])
        truth, scores = (y_true == dataset.positive_label).astype(int), scores[:, column]
    else:
        truth = label_binarize(y_true, classes=labels)
    try:
        return {
            "average_precision": float(average_precision_score(truth, scores, average="macro")),
            "roc_auc": float(roc_auc_score(truth, scores, average="macro")),
        }
    except ValueError:  # a class without test samples
        return nan


def _score_multilabel(y_true, y_pred, scores, train_y):
    from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

    from ..metrics import mean_attribute_balanced_accuracy

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    positives = (y_true == 1).sum(0)
    negatives = (y_true == 0).sum(0)
    tpr = ((y_pred == 1) & (y_true == 1)).sum(0) / np.maximum(positives, 1)
    tnr = ((y_pred == 0) & (y_true == 0)).sum(0) / np.maximum(negatives, 1)
    row = {
        "balanced_accuracy": float(mean_attribute_balanced_accuracy(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0.0)),
        "g_mean": float(np.mean(np.sqrt(tpr * tnr))),
        "accuracy": float("nan"),
        "average_precision": float("nan"),
        "roc_auc": float("nan"),
        "recall": tpr.astype(float).tolist(),
        "train_counts": np.asarray(train_y).sum(0).astype(int).tolist(),
    }
    if scores is not None and scores.shape == y_true.shape and np.all(np.isfinite(scores)):
        try:
            row["average_precision"] = float(average_precision_score(y_true, scores,
                                                                     average="macro"))
            row["roc_auc"] = float(roc_auc_score(y_true, scores, average="macro"))
        except ValueError:
            pass
    return row
