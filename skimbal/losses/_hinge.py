"""Multi-class hinge loss (max form), optionally with LDAM margins."""

import torch.nn.functional as F

from ._weights import (
    ClassWeightedLoss,
    check_real,
    hardest_negative,
    target_mask,
)
from ._weights import ldam_margins as compute_ldam_margins

__all__ = ["MultiClassHingeLoss"]


class MultiClassHingeLoss(ClassWeightedLoss):
    r"""Multi-class hinge loss in the max form (Crammer and Singer 2001).

    .. math::

        \ell(z, y) = w_y \max\bigl(0,\; \Delta_y + \max_{j \ne y} z_j - z_y\bigr),

    with :math:`\Delta_y` = ``margin`` for every class, or, with
    ``ldam_margins=True``, the LDAM margin :math:`\Delta_y = K / n_y^{1/4}`
    whose largest value is ``max_margin`` (Cao et al. 2019, who give the hinge
    form of LDAM in their Section 3.2). The hardest negative is the maximum over
    ``j != y`` exactly (the target masked to ``-inf``), so the loss is right for
    negative logits too.

    Parameters
    ----------
    margin : float >= 0, default=1.0
        Margin of every class (ignored with ``ldam_margins=True``).
    class_counts : array-like or tensor of shape (n_classes,), default=None
        Training samples per class; required with ``ldam_margins=True``.
    ldam_margins : bool, default=False
        Use per-class LDAM margins instead of ``margin``.
    max_margin : float > 0, default=0.5
        Largest LDAM margin (with ``ldam_margins=True``).
    weight : array-like or tensor of shape (n_classes,), default=None
        Class weights ``w_j``, stored as the buffer ``weight``.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        'none' returns ``w_{y_i} l_i``; 'mean' is ``sum_i w_{y_i} l_i / sum_i w_{y_i}``.

    Attributes
    ----------
    margins : tensor of float32, shape (n_classes,) or None
        Per-class LDAM margins (a buffer) or None.

    References
    ----------
    K. Crammer, Y. Singer. On the Algorithmic Implementation of Multiclass
    Kernel-based Vector Machines. JMLR 2001.

    Examples
    --------
    >>> import torch
    >>> from skimbal.losses import MultiClassHingeLoss
    >>> logits = torch.tensor([[2.0, 1.5, -1.0], [-0.5, -2.0, -0.2]])
    >>> MultiClassHingeLoss(margin=1.0, reduction="none")(logits, torch.tensor([0, 1]))
    tensor([0.5000, 2.8000])
    """

    def __init__(
        self,
        margin=1.0,
        class_counts=None,
        ldam_margins=False,
        max_margin=0.5,
        weight=None,
        reduction="mean",
    ):
        super().__init__(weight=weight, reduction=reduction)
        self.margin = check_real(margin, "margin", low=0.0)
        self.ldam_margins = bool(ldam_margins)
        self.max_margin = check_real(max_margin, "max_margin", low=0.0, low_open=True)
        margins = None
        if self.ldam_margins:
            if class_counts is None:
                raise ValueError("ldam_margins=True needs class_counts.")
            margins = compute_ldam_margins(class_counts, max_margin=self.max_margin)
        self.register_buffer("margins", margins)

    def per_sample(self, input, target):
        """Unweighted hinge loss of each sample, shape (n_samples,)."""
        positive = input.gather(-1, target.unsqueeze(-1)).squeeze(-1)
        negative = hardest_negative(input, target_mask(input, target))
        margin = self.margin if self.margins is None else self.margins[target].to(input.dtype)
        return F.relu(margin + negative - positive)

    def extra_repr(self):
        if self.margins is None:
            return f"margin={self.margin}, reduction={self.reduction!r}"
        return f"ldam_margins=True, max_margin={self.max_margin}, reduction={self.reduction!r}"
