"""Plain and class-weighted cross-entropy estimators."""

import torch

from ._base import ImbalancedNetClassifier

__all__ = ["CrossEntropyClassifier", "WeightedCrossEntropyClassifier"]


class CrossEntropyClassifier(ImbalancedNetClassifier):
    """Network trained with plain (optionally class-weighted) cross-entropy.

    The baseline of every comparison: ``CE(z, y) = -log softmax(z)_y``.
    Takes every parameter of :class:`ImbalancedNetClassifier`; the criterion is
    fixed to :class:`torch.nn.CrossEntropyLoss`.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import CrossEntropyClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = CrossEntropyClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).sum(axis=1).round(3)
    array([1., 1.], dtype=float32)
    """

    def __init__(self, module=None, **kwargs):
        kwargs.setdefault("criterion", torch.nn.CrossEntropyLoss)
        super().__init__(module, **kwargs)


class WeightedCrossEntropyClassifier(CrossEntropyClassifier):
    """Cross-entropy with inverse-frequency class weights (``class_weight='balanced'``).

    ``L = sum_i w_{y_i} CE(z_i, y_i) / sum_i w_{y_i}`` with ``w_j`` proportional to
    ``1 / n_j``, counted on the training split at fit time. ``class_weight`` may
    also be a dict of weights per original label.

    Examples
    --------
    >>> import numpy as np
    >>> from skimbal import WeightedCrossEntropyClassifier
    >>> X = np.r_[np.zeros((90, 2)), np.ones((10, 2))]
    >>> y = np.r_[np.zeros(90), np.ones(10)]
    >>> clf = WeightedCrossEntropyClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> clf.class_weight_.round(2)
    array([0.2, 1.8], dtype=float32)
    """

    def __init__(self, module=None, **kwargs):
        kwargs.setdefault("class_weight", "balanced")
        super().__init__(module, **kwargs)
