"""Estimators that re-balance through the loss: re-weighting, margins, logit adjustment.

Each estimator is a short :class:`ImbalancedNetClassifier` subclass that fixes the
criterion (:mod:`skimbal.losses`) and routes its hyper-parameters to it through
``_criterion_params``; the class statistics come from the training split at fit
time. Margin losses on cosine logits (LDAM, maximum margin) replace the module's
head by :class:`skimbal.nn.NormedLinear`; deferred re-weighting (DRW) is the
callback :class:`skimbal.callbacks.DeferredReweighting`, switched on by ``drw``.
"""

import numbers

import numpy as np
import torch
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from ._base import ImbalancedNetClassifier
from ._validation import check_bool
from .callbacks import DeferredReweighting, LargeMarginAnnealing
from .losses import (
    BalancedSoftmaxLoss,
    ClassBalancedLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    MaxMarginLoss,
    MultiClassHingeLoss,
    sigmoid_prior_bias,
)
from .nn import LargeMarginLinear, NormedLinear, replace_head

__all__ = [
    "BalancedSoftmaxClassifier",
    "ClassBalancedClassifier",
    "FocalLossClassifier",
    "HingeLossClassifier",
    "LDAMClassifier",
    "LargeMarginSoftmaxClassifier",
    "LogitAdjustedClassifier",
    "MaxMarginClassifier",
]

_DRW_PARAMETERS = """drw : bool, default={drw_default}
        Deferred re-weighting (Cao et al., NeurIPS 2019, Sec. 3.3): train with
        the loss as configured until epoch ``drw_start``, then with
        effective-number class weights (:class:`skimbal.callbacks.DeferredReweighting`,
        added as the callback ``'deferred_reweighting'``).
    drw_start : int >= 0 or float in (0, 1), default=0.8
        First re-weighted epoch, or its fraction of ``max_epochs`` (160 of 200 in
        the paper).
    drw_beta : float in [0, 1), default=0.9999
        Effective-number ``beta`` of the deferred weights (the paper's CIFAR value)."""


def _fill_drw_doc(drw_default):
    def decorate(cls):
        cls.__doc__ = cls.__doc__.replace(
            "{drw_parameters}", _DRW_PARAMETERS.format(drw_default=drw_default)
        )
        return cls

    return decorate


class _DeferredReweightingMixin:
    """Add :class:`DeferredReweighting` to the callbacks when ``drw`` is True."""

    @property
    def _default_callbacks(self):
        callbacks = list(super()._default_callbacks)
        # get_params reads this property, so an invalid ``drw`` must not raise here
        # (``_check_params`` rejects it at fit).
        drw = getattr(self, "drw", False)
        if isinstance(drw, (bool, np.bool_)) and drw:
            drw = DeferredReweighting(start=self.drw_start, beta=self.drw_beta)
            callbacks.insert(len(callbacks) - 1, ("deferred_reweighting", drw))
        return callbacks

    def _check_params(self):
        super()._check_params()
        check_bool(self.drw, "drw")


class _CosineHeadMixin:
    """Replace the module's head by :class:`NormedLinear`; report scaled cosines.

    The loss multiplies the cosines by its ``scale`` ``s`` during training, so the
    logits of ``decision_function`` and ``predict_proba`` are ``s * cos(theta)``
    (the argmax, hence ``predict``, is the same as that of the cosines).
    """

    def initialize_module(self):
        super().initialize_module()
        replace_head(self.module_, NormedLinear)
        return self

    def _logits(self, X):
        cosines = super()._logits(X)
        return getattr(self.criterion_, "scale", self.scale) * cosines


