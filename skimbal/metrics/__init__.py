"""Metrics for class-imbalanced and long-tailed classification.

Thin wrappers around :mod:`sklearn.metrics` and :mod:`imblearn.metrics` plus the
long-tailed conventions that neither library has:

- ``_long_tailed``: :func:`per_class_accuracy`, accuracy per class grouped by the
  number of training samples (many / medium / few shot, :func:`shot_accuracy`)
  and every score at once (:func:`imbalance_report`);
- ``_multilabel``: the mean over attributes of the balanced accuracy for
  multi-label (attribute) prediction (:func:`mean_attribute_balanced_accuracy`,
  the score the estimators report as ``valid_bacc``) and its scorer
  ``mean_attribute_balanced_accuracy_scorer`` for ``GridSearchCV``.
"""

from ._long_tailed import imbalance_report, per_class_accuracy, shot_accuracy
from ._multilabel import mean_attribute_balanced_accuracy, mean_attribute_balanced_accuracy_scorer

__all__ = [
    "imbalance_report",
    "mean_attribute_balanced_accuracy",
    "mean_attribute_balanced_accuracy_scorer",
    "per_class_accuracy",
    "shot_accuracy",
]
