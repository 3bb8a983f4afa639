"""Re-weighting: cross-entropy, class-weighted cross-entropy, focal and class-balanced losses.

Each estimator is a short :class:`~skimbal.ImbalancedNetClassifier` that fixes
the criterion (:mod:`skimbal.losses._reweighting`) and routes its hyper-parameters
to it through :meth:`criterion_params`; the class statistics come from the
training split at fit time. Deferred re-weighting is the schedule
:class:`skimbal.callbacks.DeferredReweighting`, switched on by ``drw`` where the
method has it.
"""

import numbers

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from .._core.base import ImbalancedNetClassifier
from .._core.docstrings import substitute_docstring
from ..callbacks import DeferredReweighting
from ..losses import AttributeBCELoss, ClassBalancedLoss, FocalLoss, sigmoid_prior_bias

__all__ = [
    "ClassBalancedClassifier",
    "CrossEntropyClassifier",
    "DeferredReweightingMixin",
    "FocalLossClassifier",
    "WeightedCrossEntropyClassifier",
]


class DeferredReweightingMixin:
    """Add :class:`DeferredReweighting` (named 'deferred_reweighting') when ``drw`` is True.

    The one switch of DRW on the estimators that pair it with their loss; the
    schedule itself is configured on the callback
    (``callbacks__deferred_reweighting__start``, ``__beta``).
    """

    @property
    def _default_callbacks(self):
        callbacks = list(super()._default_callbacks)
        # get_params reads this property: an invalid drw must not raise here.
        if getattr(self, "drw", False) is True:
            callbacks.insert(len(callbacks) - 1, ("deferred_reweighting", DeferredReweighting()))
        return callbacks


@substitute_docstring
class CrossEntropyClassifier(ImbalancedNetClassifier):
    """Network trained with plain (optionally class-weighted) cross-entropy.

    The baseline of every comparison: ``CE(z, y) = -log softmax(z)_y``, with
    ``class_weight`` the class-weighted mean ``sum_i w_{y_i} CE_i / sum_i w_{y_i}``.
    A multi-label indicator matrix ``y`` trains one logit per attribute with the
    binary cross-entropy (:class:`skimbal.losses.AttributeBCELoss`; with
    ``class_weight='balanced'``, weighted per attribute and value).

    Parameters
    ----------
    {module}
    {net_params}

    See Also
    --------
    WeightedCrossEntropyClassifier : ``class_weight='balanced'`` by default.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import CrossEntropyClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = CrossEntropyClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).sum(axis=1).round(3)
    array([1., 1.], dtype=float32)
    """

    accepts_multilabel = True
    multilabel_criterion = AttributeBCELoss

    def __init__(self, module=None, *, criterion=torch.nn.CrossEntropyLoss, **kwargs):
        super().__init__(module, criterion=criterion, **kwargs)


