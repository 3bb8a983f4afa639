"""Multi-label (attribute) targets: a mixin for the estimators and the metric.

A multi-label target is an indicator matrix of shape (n_samples, n_attributes)
holding two values (usually 0 and 1). Every attribute is its own binary,
usually imbalanced, problem: the network has one logit per attribute, trained
with a per-attribute binary cross-entropy, and the model is judged by the mean
over the attributes of the balanced accuracy (Huang et al. 2016; Dong et al.
2019, the CelebA protocol).
"""

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score, make_scorer
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_consistent_length, check_random_state
from skorch.callbacks import EpochScoring
from skorch.utils import to_numpy

from ._validation import stratified_holdout

__all__ = [
    "MultiLabelMixin",
    "mean_attribute_balanced_accuracy",
    "mean_attribute_balanced_accuracy_scorer",
]


def mean_attribute_balanced_accuracy(y_true, y_pred):
    """Balanced accuracy of every attribute, averaged over the attributes.

    ``mean_a (TPR_a + TNR_a) / 2`` for indicator matrices (the "mean
    class-balanced accuracy" of the CelebA attribute benchmark); for 1-D
    targets it is :func:`sklearn.metrics.balanced_accuracy_score`.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples, n_attributes) or (n_samples,)

    Returns
    -------
    score : float

    Examples
    --------
    >>> import numpy as np
    >>> from skimbal._multilabel import mean_attribute_balanced_accuracy
    >>> y_true = np.array([[1, 0], [0, 0], [0, 1], [0, 0]])
    >>> y_pred = np.array([[1, 0], [1, 0], [0, 0], [0, 0]])
    >>> float(mean_attribute_balanced_accuracy(y_true, y_pred))
    0.666...
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    check_consistent_length(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape, got {y_true.shape} and {y_pred.shape}."
        )
    if y_true.ndim == 1:
        return balanced_accuracy_score(y_true, y_pred)
    return float(np.mean([
        balanced_accuracy_score(y_true[:, a], y_pred[:, a]) for a in range(y_true.shape[1])
    ]))


mean_attribute_balanced_accuracy_scorer = make_scorer(mean_attribute_balanced_accuracy)


def _valid_score(net, X, y):
    """Balanced accuracy (mean over attributes for multi-label) on encoded labels."""
    logits = net.forward(X)
    logits = logits[0] if isinstance(logits, tuple) else logits
    y = to_numpy(y)
    if y.ndim == 2:
        return mean_attribute_balanced_accuracy(y, to_numpy(logits > 0).astype(y.dtype))
    return balanced_accuracy_score(y, to_numpy(logits.argmax(1)))


class MultiLabelMixin:
    """Let an :class:`~skimbal.ImbalancedNetClassifier` also fit indicator matrices.

    Put it first among the bases. A 1-D ``y`` keeps the multi-class behaviour
    of the base unchanged; a 2-D ``y`` with two or more columns is a multi-label
    target and switches the estimator to one logit per attribute:

    - ``y`` must hold exactly two distinct values (``label_values_``, usually
      0 and 1) and every column must contain both;
    - ``classes_`` is ``arange(n_attributes)`` (as in
      :class:`sklearn.neural_network.MLPClassifier`), ``class_counts_`` has
      shape (n_attributes, 2) (counts of the low and high value per attribute on
      the training split), ``class_prior_`` the same normalised per row;
    - ``class_weight='balanced'`` gives ``class_weight_`` of shape
      (n_attributes, 2), inverse frequency normalised to sum to 2 per attribute;
      a dict is refused;
    - ``predict`` returns the (n_samples, n_attributes) matrix in the original
      values (threshold 0 on the logits), ``predict_proba`` the sigmoid of every
      attribute's logit, ``decision_function`` the logits;
    - the validation split stratifies each sample by its rarest attribute value
      (every attribute's minority value is spread over the two parts).

    Estimators compute the multi-label data term with :meth:`_attribute_bce`
    in their ``get_loss`` (see :class:`skimbal.CRLClassifier`).
    """

    # ------------------------------------------------------------------ target
    def _encode_targets(self, y, reset):
        multilabel = _is_matrix(y)
        if reset:
            self.multilabel_ = multilabel
        elif multilabel != getattr(self, "multilabel_", multilabel):
            raise ValueError(
                "y must be of the same kind (1-D labels or an indicator matrix) as in the "
                "first fit."
            )
        if not multilabel:
            if reset:
                vars(self).pop("label_values_", None)
            return super()._encode_targets(y, reset)
        y = np.asarray(y)
        kind = type_of_target(y)
        values = np.unique(y)
        if kind != "multilabel-indicator" or len(values) != 2:
            raise ValueError(
                "A 2-D y must be a binary indicator matrix with two distinct values (0/1); "
                f"got a target of type {kind!r} with values {values[:5].tolist()!r}."
            )
        if reset:
            self.label_values_ = values
            self.classes_ = np.arange(y.shape[1])
        elif y.shape[1] != len(self.classes_) or not np.isin(values, self.label_values_).all():
            raise ValueError(
                f"y has {y.shape[1]} attributes and values {values.tolist()!r}; the first fit "
                f"had {len(self.classes_)} and {self.label_values_.tolist()!r}."
            )
        encoded = (y == self.label_values_[1]).astype(np.int64)
        if reset:
            constant = np.flatnonzero(encoded.min(0) == encoded.max(0))
            if len(constant):
                raise ValueError(
                    f"Every attribute needs both values in y; attribute(s) "
                    f"{constant.tolist()!r} have a single value."
                )
        return encoded

    def _set_class_statistics(self, y_train):
        if not getattr(self, "multilabel_", False):
            return super()._set_class_statistics(y_train)
        positives = y_train.sum(0)
        counts = np.stack([len(y_train) - positives, positives], axis=1).astype(np.int64)
        self.class_counts_ = counts
        self.class_prior_ = counts / counts.sum(1, keepdims=True)
        if self.class_weight is None:
            self.class_weight_ = None
        elif isinstance(self.class_weight, str) and self.class_weight == "balanced":
            inverse = 1.0 / np.maximum(counts, 1)
            self.class_weight_ = (2 * inverse / inverse.sum(1, keepdims=True)).astype(np.float32)
        else:
            raise ValueError(
                "For a multi-label y, class_weight must be None or 'balanced', got "
                f"{self.class_weight!r}."
            )

    def _split_indices(self, y_encoded):
        if y_encoded.ndim == 1 or self.validation_fraction is None:
            return super()._split_indices(y_encoded)
        rng = check_random_state(self.random_state)
        return stratified_holdout(_rarest_value_strata(y_encoded), self.validation_fraction, rng)

    # --------------------------------------------------------------- training
    def initialize_criterion(self):
        if not getattr(self, "multilabel_", False):
            return super().initialize_criterion()
        self.criterion_ = torch.nn.BCEWithLogitsLoss()
        return self

    def _attribute_bce(self, logits, target, sample_weight=None):
        """Per-attribute binary cross-entropy, weighted by class and sample weights.

        ``sum_ia w_ia l_ia / sum_ia w_ia`` with ``w_ia = class_weight_[a, y_ia] *
        sample_weight_i`` (missing factors are 1).
        """
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            logits, target.to(logits.dtype), reduction="none"
        )
        weight = None
        if getattr(self, "class_weight_", None) is not None:
            table = torch.as_tensor(self.class_weight_, device=logits.device)
            attributes = torch.arange(logits.shape[1], device=logits.device)
            weight = table[attributes, target.long()]
        if sample_weight is not None:
            sample_weight = sample_weight[:, None].to(logits.dtype)
            weight = sample_weight if weight is None else weight * sample_weight
        if weight is None:
            return loss.mean()
        weight = weight.expand_as(loss)
        return (loss * weight).sum() / weight.sum().clamp_min(torch.finfo(loss.dtype).tiny)

    @property
    def _default_callbacks(self):
        callbacks = list(super()._default_callbacks)
        scoring = EpochScoring(_valid_score, name="valid_bacc", lower_is_better=False)
        return [(name, scoring if name == "valid_bacc" else cb) for name, cb in callbacks]

    # ------------------------------------------------------------- prediction
    def decision_function(self, X):
        """Logits: (n_samples, n_attributes) for multi-label, else as the base."""
        if not getattr(self, "multilabel_", False):
            return super().decision_function(X)
        return to_numpy(self._logits(X))

    def predict_proba(self, X):
        """Probabilities: the sigmoid of each attribute for multi-label targets.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_attributes) or (n_samples, n_classes)
            For multi-label targets, the probability of the high value of each
            attribute; otherwise the base's class probabilities.
        """
        if not getattr(self, "multilabel_", False):
            return super().predict_proba(X)
        return to_numpy(torch.sigmoid(self._logits(X)))

    def predict(self, X):
        """Labels, or the indicator matrix in the original values for multi-label."""
        if not getattr(self, "multilabel_", False):
            return super().predict(X)
        return self.label_values_[to_numpy(self._logits(X) > 0).astype(np.int64)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _is_matrix(y):
    """Whether ``y`` is 2-D with several columns (a column vector stays 1-D)."""
    shape = y.shape if hasattr(y, "shape") else np.asarray(y).shape
    return len(shape) == 2 and shape[1] > 1


def _rarest_value_strata(y_encoded):
    """Stratum of each sample: its rarest (attribute, value) pair.

    An attribute's minority value is its value with fewer samples; a sample
    holding no minority value falls in one extra stratum.
    """
    positives = y_encoded.sum(0)
    minority_value = (positives * 2 <= len(y_encoded)).astype(np.int64)
    minority_count = np.where(minority_value == 1, positives, len(y_encoded) - positives)
    holds = y_encoded == minority_value
    rank = np.where(holds, minority_count, np.iinfo(np.int64).max)
    strata = rank.argmin(1)
    strata[~holds.any(1)] = y_encoded.shape[1]
    return strata
