"""The base of skimbal's losses and the checks they share.

Every loss here is a plain ``torch.nn.Module`` on logits: no skorch, no estimator.
Losses with class weights keep them in the buffer ``weight`` (possibly None), which
schedules such as deferred re-weighting may replace, and reduce per-sample losses
with :func:`skimbal._core.reduction.weighted_mean`, the one weighted reduction of
the package.
"""

import numbers

import numpy as np
import torch

from .._core.reduction import class_weight_of, weighted_mean

__all__ = ["ClassWeightedLoss", "check_class_counts", "check_real"]

REDUCTIONS = ("mean", "sum", "none")


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
        ``sum_i w_{y_i} l_i / sum_i w_{y_i}`` (the plain mean without weights), as
        :class:`torch.nn.CrossEntropyLoss` does.

    Returns
    -------
    loss : tensor
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}.")
    sample_weight = class_weight_of(weight, target)
    if reduction == "mean":
        return weighted_mean(per_sample, sample_weight)
    if sample_weight is not None:
        per_sample = per_sample * sample_weight.to(per_sample.dtype)
    return per_sample if reduction == "none" else per_sample.sum()


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
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}.")
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