@_fill_drw_doc(drw_default="False")
class FocalLossClassifier(_DeferredReweightingMixin, ImbalancedNetClassifier):
    """Network trained with the softmax focal loss.

    ``FL(z, y) = -alpha_y (1 - p_y)^gamma log p_y`` with ``p = softmax(z)``
    (:class:`skimbal.losses.FocalLoss`); ``gamma = 0`` is cross-entropy.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The network (default :class:`skimbal.nn.MLP`).
    gamma : float >= 0, default=1.0
        Focusing parameter. 1.0 is the value used for long-tailed classification
        by Cao et al. (2019) and Cui et al. (2019); Lin et al. (ICCV 2017) use 2
        for detection.
    alpha : None, float in [0, 1] or array-like of shape (n_classes,), default=None
        Class weights of the loss. A float is Lin et al.'s balance factor and
        needs two classes: weight ``alpha`` for ``classes_[1]`` and ``1 - alpha``
        for ``classes_[0]``. An array gives one weight per class in the order of
        ``classes_``. For frequency-based weights use ``class_weight`` instead
        (the two cannot be combined).
    {drw_parameters}
    **kwargs
        Every parameter of :class:`skimbal.ImbalancedNetClassifier`.

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

    def __init__(
        self, module=None, *, gamma=1.0, alpha=None, drw=False, drw_start=0.8, drw_beta=0.9999,
        **kwargs,
    ):
        kwargs.setdefault("criterion", FocalLoss)
        super().__init__(module, **kwargs)
        self.gamma = gamma
        self.alpha = alpha
        self.drw = drw
        self.drw_start = drw_start
        self.drw_beta = drw_beta

    def _criterion_params(self):
        params = {"gamma": self.gamma}
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
        if isinstance(alpha, numbers.Real) and not isinstance(alpha, bool):
            if not 0 <= alpha <= 1:
                raise ValueError(f"A float alpha must be in [0, 1], got {alpha!r}.")
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


class ClassBalancedClassifier(ImbalancedNetClassifier):
    """Network trained with the class-balanced loss of Cui et al. (2019).

    Every sample's loss is weighted by ``w_y`` proportional to
    ``(1 - beta) / (1 - beta^{n_y})``, the inverse effective number of samples
    of its class on the training split, normalised to sum to the number of
    classes (:class:`skimbal.losses.ClassBalancedLoss`). The base loss is the
    softmax cross-entropy, the one-vs-all sigmoid cross-entropy or the sigmoid
    focal loss; for the last two the head's bias starts at ``-log(C - 1)``
    (:func:`skimbal.losses.sigmoid_prior_bias`), as in the authors' code.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The network (default :class:`skimbal.nn.MLP`).
    beta : float in [0, 1), default=0.9999
        Effective-number hyper-parameter (Cui et al., Sec. 5: 0.9999 on
        CIFAR-10-LT, 0.9 to 0.999 on CIFAR-100-LT). 0 gives plain weights.
    loss_type : {'softmax', 'sigmoid', 'focal'}, default='softmax'
        Base loss.
    gamma : float >= 0, default=1.0
        Focusing parameter of ``loss_type='focal'`` (the paper's best CIFAR-10
        IR100 model: focal with ``gamma=1``, ``beta=0.9999``).
    **kwargs
        Every parameter of :class:`skimbal.ImbalancedNetClassifier` except
        ``class_weight`` (the class weights are the effective-number ones).

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

    def __init__(self, module=None, *, beta=0.9999, loss_type="softmax", gamma=1.0, **kwargs):
        kwargs.setdefault("criterion", ClassBalancedLoss)
        super().__init__(module, **kwargs)
        self.beta = beta
        self.loss_type = loss_type
        self.gamma = gamma

    def _check_params(self):
        super()._check_params()
        if self.class_weight is not None:
            raise ValueError(
                "ClassBalancedClassifier sets its own (effective-number) class weights; "
                "class_weight must be None."
            )

    def _criterion_params(self):
        return {"beta": self.beta, "loss_type": self.loss_type, "gamma": self.gamma}

    def initialize_module(self):
        super().initialize_module()
        bias = getattr(getattr(self.module_, "head", None), "bias", None)
        if self.loss_type in ("sigmoid", "focal") and isinstance(bias, torch.Tensor):
            with torch.no_grad():
                bias.fill_(sigmoid_prior_bias(self._n_outputs()))
        return self


