"""Per-class weights and margins from class counts, and the shared loss base.

Everything here works on the per-class training counts ``n_j`` and returns
float32 tensors on the CPU; the losses register them as buffers so that they
follow the module to its device.
"""

import numbers

import numpy as np
import torch

__all__ = [
    "effective_number_weights",
    "inverse_frequency_weights",
    "ldam_margins",
]

_REDUCTIONS = ("mean", "sum", "none")


def check_class_counts(class_counts):
    """Validate per-class counts and return them as a float64 CPU tensor.

    Parameters
    ----------
    class_counts : array-like or tensor of shape (n_classes,)
        Number of training samples of each class. Non-integer values are
        accepted (effective or weighted counts); they must be finite and
        non-negative, and at least one must be positive.

    Returns
    -------
    counts : tensor of float64, shape (n_classes,)

    Raises
    ------
    ValueError
        If the counts are not a non-empty 1-D sequence of finite, non-negative
        numbers with a positive sum.
    """
    if class_counts is None:
        raise ValueError("class_counts is required, got None.")
    if isinstance(class_counts, torch.Tensor):
        counts = class_counts.detach().to(device="cpu", dtype=torch.float64)
    else:
        try:
            counts = torch.as_tensor(np.asarray(class_counts, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"class_counts must be a 1-D sequence of numbers, got {class_counts!r}."
            ) from exc
    if counts.ndim != 1 or counts.numel() == 0:
        raise ValueError(
            f"class_counts must be a non-empty 1-D sequence, got shape {tuple(counts.shape)}."
        )
    if not torch.isfinite(counts).all():
        raise ValueError("class_counts must be finite.")
    if (counts < 0).any():
        raise ValueError(f"class_counts must be non-negative, got {counts.tolist()}.")
    if not (counts > 0).any():
        raise ValueError("class_counts must have at least one positive entry.")
    return counts


def check_class_weight_tensor(weight):
    """Validate an optional per-class weight vector; return float32 or None."""
    if weight is None:
        return None
    if isinstance(weight, torch.Tensor):
        tensor = weight.detach().to(dtype=torch.float32)
    else:
        try:
            tensor = torch.as_tensor(np.asarray(weight, dtype=np.float32))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"weight must be None or a 1-D sequence, got {weight!r}.") from exc
    if tensor.ndim != 1 or tensor.numel() == 0:
        raise ValueError(f"weight must be a non-empty 1-D tensor, got shape {tuple(tensor.shape)}.")
    if not torch.isfinite(tensor).all() or (tensor < 0).any():
        raise ValueError("weight must be finite and non-negative.")
    return tensor


def check_real(value, name, *, low=None, high=None, low_open=False, high_open=False):
    """Check that ``value`` is a real number in the given interval; return it as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}.")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        low_text = "-inf" if low is None else low
        high_text = "inf" if high is None else high
        interval = f"{left}{low_text}, {high_text}{right}"
        raise ValueError(f"{name} must be in {interval}, got {value!r}.")
    return float(value)


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


def weighted_reduce(per_sample, target, weight, reduction):
    """Apply class weights and PyTorch's reduction to per-sample losses.

    Parameters
    ----------
    per_sample : tensor of shape (n_samples,)
        Unweighted loss of each sample.
    target : tensor of int64, shape (n_samples,)
        Class of each sample.
    weight : tensor of shape (n_classes,) or None
        Class weights.
    reduction : {'mean', 'sum', 'none'}
        'none' returns ``weight[target] * per_sample``; 'sum' its sum; 'mean'
        ``sum_i w_{y_i} l_i / sum_i w_{y_i}`` (the plain mean without weights),
        as :class:`torch.nn.CrossEntropyLoss` does.

    Returns
    -------
    loss : tensor
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}.")
    sample_weight = None
    if weight is not None:
        sample_weight = weight.to(per_sample.dtype)[target]
        per_sample = per_sample * sample_weight
    if reduction == "none":
        return per_sample
    if reduction == "sum":
        return per_sample.sum()
    if sample_weight is None:
        return per_sample.mean()
    return per_sample.sum() / sample_weight.sum().clamp_min(torch.finfo(per_sample.dtype).tiny)


class ClassWeightedLoss(torch.nn.Module):
    """Base of the skimbal losses: a ``weight`` buffer and PyTorch's reductions.

    Subclasses implement ``per_sample(input, target)`` (unweighted losses of
    shape ``(n_samples,)``); ``forward`` applies the class weights and the
    reduction with :func:`weighted_reduce`.

    Parameters
    ----------
    weight : array-like or tensor of shape (n_classes,), default=None
        Class weights, stored as the buffer ``weight`` (it moves with
        ``.to(device)`` and a schedule may replace it between batches).
    reduction : {'mean', 'sum', 'none'}, default='mean'
        See :func:`weighted_reduce`.
    """

    def __init__(self, weight=None, reduction="mean"):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}.")
        self.reduction = reduction
        self.register_buffer("weight", check_class_weight_tensor(weight))

    def per_sample(self, input, target):  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, input, target):
        """Loss of logits ``input`` (n_samples, n_classes) for int64 ``target``."""
        logits = as_float_logits(input)
        return weighted_reduce(self.per_sample(logits, target), target, self.weight, self.reduction)


def as_float_logits(input):
    """Half-precision logits are promoted to float32 (as autocast does for CE)."""
    if input.dtype in (torch.float16, torch.bfloat16):
        return input.float()
    return input


def target_mask(logits, target):
    """Boolean one-hot mask of the target column, shape (n_samples, n_classes)."""
    mask = torch.zeros(logits.shape, dtype=torch.bool, device=logits.device)
    return mask.scatter_(-1, target.unsqueeze(-1), True)


def hardest_negative(logits, mask):
    """Largest logit over the non-target classes (``-inf`` where there are none)."""
    return logits.masked_fill(mask, float("-inf")).amax(dim=-1)
