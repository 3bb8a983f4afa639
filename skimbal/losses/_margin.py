"""Margin losses: LDAM, the maximum-margin loss and the multi-class hinge loss.

All three enlarge the margin of the target class, by a per-class amount that
grows as the class gets rarer (:func:`ldam_margins`, Cao et al. 2019) or by a
per-sample amount (:class:`MaxMarginLoss`). LDAM and MM work on cosine logits (a
:class:`skimbal.nn.NormedLinear` head).
"""

import numpy as np
import torch
import torch.nn.functional as F

from .._core.docstrings import substitute_docstring
from ._base import ClassWeightedLoss, check_class_counts, check_real, hardest_negative, target_mask

__all__ = ["LDAMLoss", "MaxMarginLoss", "MultiClassHingeLoss", "ldam_margins"]

def _per_class_margins(class_counts, max_margin):
    # The hinge loss has a parameter named ldam_margins, which hides the function.
    return ldam_margins(class_counts, max_margin=max_margin)


# The authors' code computes the LDAM margins of the offset variant with the
# rarest-class margin fixed at 0.5, whatever the MM margin M.
_AUTHORS_LDAM_MAX_MARGIN = 0.5


def ldam_margins(class_counts, max_margin=0.5):
    r"""Label-distribution-aware margins :math:`m_j = K / n_j^{1/4}`.

    ``K`` is chosen so that the largest margin (that of the rarest class) equals
    ``max_margin``; Cao et al. (2019, Section 3.2 and their code) use 0.5.

    Parameters
    ----------
    class_counts : array-like or tensor of shape (n_classes,)
        Training samples per class.
    max_margin : float > 0, default=0.5
        Margin of the rarest class.

    Returns
    -------
    margins : tensor of float32, shape (n_classes,)
        Classes with ``n_j = 0`` get ``max_margin`` (the margin is capped there
        instead of being infinite; such classes never occur as a target).

    References
    ----------
    K. Cao, C. Wei, A. Gaidon, N. Arechiga, T. Ma. Learning Imbalanced Datasets
    with Label-Distribution-Aware Margin Loss. NeurIPS 2019.

    Examples
    --------
    >>> from skimbal.losses import ldam_margins
    >>> ldam_margins([10000, 625, 16])
    tensor([0.1000, 0.2000, 0.5000])
    """
    counts = check_class_counts(class_counts)
    max_margin = check_real(max_margin, "max_margin", low=0.0, low_open=True)
    present = counts > 0
    raw = torch.where(present, counts.clamp_min(1e-300) ** -0.25, 0.0)
    margins = raw * (max_margin / raw.max())
    return torch.where(present, margins, max_margin).to(torch.float32)


def subtract_target_shift(logits, target, shift):
    """Return ``logits`` with ``shift`` (one value per sample) subtracted from the target column."""
    index = target.unsqueeze(-1)
    target_logit = logits.gather(-1, index) - shift.unsqueeze(-1).to(logits.dtype)
    return logits.scatter(-1, index, target_logit)


@substitute_docstring
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
    {class_weighted_loss}

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


@substitute_docstring
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
    {class_weighted_loss}

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


@substitute_docstring
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
    {class_weighted_loss}

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
            margins = _per_class_margins(class_counts, max_margin=self.max_margin)
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