@_fill_drw_doc(drw_default="True")
class LDAMClassifier(_CosineHeadMixin, _DeferredReweightingMixin, ImbalancedNetClassifier):
    """Network with a cosine head trained with the LDAM loss, by default with DRW.

    ``L = CE(s * (cos(theta) - m_y * onehot(y)), y)`` with per-class margins
    ``m_j = K / n_j^{1/4}`` (the rarest class gets ``max_margin``) on the
    cosine logits of a :class:`skimbal.nn.NormedLinear` head, which replaces the
    module's ``head`` (:class:`skimbal.losses.LDAMLoss`). LDAM-DRW, the default,
    adds deferred re-weighting.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The network (default :class:`skimbal.nn.MLP`); it must follow the
        embedding protocol (a ``head`` attribute with ``in_features`` and
        ``out_features``).
    max_margin : float > 0, default=0.5
        Margin of the rarest class (Cao et al., Sec. 3.2 and their code).
    scale : float > 0, default=30.0
        Scale ``s`` of the cosine logits (the authors' code).
    {drw_parameters}
    **kwargs
        Every parameter of :class:`skimbal.ImbalancedNetClassifier`.

    Notes
    -----
    ``decision_function`` returns the scaled cosines ``s * cos(theta_j)`` (the
    logits the loss sees, without margin) and ``predict_proba`` their softmax.

    References
    ----------
    .. [1] K. Cao, C. Wei, A. Gaidon, N. Arechiga, T. Ma, "Learning Imbalanced
       Datasets with Label-Distribution-Aware Margin Loss", NeurIPS 2019.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import LDAMClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LDAMClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> bool(abs(clf.decision_function(X)).max() <= 30.0)
    True
    """

    def __init__(
        self, module=None, *, max_margin=0.5, scale=30.0, drw=True, drw_start=0.8,
        drw_beta=0.9999, **kwargs,
    ):
        kwargs.setdefault("criterion", LDAMLoss)
        super().__init__(module, **kwargs)
        self.max_margin = max_margin
        self.scale = scale
        self.drw = drw
        self.drw_start = drw_start
        self.drw_beta = drw_beta

    def _criterion_params(self):
        return {"max_margin": self.max_margin, "scale": self.scale}


@_fill_drw_doc(drw_default="True")
class MaxMarginClassifier(_CosineHeadMixin, _DeferredReweightingMixin, ImbalancedNetClassifier):
    """Network with a cosine head trained with the maximum-margin (MM) loss.

    With ``p = z_y`` and ``q = max_{j != y} z_j`` on the cosine logits, the
    target logit is lowered by ``exp(-(p - q) - gamma M)`` when ``p > q`` and by
    ``exp(-(q - p) - M)`` otherwise (no gradient through the shift), then
    ``L = CE(s * z_shifted, y)`` (:class:`skimbal.losses.MaxMarginLoss`, which
    documents the fixes of the authors' code). Trained with DRW by default, as in
    the paper.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The network (default :class:`skimbal.nn.MLP`), with the embedding protocol.
    scale : float > 0, default=30.0
        Scale ``s`` (authors' default; their CIFAR-100 IR100 run uses 19).
    max_margin : float >= 0, default=0.5
        The margin ``M`` (authors' default; 1.29 in their CIFAR-100 IR100 run).
    gamma : float >= 0, default=1.528
        Multiplier of ``M`` for correctly ranked samples (their CIFAR-100 IR100 run).
    ldam_offset : bool or float, default=False
        Use ``M - m_y`` with the LDAM margins ``m_y`` (the paper's variant).
    {drw_parameters}
    **kwargs
        Every parameter of :class:`skimbal.ImbalancedNetClassifier`.

    Notes
    -----
    ``decision_function`` returns the scaled cosines ``s * cos(theta_j)``.

    References
    ----------
    .. [1] H. Kang, T. Vu, C. D. Yoo, "Learning Imbalanced Datasets with Maximum
       Margin Loss", ICIP 2021.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import MaxMarginClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MaxMarginClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> type(clf.module_.head).__name__
    'NormedLinear'
    """

    def __init__(
        self, module=None, *, scale=30.0, max_margin=0.5, gamma=1.528, ldam_offset=False,
        drw=True, drw_start=0.8, drw_beta=0.9999, **kwargs,
    ):
        kwargs.setdefault("criterion", MaxMarginLoss)
        super().__init__(module, **kwargs)
        self.scale = scale
        self.max_margin = max_margin
        self.gamma = gamma
        self.ldam_offset = ldam_offset
        self.drw = drw
        self.drw_start = drw_start
        self.drw_beta = drw_beta

    def _criterion_params(self):
        return {
            "scale": self.scale,
            "max_margin": self.max_margin,
            "gamma": self.gamma,
            "ldam_offset": self.ldam_offset,
        }


