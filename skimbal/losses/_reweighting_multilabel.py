"""Re-weighting losses for multi-label targets: one binary task per attribute.

A multi-label target is a 0/1 matrix of shape (n_samples, n_attributes) and the
network has one logit per attribute. Every loss here is a sum of per-attribute,
per-sample binary terms ``l_ia`` weighted by ``w_{a, y_ia}``, a weight per
attribute and value kept in the buffer ``weight`` of shape (n_attributes, 2):

- :class:`AttributeBCELoss`: the binary cross-entropy (``class_weight`` of the
  estimators gives its weights);
- :class:`AttributeFocalLoss`: the sigmoid focal loss of Lin et al. (2017);
- :class:`AttributeClassBalancedLoss`: the binary or focal loss with the
  effective-number weights of every attribute (Cui et al. 2019).
"""

import numpy as np
import torch
import torch.nn.functional as F

from .._core.reduction import class_weight_of, weighted_mean
from ._base import REDUCTIONS, as_float_logits, check_real
from ._reweighting import check_normalization, effective_number_weights

__all__ = ["AttributeBCELoss", "AttributeClassBalancedLoss", "AttributeFocalLoss"]


def check_attribute_weight(weight):
    """Validate weights of shape (n_attributes, 2); return float32 or None."""
    if weight is None:
        return None
    weight = torch.as_tensor(np.asarray(weight, dtype=np.float32))
    if weight.ndim != 2 or weight.shape[1] != 2:
        raise ValueError(f"weight must have shape (n_attributes, 2), got {tuple(weight.shape)}.")
    if not torch.isfinite(weight).all() or (weight < 0).any():
        raise ValueError("weight must be finite and non-negative.")
    return weight


def signed_logits(input, target):
    """``-z`` where the target is 1 and ``z`` where it is 0: ``BCE = softplus(signed)``
    and ``1 - p_t = sigmoid(signed)``."""
    return torch.where(target.bool(), -input, input)


class AttributeBCELoss(torch.nn.Module):
    r"""Binary cross-entropy of every attribute of a multi-label target.

    .. math::

        \ell_{ia} = w_{a, y_{ia}} \operatorname{BCE}(z_{ia}, y_{ia}),

    one logit per attribute; ``'mean'`` reduces as
    ``sum_ia w_ia l_ia / sum_ia w_ia``
    (:func:`skimbal._core.reduction.weighted_mean`), the plain mean over samples and
    attributes without weights.

    Parameters
    ----------
    weight : array-like or tensor of shape (n_attributes, 2), default=None
        Weight of the low and the high value of every attribute, stored as the
        buffer ``weight`` (``class_weight='balanced'`` gives inverse frequencies that
        sum to 2 per attribute).
    reduction : {'mean', 'sum', 'none'}, default='mean'
        'none' returns the weighted (n_samples, n_attributes) losses.

    Examples
    --------
    >>> import torch
    >>> from skimbal.losses import AttributeBCELoss
    >>> logits, target = torch.zeros(2, 3), torch.tensor([[0, 1, 1], [1, 0, 0]])
    >>> round(AttributeBCELoss()(logits, target).item(), 4)  # log 2
    0.6931
    """

    def __init__(self, weight=None, reduction="mean"):
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}.")
        self.reduction = reduction
        self.register_buffer("weight", check_attribute_weight(weight))

    def per_element(self, input, target):
        """Unweighted loss of every sample and attribute, shape (n_samples, n_attributes)."""
        return F.softplus(signed_logits(input, target))

    def forward(self, input, target):
        """Loss of logits ``input`` (n_samples, n_attributes) for a 0/1 ``target``."""
        losses = self.per_element(as_float_logits(input), target)
        weight = class_weight_of(self.weight, target)
        if self.reduction == "mean":
            return self._mean(losses, weight)
        if weight is not None:
            losses = losses * weight.to(losses.dtype)
        return losses if self.reduction == "none" else losses.sum()

    def _mean(self, losses, weight):
        return weighted_mean(losses, weight)


