"""Label-distribution-aware margin (LDAM) loss."""

import torch.nn.functional as F

from ._weights import ClassWeightedLoss, check_real, ldam_margins

__all__ = ["LDAMLoss"]


def subtract_target_shift(logits, target, shift):
    """Return ``logits`` with ``shift`` (one value per sample) subtracted from the target column."""
    index = target.unsqueeze(-1)
    target_logit = logits.gather(-1, index) - shift.unsqueeze(-1).to(logits.dtype)
    return logits.scatter(-1, index, target_logit)


class LDAMLoss(ClassWeightedLoss):
    r"""Label-distribution-aware margin loss on cosine logits.

    .. math::

        \ell(z, y) = w_y\,\mathrm{CE}\bigl(s\,(z - m_y e_y),\, y\bigr),
        \qquad m_j = \frac{K}{n_j^{1/4}},

    with ``K`` such that the largest margin is ``max_margin`` (see
    :func:`ldam_margins`) and :math:`e_y` the one-hot vector of ``y``. The
    logits ``z`` are meant to be cosine similarities (a normalised linear head:
    features and class vectors L2-normalised, no bias), which the scale ``s``
    stretches. Defaults ``max_margin=0.5`` and ``scale=30`` are those of Cao et
    al. (2019) and their code; the paper pairs LDAM with deferred re-weighting
    (LDAM-DRW), which replaces ``weight`` late in training.

    Parameters
    ----------
    class_counts : array-like or tensor of shape (n_classes,)
        Training samples per class.
    max_margin : float > 0, default=0.5
        Margin of the rarest class.
    scale : float > 0, default=30.0
        Logit scale ``s``.
    weight : array-like or tensor of shape (n_classes,), default=None
        Class weights ``w_j``, stored as the buffer ``weight``.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        'none' returns ``w_{y_i} l_i``; 'mean' is ``sum_i w_{y_i} l_i / sum_i w_{y_i}``.

    Attributes
    ----------
    margins : tensor of float32, shape (n_classes,)
        The per-class margins ``m_j`` (a buffer).

    References
    ----------
    K. Cao, C. Wei, A. Gaidon, N. Arechiga, T. Ma. Learning Imbalanced Datasets
    with Label-Distribution-Aware Margin Loss. NeurIPS 2019.

    Examples
    --------
    >>> import torch
    >>> from skimbal.losses import LDAMLoss
    >>> loss = LDAMLoss([10000, 16], max_margin=0.5, scale=10.0)
    >>> loss.margins
    tensor([0.1000, 0.5000])
    >>> cosines = torch.tensor([[0.5, 0.0]])
    >>> round(loss(cosines, torch.tensor([0])).item(), 4)  # CE of [4, 0]
    0.0181
    """

    def __init__(self, class_counts, max_margin=0.5, scale=30.0, weight=None, reduction="mean"):
        super().__init__(weight=weight, reduction=reduction)
        self.max_margin = check_real(max_margin, "max_margin", low=0.0, low_open=True)
        self.scale = check_real(scale, "scale", low=0.0, low_open=True)
        self.register_buffer("margins", ldam_margins(class_counts, max_margin=self.max_margin))

    def per_sample(self, input, target):
        """Unweighted LDAM loss of each sample, shape (n_samples,)."""
        shifted = subtract_target_shift(input, target, self.margins[target])
        return F.cross_entropy(self.scale * shifted, target, reduction="none")

    def extra_repr(self):
        return f"max_margin={self.max_margin}, scale={self.scale}, reduction={self.reduction!r}"
