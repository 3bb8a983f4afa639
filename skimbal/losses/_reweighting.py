"""Re-weighting losses: class weights from counts, focal and class-balanced losses.

- :func:`inverse_frequency_weights` and :func:`effective_number_weights` turn the
  training counts into class weights (the latter is also the weight of deferred
  re-weighting);
- :class:`FocalLoss` down-weights easy samples;
- :class:`ClassBalancedLoss` weights a softmax, sigmoid or focal loss by the
  inverse effective number of samples of each class (Cui et al. 2019).

Their multi-label forms (one binary task per attribute) are in
:mod:`skimbal.losses._reweighting_multilabel`.
"""

import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F

from .._core.docstrings import substitute_docstring
from ._base import (
    ClassWeightedLoss,
    as_float_logits,
    check_class_counts,
    check_real,
    weighted_reduce,
)

__all__ = [
    "ClassBalancedLoss",
    "FocalLoss",
    "effective_number_weights",
    "inverse_frequency_weights",
    "sigmoid_prior_bias",
]


def _normalise_to_n_classes(weights):
    """Scale ``weights`` so that they sum to their length."""
    return (weights * (weights.numel() / weights.sum())).to(torch.float32)


def effective_number_weights(class_counts, beta=0.9999):
    r"""Class-balanced weights from the effective number of samples.

    .. math::

        w_j \propto \frac{1 - \beta}{1 - \beta^{n_j}}, \qquad \sum_j w_j = C.

    ``beta=0`` gives all ones; as ``beta`` tends to 1 the weights tend to the
    inverse-frequency ones. Cui et al. (2019) use ``beta=0.9999`` on CIFAR-10-LT
    and 0.9 to 0.999 on 100 classes; deferred re-weighting (Cao et al. 2019)
    switches to ``beta=0.9999`` late in training.

    Parameters
    ----------
    class_counts : array-like or tensor of shape (n_classes,)
        Training samples per class.
    beta : float in [0, 1), default=0.9999
        Hyper-parameter of the effective number ``(1 - beta^n) / (1 - beta)``.

    Returns
    -------
    weights : tensor of float32, shape (n_classes,)
        Classes with ``n_j = 0`` get weight 0 (they never occur as a target);
        the other weights are normalised so that all weights sum to ``C``.

    References
    ----------
    Y. Cui, M. Jia, T.-Y. Lin, Y. Song, S. Belongie. Class-Balanced Loss Based on
    Effective Number of Samples. CVPR 2019, Section 3.

    Examples
    --------
    >>> from skimbal.losses import effective_number_weights
    >>> effective_number_weights([100, 10], beta=0.9).round(decimals=4)
    tensor([0.7889, 1.2111])
    >>> effective_number_weights([100, 10], beta=0.0)
    tensor([1., 1.])
    """
    counts = check_class_counts(class_counts)
    beta = check_real(beta, "beta", low=0.0, high=1.0, high_open=True)
    present = counts > 0
    if beta == 0.0:
        raw = present.to(torch.float64)
    else:
        # 1 - beta**n computed as -expm1(n log beta) to keep precision for beta near 1.
        effective = -torch.expm1(counts * np.log(beta))
        raw = torch.where(present, (1.0 - beta) / effective.clamp_min(1e-300), 0.0)
    return _normalise_to_n_classes(raw)


def inverse_frequency_weights(class_counts):
    r"""Inverse-frequency weights :math:`w_j \propto 1/n_j`, normalised to sum to ``C``.

    Parameters
    ----------
    class_counts : array-like or tensor of shape (n_classes,)
        Training samples per class.

    Returns
    -------
    weights : tensor of float32, shape (n_classes,)
        Classes with ``n_j = 0`` get weight 0.

    Examples
    --------
    >>> from skimbal.losses import inverse_frequency_weights
    >>> inverse_frequency_weights([90, 10])
    tensor([0.2000, 1.8000])
    """
    counts = check_class_counts(class_counts)
    raw = torch.where(counts > 0, 1.0 / counts.clamp_min(1e-300), 0.0)
    return _normalise_to_n_classes(raw)


def focal_modulator(log_prob, gamma):
    r"""The focal factor :math:`(1 - p)^\gamma` from a log-probability.

    ``1 - p`` is computed as ``-expm1(log p)`` (accurate when ``p`` is close to 1)
    and floored at the smallest normal number, so that the gradient of the power
    stays finite for ``0 < gamma < 1`` when ``p`` rounds to exactly 1.
    """
    if gamma == 0.0:
        return torch.ones_like(log_prob)
    complement = (-torch.expm1(log_prob)).clamp_min(torch.finfo(log_prob.dtype).tiny)
    return complement.pow(gamma)


