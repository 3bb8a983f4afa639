"""The score of multi-label (attribute) predictions, and its scorer.

The function is the one the estimators score their validation part with
(:func:`skimbal._core.prediction.mean_balanced_accuracy`), under its public name.
"""

from sklearn.metrics import make_scorer

from .._core.prediction import mean_balanced_accuracy as mean_attribute_balanced_accuracy

__all__ = ["mean_attribute_balanced_accuracy", "mean_attribute_balanced_accuracy_scorer"]

#: ``mean_attribute_balanced_accuracy`` as a scorer (``GridSearchCV(scoring=...)``).
mean_attribute_balanced_accuracy_scorer = make_scorer(mean_attribute_balanced_accuracy)