class AttributeFocalLoss(AttributeBCELoss):
    r"""Sigmoid focal loss of every attribute of a multi-label target.

    .. math::

        \ell_{ia} = -w_{a, y_{ia}} (1 - p_{t})^\gamma \log p_{t}, \qquad
        p_t = \sigma(z_{ia}) \text{ if } y_{ia} = 1 \text{ else } 1 - \sigma(z_{ia}),

    Lin et al.'s (2017) focal loss applied to every attribute, computed as
    ``sigmoid(s)^gamma * softplus(s)`` with ``s = -z`` for a positive and ``z`` for
    a negative target (stable for any logit). ``gamma=0`` is
    :class:`AttributeBCELoss`. Lin et al.'s balance factor ``alpha`` is the weight
    ``[1 - alpha, alpha]`` of every attribute.

    Parameters
    ----------
    gamma : float >= 0, default=1.0
        Focusing parameter.
    weight : array-like or tensor of shape (n_attributes, 2), default=None
        Weight of the low and the high value of every attribute (buffer ``weight``).
    reduction : {'mean', 'sum', 'none'}, default='mean'
        As in :class:`AttributeBCELoss`.

    Examples
    --------
    >>> import torch
    >>> from skimbal.losses import AttributeFocalLoss
    >>> logits, target = torch.tensor([[2.0, 0.0]]), torch.tensor([[1, 0]])
    >>> AttributeFocalLoss(gamma=2.0, reduction="none")(logits, target).round(decimals=4)
    tensor([[0.0018, 0.1733]])
    """

    def __init__(self, gamma=1.0, weight=None, reduction="mean"):
        super().__init__(weight=weight, reduction=reduction)
        self.gamma = check_real(gamma, "gamma", low=0.0)

    def per_element(self, input, target):
        signed = signed_logits(input, target)
        losses = F.softplus(signed)
        if self.gamma == 0.0:
            return losses
        return torch.exp(self.gamma * F.logsigmoid(signed)) * losses

    def extra_repr(self):
        return f"gamma={self.gamma}, reduction={self.reduction!r}"


class AttributeClassBalancedLoss(AttributeFocalLoss):
    r"""Class-balanced binary or focal loss of every attribute of a multi-label target.

    Every attribute ``a`` is a binary problem with its own effective-number weights
    ``w_{a, v}`` proportional to ``(1 - beta) / (1 - beta^{n_{a, v}})``,
    normalised to sum to 2 per attribute (:func:`effective_number_weights` of the
    attribute's two counts), computed at construction and stored in ``weight``.
    ``l_ia = w_{a, y_ia} BCE(z_ia, y_ia)`` (``loss_type='sigmoid'``) or the sigmoid
    focal term (``'focal'``). ``'softmax'`` is accepted and equals ``'sigmoid'``:
    the softmax of a binary problem with logits ``(0, z)`` is ``sigmoid(z)``.

    Parameters
    ----------
    class_counts : array-like of shape (n_attributes, 2)
        Training samples with the low and the high value of every attribute.
    beta : float in [0, 1), default=0.9999
        Effective-number hyper-parameter.
    loss_type : {'sigmoid', 'focal', 'softmax'}, default='sigmoid'
        Base loss of every attribute.
    gamma : float >= 0, default=1.0
        Focusing parameter of ``'focal'`` (ignored otherwise).
    normalization : {'batch', 'weights'}, default='batch'
        Denominator of ``reduction='mean'``: the number of terms ``N x A`` (the
        authors' division by the batch size, per attribute and averaged over the
        attributes) or their summed weights.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        'none' returns the weighted (n_samples, n_attributes) losses.

    Examples
    --------
    >>> import torch
    >>> from skimbal.losses import AttributeClassBalancedLoss
    >>> loss = AttributeClassBalancedLoss([[90, 10], [50, 50]], beta=0.99)
    >>> loss.weight.round(decimals=4)
    tensor([[0.2768, 1.7232],
            [1.0000, 1.0000]])
    >>> round(loss(torch.zeros(2, 2), torch.tensor([[1, 0], [0, 1]])).item(), 4)
    0.6931
    """

    def __init__(self, class_counts, beta=0.9999, loss_type="sigmoid", gamma=1.0,
                 normalization="batch", reduction="mean"):
        if loss_type not in ("softmax", "sigmoid", "focal"):
            raise ValueError(
                f"loss_type must be 'sigmoid', 'focal' or 'softmax', got {loss_type!r}."
            )
        counts = np.asarray(class_counts, dtype=np.float64)
        if counts.ndim != 2 or counts.shape[1] != 2:
            raise ValueError(
                "class_counts of a multi-label target must have shape (n_attributes, 2), got "
                f"{counts.shape}."
            )
        weight = torch.stack([effective_number_weights(row, beta=beta) for row in counts])
        super().__init__(gamma=gamma if loss_type == "focal" else 0.0, weight=weight,
                         reduction=reduction)
        self.beta = float(beta)
        self.loss_type = loss_type
        self.normalization = check_normalization(normalization)

    def _mean(self, losses, weight):
        if self.normalization == "weights":
            return weighted_mean(losses, weight)
        return (losses * weight.to(losses.dtype)).mean()

    def extra_repr(self):
        return (
            f"beta={self.beta}, loss_type={self.loss_type!r}, gamma={self.gamma}, "
            f"normalization={self.normalization!r}, reduction={self.reduction!r}"
        )
