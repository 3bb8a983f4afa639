"""The one weighted reduction of per-sample losses.

Every loss, estimator and method that averages losses with weights (class
weights, sample weights, weights of mined anchors) uses :func:`weighted_mean`, so
that "a weight of 0 removes a sample" and "weights are normalised per batch" mean
the same thing everywhere.
"""

import torch

__all__ = ["weighted_mean"]


def weighted_mean(values, weight=None):
    """``sum_i w_i l_i / sum_i w_i``, or the plain mean without weights.

    Parameters
    ----------
    values : torch.Tensor
        Per-sample (or per-element) losses.
    weight : torch.Tensor or None, default=None
        Weights broadcastable to ``values``. A batch whose weights sum to 0 gives 0
        (with a gradient of 0), not NaN.

    Returns
    -------
    mean : torch.Tensor (scalar)

    Examples
    --------
    >>> import torch
    >>> from skimbal._core.reduction import weighted_mean
    >>> weighted_mean(torch.tensor([1.0, 3.0]), torch.tensor([3.0, 1.0]))
    tensor(1.5000)
    >>> weighted_mean(torch.tensor([1.0, 3.0]))
    tensor(2.)
    """
    if weight is None:
        return values.mean()
    weight = weight.to(values.dtype).expand_as(values)
    total = weight.sum()
    return (values * weight).sum() / total.clamp_min(torch.finfo(values.dtype).tiny)


def class_weight_of(weight, target):
    """The class weight of every target: ``weight[y_i]``, or ``weight[a, y_ia]``.

    Parameters
    ----------
    weight : torch.Tensor of shape (n_classes,) or (n_attributes, 2), or None
    target : torch.Tensor of int, shape (n_samples,) or (n_samples, n_attributes)

    Returns
    -------
    weights : torch.Tensor of the shape of ``target``, or None
    """
    if weight is None:
        return None
    if weight.ndim == 1:
        return weight[target]
    return weight[torch.arange(weight.shape[0], device=target.device), target.long()]


def per_sample_loss(criterion, logits, target):
    """Evaluate ``criterion`` with ``reduction='none'`` (its own mode is restored)."""
    reduction = getattr(criterion, "reduction", None)
    if reduction is None:
        raise ValueError(
            f"sample weights need a criterion with a 'reduction' attribute; "
            f"{type(criterion).__name__} has none."
        )
    criterion.reduction = "none"
    try:
        return criterion(logits, target)
    finally:
        criterion.reduction = reduction


def sample_weighted_loss(criterion, logits, target, sample_weight):
    """``sum_i w_i l_i / sum_i w_i`` with ``w_i = weight[y_i] * sample_weight_i``.

    ``criterion`` follows PyTorch's conventions: its ``weight`` attribute holds the
    class weights (or is None) and, with ``reduction='none'``, it returns per-sample
    losses already multiplied by them, as :class:`torch.nn.CrossEntropyLoss` does.
    Without class weights this is ``weighted_mean(l, sample_weight)``; without
    sample weights it is what the criterion's own 'mean' reduction computes.
    """
    losses = per_sample_loss(criterion, logits, target)
    shape = (-1,) + (1,) * (losses.ndim - 1)
    weight = sample_weight.to(losses.dtype).view(shape)
    class_weight = class_weight_of(getattr(criterion, "weight", None), target)
    if class_weight is None:
        return weighted_mean(losses, weight)
    class_weight = class_weight.to(losses.dtype)
    # The losses carry their class weight; divide it out (0 stays 0) to weight once.
    unweighted = torch.where(class_weight > 0, losses / class_weight.clamp_min(1e-30), 0.0)
    return weighted_mean(unweighted, class_weight * weight)
