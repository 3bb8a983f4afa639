"""Batch-wise minority profiling and hard mining of the class rectification loss.

Dong, Gong and Zhu (ICCV 2017; TPAMI 2019), steps 1 and 2 of
:class:`skimbal.losses.ClassRectificationLoss`: the minority classes of every
task of a batch are profiled from its class counts, and every sample of a
minority class anchors ``kappa`` hard positives and ``kappa`` hard negatives. The
whole batch is mined at once with masked ``topk`` calls; there is no Python loop
over samples, classes or attributes.
"""

from collections import namedtuple

import torch

__all__ = ["HardMining", "mine_hard_examples", "minority_class_mask"]

HardMining = namedtuple(
    "HardMining",
    ["anchor", "task", "label", "positive", "negative", "positive_valid", "negative_valid"],
)
HardMining.__doc__ = """The hard examples mined in one batch.

One row per anchor ``r``: sample ``anchor[r]`` of minority class ``label[r]``
of task ``task[r]``; ``positive[r]`` and ``negative[r]`` (shape (n_anchors,
kappa)) hold its hard positives and negatives, ``positive_valid`` and
``negative_valid`` say which of those slots hold a real example (a class with
fewer than ``kappa + 1`` samples has fewer than ``kappa`` positives)."""


def minority_class_mask(counts, rho=0.5):
    """Minority classes of a batch from its per-class counts.

    The classes present in the batch (count > 0) are sorted by increasing count
    (ties by class index); the minority set is the longest prefix of that order
    whose counts sum to at most ``rho * batch_size``, where the batch size is the
    sum of the counts (Dong et al. 2019, Sec. 3.1).

    Parameters
    ----------
    counts : torch.Tensor of shape (n_classes,) or (n_tasks, n_classes)
        Samples of each class in the batch, per task (row) for several tasks.
    rho : float in [0, 1], default=0.5
        Largest fraction of the batch the minority classes may hold together.

    Returns
    -------
    mask : torch.BoolTensor of the shape of ``counts``
        True for the minority classes.

    Examples
    --------
    >>> import torch
    >>> from skimbal.losses import minority_class_mask
    >>> minority_class_mask(torch.tensor([10, 2, 3, 0, 5]), rho=0.5)
    tensor([False,  True,  True, False,  True])
    """
    counts = torch.as_tensor(counts)
    squeeze = counts.ndim == 1
    counts = counts.reshape(-1, counts.shape[-1]).long()
    present = counts > 0
    # Absent classes sort last; stable sort keeps ties in class order.
    key = torch.where(present, counts, counts.new_tensor(torch.iinfo(torch.int64).max))
    order = torch.sort(key, dim=1, stable=True).indices
    sorted_counts = counts.gather(1, order)
    budget = rho * counts.sum(1, keepdim=True)
    in_prefix = (sorted_counts.cumsum(1) <= budget) & present.gather(1, order)
    # A prefix: once a class is out, every larger class is out.
    in_prefix = in_prefix.long().cumprod(1).bool()
    mask = torch.zeros_like(present).scatter(1, order, in_prefix)
    return mask[0] if squeeze else mask


def _masked_topk(values, candidates, k, largest):
    """Indices of the ``k`` largest (or smallest) candidate values per row."""
    k = min(k, values.shape[1])
    fill = float("-inf") if largest else float("inf")
    index = values.masked_fill(~candidates, fill).topk(k, dim=1, largest=largest).indices
    return index, candidates.gather(1, index)


def mine_hard_examples(target_onehot, rho=0.5, kappa=3, *, scores=None, distances=None):
    """Profile the batch and mine hard positives and negatives for every anchor.

    Parameters
    ----------
    target_onehot : torch.BoolTensor of shape (n_samples, n_tasks, n_classes)
        One-hot targets of every task (one task for a multi-class label; one
        binary task per attribute for multi-label targets).
    rho : float, default=0.5
        Minority profiling threshold, see :func:`minority_class_mask`.
    kappa : int, default=3
        Hard positives and hard negatives kept per anchor.
    scores : torch.Tensor of shape (n_samples, n_tasks, n_classes), default=None
        Class-level mining: the predicted score of every sample for every class.
        Hard positives of an anchor of class ``c`` are the other samples of ``c``
        with the lowest score for ``c``; hard negatives are samples of other
        classes with the highest score for ``c``.
    distances : torch.Tensor of shape (n_samples, n_samples), default=None
        Instance-level mining: pairwise embedding distances. Hard positives are
        the farthest samples of the anchor's class, hard negatives the nearest
        samples of other classes. Exactly one of ``scores`` and ``distances``.

    Returns
    -------
    mining : HardMining
        The anchors and their mined examples.
    n_minority : torch.Tensor
        Number of minority classes over all tasks.
    n_skipped : torch.Tensor
        Minority classes with a single sample in the batch, which cannot anchor
        a pair and are skipped.
    """
    if (scores is None) == (distances is None):
        raise ValueError("Pass exactly one of scores (class level) and distances (instance level).")
    n_samples = target_onehot.shape[0]
    counts = target_onehot.sum(0)
    minority = minority_class_mask(counts, rho)
    skipped = minority & (counts < 2)
    anchor_classes = minority & (counts >= 2)
    anchor, task, label = torch.nonzero(target_onehot & anchor_classes, as_tuple=True)
    # members[r, j]: sample j has the anchor's class (in the anchor's task).
    members = target_onehot.permute(1, 2, 0)[task, label]
    samples = torch.arange(n_samples, device=members.device)
    positive_candidates = members & (samples != anchor[:, None])
    if scores is not None:
        values = scores.detach().permute(1, 2, 0)[task, label]
        positive, positive_valid = _masked_topk(values, positive_candidates, kappa, largest=False)
        negative, negative_valid = _masked_topk(values, ~members, kappa, largest=True)
    else:
        values = distances.detach()[anchor]
        positive, positive_valid = _masked_topk(values, positive_candidates, kappa, largest=True)
        negative, negative_valid = _masked_topk(values, ~members, kappa, largest=False)
    mining = HardMining(
        anchor, task, label, positive, negative, positive_valid, negative_valid
    )
    return mining, minority.sum(), skipped.sum()