class LogitAdjustedClassifier(ImbalancedNetClassifier):
    """Network trained with the logit-adjusted loss; plain logits at prediction.

    ``L = CE(z + tau * log(pi), y)`` with ``pi`` the class prior of the training
    split (:class:`skimbal.losses.LogitAdjustedLoss`); ``predict`` is the argmax
    of the raw logits ``z``, which then estimate balanced-error-optimal scores.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The network (default :class:`skimbal.nn.MLP`).
    tau : float >= 0, default=1.0
        Temperature of the adjustment (Menon et al., ICLR 2021: 1 is the
        balanced-error choice). ``tau=0`` is cross-entropy, ``tau=1`` balanced
        softmax.
    **kwargs
        Every parameter of :class:`skimbal.ImbalancedNetClassifier`.

    See Also
    --------
    PostHocLogitAdjustedClassifier : the adjustment applied after CE training.

    References
    ----------
    .. [1] A. K. Menon, S. Jayasumana, A. S. Rawat, H. Jain, A. Veit, S. Kumar,
       "Long-tail learning via logit adjustment", ICLR 2021.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import LogitAdjustedClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LogitAdjustedClassifier(tau=1.5, max_epochs=5, random_state=0).fit(X, y)
    >>> clf.criterion_.tau
    1.5
    """

    def __init__(self, module=None, *, tau=1.0, **kwargs):
        kwargs.setdefault("criterion", LogitAdjustedLoss)
        super().__init__(module, **kwargs)
        self.tau = tau

    def _criterion_params(self):
        return {"tau": self.tau}