@substitute_docstring
class WeightedCrossEntropyClassifier(CrossEntropyClassifier):
    """Cross-entropy with inverse-frequency class weights (``class_weight='balanced'``).

    ``L = sum_i w_{y_i} CE(z_i, y_i) / sum_i w_{y_i}`` with ``w_j`` proportional to
    ``1 / n_j``, counted on the training split at fit time. ``class_weight`` may
    also be a dict of weights per original label.

    Parameters
    ----------
    {module}
    class_weight : 'balanced', dict or None, default='balanced'
        The class weights.
    {net_params}

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

    def __init__(self, module=None, *, class_weight="balanced", **kwargs):
        super().__init__(module, class_weight=class_weight, **kwargs)


@substitute_docstring(drw_default="False")
class FocalLossClassifier(DeferredReweightingMixin, ImbalancedNetClassifier):
    """Network trained with the softmax focal loss.

    ``FL(z, y) = -alpha_y (1 - p_y)^gamma log p_y`` with ``p = softmax(z)``
    (:class:`skimbal.losses.FocalLoss`); ``gamma = 0`` is cross-entropy.

    Parameters
    ----------
    {module}
    gamma : float >= 0, default=1.0
        Focusing parameter. 1.0 is the value used for long-tailed classification by
        Cao et al. (2019) and Cui et al. (2019); Lin et al. (ICCV 2017) use 2 for
        detection.
    alpha : None, float in [0, 1] or array-like of shape (n_classes,), default=None
        Class weights of the loss. A float is Lin et al.'s balance factor and needs
        two classes: weight ``alpha`` for ``classes_[1]`` and ``1 - alpha`` for
        ``classes_[0]``. An array gives one weight per class in the order of
        ``classes_``. For frequency-based weights use ``class_weight`` instead (the
        two cannot be combined, nor either with ``drw``).
    {drw}
    {net_params}

    See Also
    --------
    ClassBalancedClassifier : focal loss with effective-number weights.

    References
    ----------
    .. [1] T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollar, "Focal Loss for
       Dense Object Detection", ICCV 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import FocalLossClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = FocalLossClassifier(gamma=2.0, max_epochs=5, random_state=0).fit(X, y)
    >>> clf.criterion_.gamma
    2.0
    """

    _parameter_constraints = {
        **ImbalancedNetClassifier._parameter_constraints,
        "gamma": [Interval(numbers.Real, 0, None, closed="left")],
        "alpha": [None, Interval(numbers.Real, 0, 1, closed="both"), "array-like"],
        "drw": ["boolean"],
    }

    def __init__(self, module=None, *, criterion=FocalLoss, gamma=1.0, alpha=None, drw=False,
                 **kwargs):
        super().__init__(module, criterion=criterion, **kwargs)
        self.gamma = gamma
        self.alpha = alpha
        self.drw = drw

    def criterion_params(self):
        params = {**super().criterion_params(), "gamma": self.gamma}
        weight = self._alpha_weight()
        if weight is not None:
            params["weight"] = weight
        return params

    def _alpha_weight(self):
        alpha = self.alpha
        if alpha is None:
            return None
        if self.class_weight is not None:
            raise ValueError("alpha and class_weight cannot both be set; use one of them.")
        n_classes = len(self.classes_)
        if isinstance(alpha, numbers.Real):
            if n_classes != 2:
                raise ValueError(
                    f"A float alpha is a binary balance factor, but y has {n_classes} "
                    "classes; pass one weight per class instead."
                )
            return torch.tensor([1.0 - alpha, alpha], dtype=torch.float32)
        weight = np.asarray(alpha, dtype=np.float64)
        if weight.shape != (n_classes,) or not np.all(np.isfinite(weight)) or np.any(weight < 0):
            raise ValueError(
                f"alpha must be None, a float in [0, 1] or {n_classes} non-negative class "
                f"weights, got {alpha!r}."
            )
        return torch.as_tensor(weight, dtype=torch.float32)


@substitute_docstring
class ClassBalancedClassifier(ImbalancedNetClassifier):
    """Network trained with the class-balanced loss of Cui et al. (2019).

    Every sample's loss is weighted by ``w_y`` proportional to
    ``(1 - beta) / (1 - beta^{n_y})``, the inverse effective number of samples of
    its class on the training split, normalised to sum to the number of classes
    (:class:`skimbal.losses.ClassBalancedLoss`). The base loss is the softmax
    cross-entropy, the one-vs-all sigmoid cross-entropy or the sigmoid focal loss;
    for the last two the head's bias starts at ``-log(C - 1)``
    (:func:`skimbal.losses.sigmoid_prior_bias`), as in the authors' code.

    Parameters
    ----------
    {module}
    beta : float in [0, 1), default=0.9999
        Effective-number hyper-parameter (Cui et al., Sec. 5: 0.9999 on CIFAR-10-LT,
        0.9 to 0.999 on CIFAR-100-LT). 0 gives plain weights.
    loss_type : {'softmax', 'sigmoid', 'focal'}, default='softmax'
        Base loss.
    gamma : float >= 0, default=1.0
        Focusing parameter of ``loss_type='focal'`` (the paper's best CIFAR-10
        IR100 model: focal with ``gamma=1``, ``beta=0.9999``).
    {net_params}
        ``class_weight`` must stay None: the class weights are the effective-number
        ones.

    References
    ----------
    .. [1] Y. Cui, M. Jia, T.-Y. Lin, Y. Song, S. Belongie, "Class-Balanced Loss
       Based on Effective Number of Samples", CVPR 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from skimbal import ClassBalancedClassifier
    >>> X = np.r_[np.zeros((90, 2)), np.ones((10, 2))]
    >>> y = np.r_[np.zeros(90), np.ones(10)]
    >>> clf = ClassBalancedClassifier(beta=0.9, max_epochs=2, random_state=0).fit(X, y)
    >>> clf.criterion_.weight.round(decimals=4)
    tensor([0.7889, 1.2111])
    """

    _parameter_constraints = {
        **ImbalancedNetClassifier._parameter_constraints,
        "beta": [Interval(numbers.Real, 0, 1, closed="left")],
        "loss_type": [StrOptions({"softmax", "sigmoid", "focal"})],
        "gamma": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(self, module=None, *, criterion=ClassBalancedLoss, beta=0.9999,
                 loss_type="softmax", gamma=1.0, **kwargs):
        super().__init__(module, criterion=criterion, **kwargs)
        self.beta = beta
        self.loss_type = loss_type
        self.gamma = gamma

    def criterion_params(self):
        if self.class_weight is not None:
            raise ValueError(
                "ClassBalancedClassifier sets its own (effective-number) class weights; "
                "class_weight must be None."
            )
        params = super().criterion_params()
        params.pop("weight", None)
        return {**params, "beta": self.beta, "loss_type": self.loss_type, "gamma": self.gamma}

    def initialize_module(self):
        super().initialize_module()
        bias = getattr(getattr(self.module_, "head", None), "bias", None)
        if self.loss_type in ("sigmoid", "focal") and isinstance(bias, torch.Tensor):
            with torch.no_grad():
                bias.fill_(sigmoid_prior_bias(self.module_.head.out_features))
        return self
