"""Maximum-margin (MM) loss of Kang, Vu and Yoo (ICIP 2021)."""

import numpy as np
import torch
import torch.nn.functional as F

from ._ldam import subtract_target_shift
from ._weights import (
    ClassWeightedLoss,
    check_real,
    hardest_negative,
    ldam_margins,
    target_mask,
)

__all__ = ["MaxMarginLoss"]

# The authors' code computes the LDAM margins of the offset variant with the
# rarest-class margin fixed at 0.5, whatever the MM margin M.
_AUTHORS_LDAM_MAX_MARGIN = 0.5


class MaxMarginLoss(ClassWeightedLoss):
    r"""Maximum-margin loss on cosine logits (Kang, Vu, Yoo, ICIP 2021).

    With :math:`p = z_y` the target logit and :math:`q = \max_{j \ne y} z_j` the
    hardest negative, every sample gets the target shift

    .. math::

        \delta = \begin{cases}
            \exp\bigl(-(p - q) - \gamma M\bigr) & p > q, \\
            \exp\bigl(-(q - p) - M\bigr) & \text{otherwise},
        \end{cases}

    computed without gradient, and the loss
    :math:`\ell = w_y\,\mathrm{CE}(s\,(z - \delta e_y), y)`. Well separated
    samples get a small shift, misclassified ones a shift up to ``exp(-M)``.
    With ``ldam_offset`` the margin becomes per sample :math:`M - m_y`, with
    :math:`m_y` the LDAM margin of the target class (:func:`ldam_margins`).
    A tie ``p == q`` takes the second branch (the authors' code gives 0 there).

    Defaults: ``scale=30`` and ``max_margin=0.5`` are the defaults of the
    authors' ``HMMLoss`` (the LDAM values); ``gamma=1.528`` is the value of
    their published CIFAR-100-LT (imbalance 100) command, which also uses
    ``scale=19`` and ``max_margin=1.29`` (the class default in their code is
    ``gamma=1.1``, with no published experiment behind it). Tune all three on a
    validation split. The paper trains the loss with deferred re-weighting.

    **A fix of the authors' code.** Their implementation reads the target
    logit of the whole batch at the first sample's label
    (``z[:, labels[0]]``), so ``p`` is wrong for every sample of another class,
    and takes the hardest negative from the logits with the target masked to
    0, which is wrong when all other cosines are negative. Here ``p`` is read
    per sample and ``q`` is the maximum over ``j != y`` (target masked to
    ``-inf``).

    Parameters
    ----------
    class_counts : array-like or tensor of shape (n_classes,), default=None
        Training samples per class; required when ``ldam_offset`` is set,
        otherwise unused.
    scale : float > 0, default=30.0
        Logit scale ``s``.
    max_margin : float >= 0, default=0.5
        The margin ``M``.
    gamma : float >= 0, default=1.528
        Multiplier of ``M`` in the shift of correctly ranked samples.
    ldam_offset : bool or float, default=False
        If True, use ``M - m_y`` with LDAM margins whose largest is 0.5, as in
        the authors' code; a positive float sets that largest LDAM margin.
    weight : array-like or tensor of shape (n_classes,), default=None
        Class weights ``w_j``, stored as the buffer ``weight``.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        'none' returns ``w_{y_i} l_i``; 'mean' is ``sum_i w_{y_i} l_i / sum_i w_{y_i}``.

    Attributes
    ----------
    margins : tensor of float32, shape (n_classes,) or None
        Per-class margins ``M - m_j`` of the offset variant (a buffer), None
        without ``ldam_offset``.

    References
    ----------
    H. Kang, T. Vu, C. D. Yoo. Learning Imbalanced Datasets with Maximum Margin
    Loss. ICIP 2021. Code: github.com/ihaeyong/Maximum-Margin-LDAM.

    Examples
    --------
    >>> import math
    >>> import torch
    >>> from skimbal.losses import MaxMarginLoss
    >>> loss = MaxMarginLoss(scale=1.0, max_margin=0.5, gamma=2.0)
    >>> cosines = torch.tensor([[0.8, 0.3, -0.2]])
    >>> shift = loss.target_shift(cosines, torch.tensor([0])).item()  # p - q = 0.5
    >>> math.isclose(shift, math.exp(-0.5 - 2.0 * 0.5), rel_tol=1e-6)
    True
    """

    def __init__(
        self,
        class_counts=None,
        scale=30.0,
        max_margin=0.5,
        gamma=1.528,
        ldam_offset=False,
        weight=None,
        reduction="mean",
    ):
        super().__init__(weight=weight, reduction=reduction)
        self.scale = check_real(scale, "scale", low=0.0, low_open=True)
        self.max_margin = check_real(max_margin, "max_margin", low=0.0)
        self.gamma = check_real(gamma, "gamma", low=0.0)
        self.ldam_offset = ldam_offset
        margins = None
        if ldam_offset is None or isinstance(ldam_offset, bool | np.bool_):
            use_offset, ldam_max = bool(ldam_offset), _AUTHORS_LDAM_MAX_MARGIN
        else:
            use_offset = True
            ldam_max = check_real(ldam_offset, "ldam_offset", low=0.0, low_open=True)
        if use_offset:
            if class_counts is None:
                raise ValueError("ldam_offset needs class_counts.")
            margins = self.max_margin - ldam_margins(class_counts, max_margin=ldam_max)
        self.register_buffer("margins", margins)

    @torch.no_grad()
    def target_shift(self, input, target):
        """The shift ``delta`` subtracted from each target logit, shape (n_samples,)."""
        logits = input.detach()
        positive = logits.gather(-1, target.unsqueeze(-1)).squeeze(-1)
        negative = hardest_negative(logits, target_mask(logits, target))
        gap = positive - negative
        margin = self.max_margin if self.margins is None else self.margins[target].to(gap.dtype)
        return torch.where(gap > 0, torch.exp(-gap - self.gamma * margin), torch.exp(gap - margin))

    def per_sample(self, input, target):
        """Unweighted MM loss of each sample, shape (n_samples,)."""
        shifted = subtract_target_shift(input, target, self.target_shift(input, target))
        return F.cross_entropy(self.scale * shifted, target, reduction="none")

    def extra_repr(self):
        return (
            f"scale={self.scale}, max_margin={self.max_margin}, gamma={self.gamma}, "
            f"ldam_offset={self.ldam_offset}, reduction={self.reduction!r}"
        )