class BalancedSoftmaxClassifier(ImbalancedNetClassifier):
    """Network trained with balanced softmax; plain logits at prediction.

    ``L = CE(z + log(n), y)``, the softmax of the training prior times the
    balanced class probabilities (Ren et al., NeurIPS 2020), identical to the
    logit-adjusted loss with ``tau=1`` (:class:`skimbal.losses.BalancedSoftmaxLoss`).

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The network (default :class:`skimbal.nn.MLP`).
    **kwargs
        Every parameter of :class:`skimbal.ImbalancedNetClassifier`.

    References
    ----------
    .. [1] J. Ren, C. Yu, S. Sheng, X. Ma, H. Zhao, S. Yi, H. Li, "Balanced
       Meta-Softmax for Long-Tailed Visual Recognition", NeurIPS 2020.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import BalancedSoftmaxClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = BalancedSoftmaxClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    def __init__(self, module=None, **kwargs):
        kwargs.setdefault("criterion", BalancedSoftmaxLoss)
        super().__init__(module, **kwargs)


@_fill_drw_doc(drw_default="False")
class HingeLossClassifier(_DeferredReweightingMixin, ImbalancedNetClassifier):
    """Network trained with the multi-class hinge loss (max form).

    ``L = max(0, Delta_y + max_{j != y} z_j - z_y)`` (Crammer and Singer 2001),
    with ``Delta_y = margin`` or the LDAM margins ``m_y = K / n_y^{1/4}``
    (:class:`skimbal.losses.MultiClassHingeLoss`). ``predict_proba`` is the
    softmax of the logits, which the hinge loss does not calibrate.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The network (default :class:`skimbal.nn.MLP`).
    margin : float >= 0, default=1.0
        Margin of every class (ignored with ``ldam_margins=True``).
    ldam_margins : bool, default=False
        Use the per-class LDAM margins of the training split instead.
    max_margin : float > 0, default=0.5
        Margin of the rarest class with ``ldam_margins=True`` (Cao et al. 2019
        compare the hinge loss with LDAM margins as an ablation).
    {drw_parameters}
    **kwargs
        Every parameter of :class:`skimbal.ImbalancedNetClassifier`.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import HingeLossClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = HingeLossClassifier(ldam_margins=True, max_epochs=5, random_state=0).fit(X, y)
    >>> clf.criterion_.margins.shape
    torch.Size([3])
    """

    def __init__(
        self, module=None, *, margin=1.0, ldam_margins=False, max_margin=0.5, drw=False,
        drw_start=0.8, drw_beta=0.9999, **kwargs,
    ):
        kwargs.setdefault("criterion", MultiClassHingeLoss)
        super().__init__(module, **kwargs)
        self.margin = margin
        self.ldam_margins = ldam_margins
        self.max_margin = max_margin
        self.drw = drw
        self.drw_start = drw_start
        self.drw_beta = drw_beta

    def _check_params(self):
        super()._check_params()
        check_bool(self.ldam_margins, "ldam_margins")

    def _criterion_params(self):
        return {
            "margin": self.margin,
            "ldam_margins": self.ldam_margins,
            "max_margin": self.max_margin,
        }


class LargeMarginSoftmaxClassifier(ImbalancedNetClassifier):
    """Network trained with the large-margin softmax (L-Softmax) loss.

    The module's head is replaced by :class:`skimbal.nn.LargeMarginLinear` (no
    bias). During training the target logit ``||w_y|| ||x|| cos(theta_y)`` becomes
    ``(lambda ||w_y|| ||x|| cos(theta_y) + ||w_y|| ||x|| psi(theta_y)) / (1 + lambda)``
    with ``psi(theta) = (-1)^k cos(m theta) - 2k`` on ``[k pi/m, (k+1) pi/m]``
    (:func:`skimbal.losses.large_margin_psi`), and the criterion (default
    cross-entropy) is applied to these logits. ``lambda`` is annealed from
    ``mix_base`` down to ``mix_min`` by :class:`skimbal.callbacks.LargeMarginAnnealing`
    (the callback ``'large_margin_annealing'``). Prediction uses the plain logits
    ``W x``.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The network (default :class:`skimbal.nn.MLP`), with the embedding protocol.
    margin : int >= 1, default=2
        Angular margin ``m`` (Liu et al. use 2 to 4; ``m = 1`` is softmax).
    mix_base, mix_gamma, mix_power, mix_min : float, default=1000.0, 0.12, 1.0, 0.0
        ``lambda_t = max(mix_min, mix_base * (1 + mix_gamma * t)^(-mix_power))`` at
        training iteration ``t`` (the schedule of the authors' Caffe layer;
        [unsure] constants, see :class:`skimbal.callbacks.LargeMarginAnnealing`).
    **kwargs
        Every parameter of :class:`skimbal.ImbalancedNetClassifier`.

    References
    ----------
    .. [1] W. Liu, Y. Wen, Z. Yu, M. Yang, "Large-Margin Softmax Loss for
       Convolutional Neural Networks", ICML 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import LargeMarginSoftmaxClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LargeMarginSoftmaxClassifier(margin=3, max_epochs=5, random_state=0).fit(X, y)
    >>> clf.module_.head.margin
    3
    """

    def __init__(
        self, module=None, *, margin=2, mix_base=1000.0, mix_gamma=0.12, mix_power=1.0,
        mix_min=0.0, **kwargs,
    ):
        kwargs.setdefault("criterion", torch.nn.CrossEntropyLoss)
        super().__init__(module, **kwargs)
        self.margin = margin
        self.mix_base = mix_base
        self.mix_gamma = mix_gamma
        self.mix_power = mix_power
        self.mix_min = mix_min

    @property
    def _default_callbacks(self):
        callbacks = list(super()._default_callbacks)
        annealing = LargeMarginAnnealing(
            base=self.mix_base, gamma=self.mix_gamma, power=self.mix_power, minimum=self.mix_min
        )
        callbacks.insert(len(callbacks) - 1, ("large_margin_annealing", annealing))
        return callbacks

    def initialize_module(self):
        super().initialize_module()
        replace_head(self.module_, LargeMarginLinear, margin=self.margin, mix=self.mix_base)
        return self

    def train_step_single(self, batch, **fit_params):
        """Forward with the targets (margin logits), loss and backward pass."""
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        device = self._compute_device()
        Xi = to_tensor(Xi, device=device)
        target = to_tensor(yi["y"] if isinstance(yi, dict) else yi, device=device)
        augmentation = getattr(self, "augmentation_", None)
        if augmentation is not None:
            Xi = augmentation(Xi, target)
        features = self.module_.forward_features(Xi, **fit_params)
        y_pred = self.module_.head(features, target=target)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}
