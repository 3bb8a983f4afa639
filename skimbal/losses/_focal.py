"""Softmax focal loss."""

import torch
import torch.nn.functional as F

from ._weights import ClassWeightedLoss, check_real

__all__ = ["FocalLoss"]


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
    weight : array-like or tensor of shape (n_classes,), default=None
        Class weights ``w_j``, stored as the buffer ``weight``.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        'none' returns ``w_{y_i} l_i``; 'mean' is ``sum_i w_{y_i} l_i / sum_i w_{y_i}``.

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
