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
from .._core.batch import as_model_output, as_target
from .._core.docstrings import substitute_docstring
from .._core.reduction import per_sample_loss, weighted_mean
from ..callbacks import DeferredReweighting
from ..losses import (
    AttributeBCELoss,
    AttributeClassBalancedLoss,
    AttributeFocalLoss,
    ClassBalancedLoss,
    FocalLoss,
    sigmoid_prior_bias,
)

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
    also be a dict of weights per original label. A multi-label indicator matrix
    ``y`` trains the binary cross-entropy of every attribute weighted by the
    inverse frequency of the attribute's value (weights summing to 2 per
    attribute, :class:`skimbal.losses.AttributeBCELoss`).

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
    >>> Y = np.c_[y, np.r_[np.ones(50), np.zeros(50)]]  # two attributes
    >>> clf.fit(X, Y).class_weight_.round(2)
    array([[0.2, 1.8],
           [1. , 1. ]], dtype=float32)
    """

    def __init__(self, module=None, *, class_weight="balanced", **kwargs):
        super().__init__(module, class_weight=class_weight, **kwargs)


@substitute_docstring(drw_default="False")
class FocalLossClassifier(DeferredReweightingMixin, ImbalancedNetClassifier):
    """Network trained with the softmax focal loss.

    ``FL(z, y) = -alpha_y (1 - p_y)^gamma log p_y`` with ``p = softmax(z)``
    (:class:`skimbal.losses.FocalLoss`); ``gamma = 0`` is cross-entropy. A
    multi-label indicator matrix ``y`` trains the sigmoid focal loss of every
    attribute (:class:`skimbal.losses.AttributeFocalLoss`, Lin et al.'s form),
    weighted by ``alpha`` or ``class_weight`` per attribute and value.

    Parameters
    ----------
    {module}
    gamma : float >= 0, default=1.0
        Focusing parameter. 1.0 is the value used for long-tailed classification by
        Cao et al. (2019) and Cui et al. (2019); Lin et al. (ICCV 2017) use 2 for
        detection.
    alpha : None, float in [0, 1] or array-like, default=None
        Class weights of the loss. A float is Lin et al.'s balance factor and needs
        two classes: weight ``alpha`` for ``classes_[1]`` and ``1 - alpha`` for
        ``classes_[0]`` (for a multi-label ``y``: ``alpha`` for the high and
        ``1 - alpha`` for the low value of every attribute). An array gives one
        weight per class in the order of ``classes_`` (multi-label: shape
        (n_attributes, 2), the weights of the low and high value of every
        attribute). For frequency-based weights use ``class_weight`` instead (the
        two cannot be combined, nor either with ``drw``).
    {drw}
        DRW needs one label per sample: it is refused for a multi-label ``y``.
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
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import FocalLossClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = FocalLossClassifier(gamma=2.0, max_epochs=5, random_state=0).fit(X, y)
    >>> clf.criterion_.gamma
    2.0
    >>> Y = np.c_[y == 0, y == 2]  # two attributes: rare, as the whole data are small
    >>> clf.set_params(alpha=0.75).fit(X, Y).criterion_.weight
    tensor([[0.2500, 0.7500],
            [0.2500, 0.7500]])
    """

    _parameter_constraints = {
        **ImbalancedNetClassifier._parameter_constraints,
        "gamma": [Interval(numbers.Real, 0, None, closed="left")],
        "alpha": [None, Interval(numbers.Real, 0, 1, closed="both"), "array-like"],
        "drw": ["boolean"],
    }
    accepts_multilabel = True
    multilabel_criterion = AttributeFocalLoss

    def __init__(self, module=None, *, criterion=FocalLoss, gamma=1.0, alpha=None, drw=False,
                 **kwargs):
        super().__init__(module, criterion=criterion, **kwargs)
        self.gamma = gamma
        self.alpha = alpha
        self.drw = drw

    def criterion_params(self):
        if self.drw and getattr(self, "multilabel_", False):
            raise ValueError(
                "drw=True needs one label per sample; for a multi-label y use class_weight "
                "or alpha instead."
            )
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
        if getattr(self, "multilabel_", False):
            return self._attribute_alpha_weight(alpha)
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

    def _attribute_alpha_weight(self, alpha):
        n_attributes = len(self.classes_)
        if isinstance(alpha, numbers.Real):
            return torch.tensor([[1.0 - alpha, alpha]] * n_attributes, dtype=torch.float32)
        weight = np.asarray(alpha, dtype=np.float64)
        if weight.shape != (n_attributes, 2) or not np.all(np.isfinite(weight)) or np.any(
            weight < 0
        ):
            raise ValueError(
                f"For a multi-label y alpha must be None, a float in [0, 1] or an array of "
                f"shape ({n_attributes}, 2) of non-negative weights, got {alpha!r}."
            )
        return torch.as_tensor(weight, dtype=torch.float32)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = tags.classifier_tags.multi_label and not self.drw
        return tags


@substitute_docstring
class ClassBalancedClassifier(ImbalancedNetClassifier):
    """Network trained with the class-balanced loss of Cui et al. (2019).

    Every sample's loss is weighted by ``w_y`` proportional to
    ``(1 - beta) / (1 - beta^{n_y})``, the inverse effective number of samples of
    its class on the training split, normalised to sum to the number of classes
    (:class:`skimbal.losses.ClassBalancedLoss`). The base loss is the softmax
    cross-entropy, the one-vs-all sigmoid cross-entropy or the sigmoid focal loss;
    for the last two the head's bias starts at ``-log(C - 1)``
    (:func:`skimbal.losses.sigmoid_prior_bias`), as in the authors' code. The
    loss is the weighted sum divided by the batch size, as in the authors' code
    (``criterion__normalization='weights'`` divides by the sum of the weights,
    see :class:`skimbal.losses.ClassBalancedLoss`).

    A multi-label indicator matrix ``y`` trains every attribute as a binary
    problem with its own effective-number weights of its two values
    (:class:`skimbal.losses.AttributeClassBalancedLoss`): ``'sigmoid'`` is the
    weighted binary cross-entropy, ``'focal'`` the sigmoid focal loss, and
    ``'softmax'`` (the default) is the same as ``'sigmoid'``, since the softmax of
    a binary problem is a sigmoid. The head's bias then starts at 0, the value
    of :func:`~skimbal.losses.sigmoid_prior_bias` for two classes.

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
    >>> Y = np.c_[y, np.r_[np.ones(50), np.zeros(50)]]  # two attributes
    >>> clf.fit(X, Y).criterion_.weight.round(decimals=4)
    tensor([[0.7889, 1.2111],
            [1.0000, 1.0000]])
    """

    _parameter_constraints = {
        **ImbalancedNetClassifier._parameter_constraints,
        "beta": [Interval(numbers.Real, 0, 1, closed="left")],
        "loss_type": [StrOptions({"softmax", "sigmoid", "focal"})],
        "gamma": [Interval(numbers.Real, 0, None, closed="left")],
    }
    accepts_multilabel = True
    multilabel_criterion = AttributeClassBalancedLoss

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
            n_classes = 2 if getattr(self, "multilabel_", False) else self.module_.head.out_features
            with torch.no_grad():
                bias.fill_(sigmoid_prior_bias(n_classes))
        return self

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """With sample weights and the authors' normalisation: ``sum_i s_i w_i l_i / sum_i s_i``.

        The class weights stay in the numerator only, as without sample weights
        (``sum_i w_i l_i / N``); other cases are the base's reduction.
        """
        target = as_target(y_true)
        normalization = getattr(self.criterion_, "normalization", None)
        if target.sample_weight is None or normalization != "batch":
            return super().get_loss(y_pred, y_true, X=X, training=training)
        logits = as_model_output(y_pred).logits
        losses = per_sample_loss(self.criterion_, logits, target.y.to(logits.device))
        weight = target.sample_weight.to(losses.dtype).view((-1,) + (1,) * (losses.ndim - 1))
        return weighted_mean(losses, weight)