@substitute_docstring
class FocalLoss(ClassWeightedLoss):
    r"""Softmax focal loss.

    .. math::

        \ell(z, y) = -w_y\,(1 - p_y)^\gamma \log p_y, \qquad p = \operatorname{softmax}(z),

    where the focal factor uses the unweighted probability ``p_y``. ``gamma=0``
    is cross-entropy. Lin et al. (2017) introduced the loss with ``gamma=2``
    (sigmoid form, detection); for long-tailed classification Cao et al. (2019)
    and Cui et al. (2019) use the softmax form with ``gamma=1``, the default
    here. Class-balanced focal loss is this loss with effective-number weights
    (:func:`effective_number_weights`), or :class:`ClassBalancedLoss` with
    ``loss_type='focal'`` for the sigmoid form of Cui et al.

    Parameters
    ----------
    gamma : float >= 0, default=1.0
        Focusing parameter.
    {class_weighted_loss}

    References
    ----------
    T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollar. Focal Loss for Dense
    Object Detection. ICCV 2017.

    Examples
    --------
    >>> import torch
    >>> from skimbal.losses import FocalLoss
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    >>> target = torch.tensor([0, 0])
    >>> FocalLoss(gamma=0.0)(logits, target).item() == torch.nn.CrossEntropyLoss()(
    ...     logits, target).item()
    True
    >>> round(FocalLoss(gamma=2.0, reduction="sum")(logits, target).item(), 4)
    1.6519
    """

    def __init__(self, gamma=1.0, weight=None, reduction="mean"):
        super().__init__(weight=weight, reduction=reduction)
        self.gamma = check_real(gamma, "gamma", low=0.0)

    def per_sample(self, input, target):
        """Unweighted focal loss of each sample, shape (n_samples,)."""
        log_prob = F.log_softmax(input, dim=-1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
        return -focal_modulator(log_prob, self.gamma) * log_prob

    def extra_repr(self):
        return f"gamma={self.gamma}, reduction={self.reduction!r}"


_LOSS_TYPES = ("softmax", "sigmoid", "focal")


def sigmoid_prior_bias(n_classes):
    r"""Initial classifier bias for the sigmoid and focal class-balanced losses.

    Cui et al. (2019), following Lin et al. (2017), start every class bias at
    :math:`b = -\log((1 - \pi) / \pi)` with prior :math:`\pi = 1/C`, i.e.
    :math:`b = -\log(C - 1)`, so that the initial per-class sigmoid outputs are
    ``1/C`` and the many negative terms do not swamp the loss at the start.

    Parameters
    ----------
    n_classes : int >= 2
        Number of classes ``C``.

    Returns
    -------
    bias : float

    Examples
    --------
    >>> import torch
    >>> from skimbal.losses import sigmoid_prior_bias
    >>> head = torch.nn.Linear(8, 10)
    >>> _ = torch.nn.init.constant_(head.bias, sigmoid_prior_bias(10))
    >>> round(torch.sigmoid(head.bias[0]).item(), 4)
    0.1
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}.")
    return -math.log(n_classes - 1)


class ClassBalancedLoss(ClassWeightedLoss):
    r"""Class-balanced loss: a base loss weighted by the effective number of samples.

    The class weight :math:`w_j \propto (1 - \beta)/(1 - \beta^{n_j})` (normalised
    to sum to ``C``, see :func:`effective_number_weights`) is computed at
    construction and stored as the buffer ``weight``. Per sample, with
    :math:`s_j = z_j` for :math:`j \ne y` and :math:`s_y = -z_y`:

    - ``'softmax'``: :math:`w_y \cdot \mathrm{CE}(z, y)`;
    - ``'sigmoid'``: :math:`w_y \sum_j \operatorname{softplus}(s_j)`, the binary
      cross-entropy of every logit against the one-hot target;
    - ``'focal'``: :math:`w_y \sum_j \sigma(s_j)^\gamma \operatorname{softplus}(s_j)`,
      the sigmoid focal loss of Lin et al. (2017) against the one-hot target.

    All three are computed with log-sigmoid/softplus or log-softmax, stable for
    any logits. With ``beta=0`` every weight is 1 and ``'softmax'`` is plain
    cross-entropy. For the sigmoid and focal variants start the classifier bias
    at :func:`sigmoid_prior_bias` as the authors do.

    Defaults: ``beta=0.9999`` and ``gamma=1.0`` are the CIFAR-10-LT settings of
    Cui et al. (2019, Section 5.2; the best CIFAR-10 IR100 model is the focal
    variant with these values).

    **Normalisation.** ``reduction='mean'`` divides the weighted sum by the
    batch size by default (``normalization='batch'``):
    ``sum_i w_{y_i} l_i / N``, in all three variants, as the authors' code does
    (softmax: TensorFlow's weighted ``softmax_cross_entropy``, which divides by
    the number of non-zero weights, N; sigmoid and focal: the sum over the
    ``N x C`` terms divided by the number of positive labels of the one-hot
    target, N). ``normalization='weights'`` divides by ``sum_i w_{y_i}`` instead,
    PyTorch's convention for weighted losses (``CrossEntropyLoss(weight=...)``).
    The two differ by the batch's mean weight: with the CIFAR-10 IR100 counts
    and ``beta=0.9999`` the 'weights' loss and its gradients are several times
    larger at the same learning rate, since the frequent classes, whose
    weights are small, fill the batches.

    Parameters
    ----------
    class_counts : array-like or tensor of shape (n_classes,)
        Training samples per class.
    beta : float in [0, 1), default=0.9999
        Effective-number hyper-parameter.
    loss_type : {'softmax', 'sigmoid', 'focal'}, default='softmax'
        Base loss.
    gamma : float >= 0, default=1.0
        Focusing parameter of the ``'focal'`` variant (ignored otherwise).
    normalization : {'batch', 'weights'}, default='batch'
        Denominator of ``reduction='mean'``: the number of samples (the authors'
        code) or the sum of their class weights.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        'none' returns ``w_{y_i} l_i``; 'sum' their sum; 'mean' see ``normalization``.

    Attributes
    ----------
    weight : tensor of float32, shape (n_classes,)
        The effective-number class weights (a buffer).

    References
    ----------
    Y. Cui, M. Jia, T.-Y. Lin, Y. Song, S. Belongie. Class-Balanced Loss Based on
    Effective Number of Samples. CVPR 2019.

    Examples
    --------
    >>> import torch
    >>> from skimbal.losses import ClassBalancedLoss
    >>> loss = ClassBalancedLoss([90, 10], beta=0.99, loss_type="focal", gamma=1.0)
    >>> loss.weight.round(decimals=4)
    tensor([0.2768, 1.7232])
    >>> logits, target = torch.tensor([[1.0, -1.0], [0.5, 0.5]]), torch.tensor([0, 0])
    >>> round(loss(logits, target).item(), 4)  # the weighted sum / 2 (the batch size)
    0.132
    >>> loss.normalization = "weights"
    >>> round(loss(logits, target).item(), 4)  # the weighted sum / (2 * 0.2768)
    0.4769
    """

    def __init__(
        self, class_counts, beta=0.9999, loss_type="softmax", gamma=1.0, normalization="batch",
        reduction="mean",
    ):
        super().__init__(
            weight=effective_number_weights(class_counts, beta=beta), reduction=reduction
        )
        if loss_type not in _LOSS_TYPES:
            raise ValueError(f"loss_type must be one of {_LOSS_TYPES}, got {loss_type!r}.")
        self.beta = float(beta)
        self.loss_type = loss_type
        self.gamma = check_real(gamma, "gamma", low=0.0)
        self.normalization = check_normalization(normalization)

    def forward(self, input, target):
        """Loss of logits ``input`` (n_samples, n_classes) for int64 ``target``."""
        if self.reduction != "mean" or self.normalization == "weights":
            return super().forward(input, target)
        losses = self.per_sample(as_float_logits(input), target)
        return weighted_reduce(losses, target, self.weight, "none").mean()

    def per_sample(self, input, target):
        """Unweighted loss of each sample, shape (n_samples,)."""
        if self.loss_type == "softmax":
            return F.cross_entropy(input, target, reduction="none")
        # Signed logits: -z_y for the target, z_j for the others, so that the binary
        # cross-entropy of every column is softplus(signed) and 1 - p_t = sigmoid(signed).
        signed = input.scatter(-1, target.unsqueeze(-1), -input.gather(-1, target.unsqueeze(-1)))
        terms = F.softplus(signed)
        if self.loss_type == "focal" and self.gamma != 0.0:
            terms = torch.exp(self.gamma * F.logsigmoid(signed)) * terms
        return terms.sum(dim=-1)

    def extra_repr(self):
        return (
            f"beta={self.beta}, loss_type={self.loss_type!r}, gamma={self.gamma}, "
            f"normalization={self.normalization!r}, reduction={self.reduction!r}"
        )


NORMALIZATIONS = ("batch", "weights")


def check_normalization(normalization):
    """Check the ``normalization`` of a class-balanced loss ('batch' or 'weights')."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}."
        )
    return normalization
