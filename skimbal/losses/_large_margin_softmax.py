"""Large-margin softmax (L-Softmax, Liu et al. 2016): the margin function and logits.

L-Softmax changes the target logit ``||w_y|| ||x|| cos(theta_y)`` into
``||w_y|| ||x|| psi(theta_y)``, so it needs the norms and the angle, not only the
logits. The margin logits are therefore produced by a head,
:class:`skimbal.nn.LargeMarginLinear`, given the targets; any loss on logits (plain
cross-entropy in :class:`skimbal.LargeMarginSoftmaxClassifier`) is then applied.
"""

import math
import numbers

import torch
from torch.nn import functional as F

from .._core.validation import check_non_negative

__all__ = ["large_margin_logits", "large_margin_psi"]


def _check_margin(margin):
    if isinstance(margin, bool) or not isinstance(margin, numbers.Integral) or margin < 1:
        raise ValueError(f"margin must be an integer >= 1, got {margin!r}.")
    return int(margin)


def large_margin_psi(cos_theta, margin=2):
    r"""The L-Softmax margin function of the angle, from its cosine.

    .. math::

        \psi(\theta) = (-1)^k \cos(m\theta) - 2k, \qquad
        \theta \in \left[\tfrac{k\pi}{m}, \tfrac{(k+1)\pi}{m}\right],\ k \in \{0, \dots, m-1\}.

    ``psi`` is continuous and decreasing on ``[0, pi]`` with ``psi(0) = 1`` and
    ``psi(pi) = 1 - 2m``; ``m = 1`` gives ``cos(theta)``. ``cos(m theta)`` is the
    Chebyshev polynomial ``T_m(cos theta)`` (no ``arccos``, so the gradient is finite
    everywhere) and ``k`` is found by comparing ``cos theta`` with ``cos(j pi / m)``.

    Parameters
    ----------
    cos_theta : tensor
        Cosines of the angles, clipped to ``[-1, 1]``.
    margin : int >= 1, default=2
        The multiplicative angular margin ``m``.

    Returns
    -------
    psi : tensor of the shape of ``cos_theta``

    References
    ----------
    W. Liu, Y. Wen, Z. Yu, M. Yang. Large-Margin Softmax Loss for Convolutional
    Neural Networks. ICML 2016, Eq. 6.

    Examples
    --------
    >>> import math, torch
    >>> from skimbal.losses import large_margin_psi
    >>> theta = torch.tensor([0.0, math.pi / 2, math.pi], dtype=torch.float64)
    >>> large_margin_psi(torch.cos(theta), margin=2)
    tensor([ 1., -1., -3.], dtype=torch.float64)
    """
    margin = _check_margin(margin)
    cos_theta = cos_theta.clamp(-1.0, 1.0)
    # Chebyshev recurrence T_{n+1} = 2 c T_n - T_{n-1}: a loop over m, not samples.
    previous, cos_m_theta = torch.ones_like(cos_theta), cos_theta
    for _ in range(margin - 1):
        previous, cos_m_theta = cos_m_theta, 2 * cos_theta * cos_m_theta - previous
    with torch.no_grad():
        k = torch.zeros_like(cos_theta)
        for j in range(1, margin):
            k = k + (cos_theta <= math.cos(j * math.pi / margin)).to(cos_theta.dtype)
    sign = 1.0 - 2.0 * torch.remainder(k, 2.0)
    return sign * cos_m_theta - 2.0 * k


def large_margin_logits(features, weight, target, margin=2, mix=0.0):
    r"""Logits of a bias-free linear layer with the L-Softmax target logit.

    .. math::

        f_j = w_j^\top x \ (j \ne y), \qquad
        f_y = \frac{\lambda\, \|w_y\| \|x\| \cos\theta_y + \|w_y\| \|x\| \psi(\theta_y)}
                   {1 + \lambda},

    where ``lambda = mix`` is the annealed weight of the plain logit (Liu et al.
    2016, Sec. 5: it starts large and decreases during training).

    Parameters
    ----------
    features : tensor of shape (n_samples, n_features)
        Embeddings ``x``.
    weight : tensor of shape (n_classes, n_features)
        Class weight vectors ``w_j`` (rows, as in :class:`torch.nn.Linear`).
    target : tensor of int64, shape (n_samples,)
        Encoded targets.
    margin : int >= 1, default=2
        Angular margin ``m``.
    mix : float >= 0, default=0.0
        ``lambda``; 0 is the pure L-Softmax logit, a large value the plain logit.

    Returns
    -------
    logits : tensor of shape (n_samples, n_classes)

    Examples
    --------
    >>> import torch
    >>> from skimbal.losses import large_margin_logits
    >>> x, w = torch.randn(4, 3), torch.randn(5, 3)
    >>> y = torch.tensor([0, 1, 2, 3])
    >>> torch.allclose(large_margin_logits(x, w, y, margin=1), x @ w.T, atol=1e-5)
    True
    """
    margin = _check_margin(margin)
    check_non_negative(mix, "mix")
    logits = F.linear(features, weight)
    index = target.unsqueeze(1)
    target_logit = logits.gather(1, index).squeeze(1)
    norm_product = weight.norm(dim=1)[target] * features.norm(dim=1)
    cos_theta = target_logit / norm_product.clamp_min(torch.finfo(logits.dtype).tiny)
    psi_logit = norm_product * large_margin_psi(cos_theta, margin)
    margin_logit = (mix * target_logit + psi_logit) / (1.0 + mix)
    return logits.scatter(1, index, margin_logit.unsqueeze(1))
