"""Logit-adjusted loss and balanced softmax."""

import torch
import torch.nn.functional as F

from .._core.docstrings import substitute_docstring
from ._base import ClassWeightedLoss, check_class_counts, check_real

__all__ = ["BalancedSoftmaxLoss", "LogitAdjustedLoss"]


def log_prior_adjustment(class_counts, tau):
    r"""The additive logit adjustment :math:`\tau \log \pi_j`, float32.

    Classes with ``n_j = 0`` get ``-inf`` when ``tau > 0`` (their probability is
    zero during training) and 0 when ``tau == 0``.
    """
    counts = check_class_counts(class_counts)
    present = counts > 0
    log_prior = torch.log(counts.clamp_min(1e-300) / counts.sum())
    absent = float("-inf") if tau > 0 else 0.0
    return torch.where(present, tau * log_prior, absent).to(torch.float32)


@substitute_docstring
class LogitAdjustedLoss(ClassWeightedLoss):
    r"""Logit-adjusted cross-entropy (Menon et al., ICLR 2021).

    .. math::

        \ell(z, y) = w_y\,\mathrm{CE}\bigl(z + \tau \log \pi,\, y\bigr),
        \qquad \pi_j = n_j / \textstyle\sum_k n_k,

    applied during training only: predictions use the raw logits ``z``, which
    then estimate the balanced (class-prior free) posterior. ``tau=1`` is the
    paper's default and equals the balanced softmax of Ren et al. (2020). Choose
    another ``tau`` on a held-out split, never on the test set.

    Parameters
    ----------
    class_counts : array-like or tensor of shape (n_classes,)
        Training samples per class.
    tau : float >= 0, default=1.0
        Strength of the adjustment; 0 is plain cross-entropy.
    {class_weighted_loss}

    Attributes
    ----------
    adjustment : tensor of float32, shape (n_classes,)
        ``tau * log(prior)`` (a buffer); ``-inf`` for classes with no sample.

    References
    ----------
    A. K. Menon, S. Jayasumana, A. S. Rawat, H. Jain, A. Veit, S. Kumar.
    Long-tail learning via logit adjustment. ICLR 2021.

    Examples
    --------
    >>> import torch
    >>> from skimbal.losses import LogitAdjustedLoss
    >>> loss = LogitAdjustedLoss([75, 25], tau=1.0)
    >>> logits = torch.zeros(1, 2)
    >>> round(loss(logits, torch.tensor([1])).item(), 4)  # -log(0.25)
    1.3863
    """

    def __init__(self, class_counts, tau=1.0, weight=None, reduction="mean"):
        super().__init__(weight=weight, reduction=reduction)
        self.tau = check_real(tau, "tau", low=0.0)
        self.register_buffer("adjustment", log_prior_adjustment(class_counts, self.tau))

    def per_sample(self, input, target):
        """Unweighted loss of each sample, shape (n_samples,)."""
        return F.cross_entropy(input + self.adjustment.to(input.dtype), target, reduction="none")

    def extra_repr(self):
        return f"tau={self.tau}, reduction={self.reduction!r}"


@substitute_docstring
class BalancedSoftmaxLoss(LogitAdjustedLoss):
    r"""Balanced softmax (Ren et al., NeurIPS 2020): :math:`\mathrm{CE}(z + \log \pi, y)`.

    The logit-adjusted loss with ``tau=1``: the softmax is taken over
    :math:`n_j e^{z_j}`, so that the raw logits estimate the balanced posterior.

    Parameters
    ----------
    class_counts : array-like or tensor of shape (n_classes,)
        Training samples per class.
    {class_weighted_loss}

    References
    ----------
    J. Ren, C. Yu, S. Sheng, X. Ma, H. Zhao, S. Yi, H. Li. Balanced Meta-Softmax
    for Long-Tailed Visual Recognition. NeurIPS 2020.

    Examples
    --------
    >>> import torch
    >>> from skimbal.losses import BalancedSoftmaxLoss
    >>> loss = BalancedSoftmaxLoss([75, 25])
    >>> round(loss(torch.zeros(1, 2), torch.tensor([0])).item(), 4)  # -log(0.75)
    0.2877
    """

    def __init__(self, class_counts, weight=None, reduction="mean"):
        super().__init__(class_counts, tau=1.0, weight=weight, reduction=reduction)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"
