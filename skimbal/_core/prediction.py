"""Prediction with scikit-learn semantics, through skorch's forward path.

Arrays are validated as scikit-learn does; torch datasets (skorch's, or the
``TensorDataset`` a scoring callback hands over) go to the module as they are.
Either way the batches flow through skorch's ``forward_iter``, so skorch's
cached scoring during training works with every method.
"""

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score
from skorch.callbacks import EpochScoring, EpochTimer, PassthroughScoring, PrintLog, ProgressBar
from skorch.utils import to_numpy

from . import components
from .batch import as_model_output, as_target
from .data import TensorDataset
from .inputs import is_skorch_input, skorch_dataset

__all__ = [
    "OriginalLabels",
    "PredictionMixin",
    "batch_labels",
    "default_callbacks",
    "mean_balanced_accuracy",
    "score_in_original_labels",
]


def mean_balanced_accuracy(y_true, y_pred):
    """Balanced accuracy; for indicator matrices its mean over the attributes.

    ``mean_a (TPR_a + TNR_a) / 2``, the "mean class-balanced accuracy" of the CelebA
    attribute benchmark (Huang et al. 2016; Dong et al. 2019).
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape, got {y_true.shape} and {y_pred.shape}."
        )
    if y_true.ndim == 1:
        return balanced_accuracy_score(y_true, y_pred)
    return float(np.mean([
        balanced_accuracy_score(y_true[:, a], y_pred[:, a]) for a in range(y_true.shape[1])
    ]))


def batch_labels(target):
    """The encoded labels of a batch target, as an array (a scoring ``target_extractor``)."""
    return to_numpy(as_target(target).y)


class OriginalLabels:
    """``target_extractor`` of a scoring callback: a batch's labels, decoded.

    skimbal trains on encoded labels; a user's ``EpochScoring`` (accuracy, f1,
    roc_auc) compares them with ``predict``, which returns the original labels, and
    with ``classes_`` (a scorer's ``pos_label``): the estimator gives such callbacks
    this extractor in place of skorch's default ``to_numpy``.
    """

    def __init__(self, encoding):
        self.encoding = encoding

    def __call__(self, target):
        return self.encoding.decode(batch_labels(target))


def score_in_original_labels(callbacks, encoding):
    """Give scoring callbacks with skorch's default extractor :class:`OriginalLabels`."""
    if encoding is None:
        return
    for _, callback in callbacks:
        extractor = getattr(callback, "target_extractor", None)
        if extractor is to_numpy or isinstance(extractor, OriginalLabels):
            callback.target_extractor = OriginalLabels(encoding)


def _valid_balanced_accuracy(net, X, y):
    return mean_balanced_accuracy(y, net.predict_encoded(X))


def default_callbacks(progress_bar=False, validation=False):
    """skorch's default callbacks, scoring balanced accuracy instead of accuracy.

    The validation scores only when there is a validation part (every callback is
    called on every batch: no idle ones in the training loop).
    """
    callbacks = [
        ("epoch_timer", EpochTimer()),
        ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
    ]
    if validation:
        callbacks += [
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            ("valid_bacc", EpochScoring(_valid_balanced_accuracy, name="valid_bacc",
                                        lower_is_better=False, target_extractor=batch_labels)),
        ]
    callbacks.append(("print_log", PrintLog()))
    if progress_bar:
        callbacks.insert(-1, ("progress_bar", ProgressBar()))
    return callbacks


class PredictionMixin:
    """``decision_function``, ``predict_proba`` and ``predict`` in the original labels.

    Every prediction runs skorch's ``forward_iter`` and turns each batch's output
    into decision scores with :meth:`batch_scores`, the one hook a method overrides
    when it decides from something else than the raw logits.
    """

    def _forward_dataset(self, X):
        """A dataset of ``X`` for the forward pass (arrays validated, datasets as they are)."""
        if is_skorch_input(X):
            return skorch_dataset(X)
        X = self._validate_X(X, reset=False)
        return TensorDataset(torch.as_tensor(X, device=self._device()))

    def batch_scores(self, output):
        """Decision scores of one batch from the module's output (a :class:`ModelOutput`).

        The logits; methods that decide from something else (post-hoc logit
        adjustment, scaled cosines) override this.
        """
        return output.logits

    def _scores_per_batch(self, X):
        self.check_is_fitted()
        with torch.no_grad():
            for output in self.forward_iter(self._forward_dataset(X), training=False,
                                            device=self._device()):
                yield self.batch_scores(as_model_output(output))

    def decision_scores(self, X):
        """The decision scores of ``X`` as one tensor on the device."""
        return torch.cat(list(self._scores_per_batch(X)))

    def decision_function(self, X):
        """The decision scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a torch dataset

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), (n_samples,) for two classes
            (score of the second class minus that of the first), or (n_samples,
            n_attributes) for a multi-label target.
        """
        scores = to_numpy(self.decision_scores(X))
        if not getattr(self, "multilabel_", False) and scores.ndim == 2 and scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict_proba(self, X):
        """Class probabilities (of the high value of each attribute for multi-label ``y``).

        ``predict_nonlinearity`` of the decision scores, batch by batch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a torch dataset

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes) or (n_samples, n_attributes)
            Columns in the order of ``classes_``; rows of a multi-class target sum to 1.
        """
        nonlinearity = components.predict_nonlinearity(self)
        proba = np.concatenate([to_numpy(nonlinearity(s)) for s in self._scores_per_batch(X)])
        return components.check_finite_outputs(proba, "the network's outputs")

    def predict_encoded(self, X):
        """Predictions as encoded labels (indices, or a 0/1 matrix for multi-label ``y``)."""
        proba = self.predict_proba(X)
        if getattr(self, "multilabel_", False):
            return (proba > 0.5).astype(np.int64)
        return proba.argmax(axis=1)

    def predict(self, X):
        """Predicted labels, in the original label type.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a torch dataset

        Returns
        -------
        y_pred : ndarray of shape (n_samples,), or (n_samples, n_attributes) in the
            original values for a multi-label target.
        """
        index = self.predict_encoded(X)
        encoding = getattr(self, "label_encoding_", None)
        return index if encoding is None else encoding.decode(index)
