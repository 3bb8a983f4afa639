"""Quintuplet loss of Large Margin Local Embedding (LMLE)."""

from collections import namedtuple

import torch
from torch import nn

__all__ = ["QuintupletLoss", "Quintuplets", "quintuplet_selection", "squared_distances"]

Quintuplets = namedtuple(
    "Quintuplets", ["cluster_farthest", "class_nearest", "class_farthest", "negative"]
)
Quintuplets.__doc__ = """Row indices of each anchor's partners in a batch (-1 when there is none).

``cluster_farthest`` is p+ (farthest sample of the anchor's own cluster),
``class_nearest`` is p- (nearest same-class sample of another cluster),
``class_farthest`` is p-- (farthest same-class sample), ``negative`` is n
(nearest sample of another class)."""


def squared_distances(embeddings):
    """Pairwise squared Euclidean distances ``||z_i - z_j||^2``, shape (n, n).

    Computed as ``|z_i|^2 + |z_j|^2 - 2 z_i.z_j`` clamped at 0 (one matrix
    product, so O(n^2) memory).
    """
    sq_norms = embeddings.pow(2).sum(dim=1)
    gram = embeddings @ embeddings.T
    return (sq_norms[:, None] + sq_norms[None, :] - 2 * gram).clamp_min(0)


def _masked_arg(distances, mask, largest):
    """Per row, the column of the largest (smallest) entry under ``mask``, or -1."""
    fill = -torch.inf if largest else torch.inf
    masked = distances.masked_fill(~mask, fill)
    index = masked.argmax(dim=1) if largest else masked.argmin(dim=1)
    return torch.where(mask.any(dim=1), index, torch.full_like(index, -1))


def quintuplet_selection(distances, labels, cluster_ids):
    """Select each anchor's four partners in a batch, all anchors at once.

    Parameters
    ----------
    distances : torch.Tensor of shape (n, n)
        Pairwise distances of the batch.
    labels : torch.Tensor of int, shape (n,)
        Class of each sample.
    cluster_ids : torch.Tensor of int, shape (n,)
        Cluster of each sample. Two samples share a cluster when they have the
        same class and the same cluster id.

    Returns
    -------
    Quintuplets
        Four LongTensors of shape (n,) with the partner rows, -1 where the
        batch holds no sample of that role (the anchor itself never counts).
    """
    n = len(labels)
    same_class = labels[:, None] == labels[None, :]
    same_cluster = same_class & (cluster_ids[:, None] == cluster_ids[None, :])
    not_self = ~torch.eye(n, dtype=torch.bool, device=labels.device)
    distances = distances.detach()
    return Quintuplets(
        cluster_farthest=_masked_arg(distances, same_cluster & not_self, largest=True),
        class_nearest=_masked_arg(distances, same_class & ~same_cluster, largest=False),
        class_farthest=_masked_arg(distances, same_class & not_self, largest=True),
        negative=_masked_arg(distances, ~same_class, largest=False),
    )


class QuintupletLoss(nn.Module):
    """Triple-header hinge loss on quintuplets (Huang et al., CVPR 2016, Eq. 2).

    For every anchor ``a`` of the batch, with ``D`` the squared Euclidean
    distance between embeddings, ``p+`` the farthest sample of ``a``'s cluster,
    ``p-`` the nearest sample of ``a``'s class in another cluster, ``p--`` the
    farthest sample of ``a``'s class and ``n`` the nearest sample of another
    class:

    .. math::

        \\ell(a) = [g_1 + D(a, p^+) - D(a, p^-)]_+
                 + [g_2 + D(a, p^-) - D(a, p^{--})]_+
                 + [g_3 + D(a, p^{--}) - D(a, n)]_+

    The three hinges keep a cluster tighter than its class, the class's other
    clusters nearer than its far end, and the whole class inside a margin from
    every other class, so the embedding preserves the local structure within
    each class while separating classes.

    Parameters
    ----------
    margins : tuple of 3 floats, default=(0.05, 0.1, 0.2)
        ``(g1, g2, g3)``. The paper does not publish values [unsure]; the
        defaults are small relative to the range ``[0, 4]`` of ``D`` on the unit
        sphere, with ``g3`` the triplet margin of FaceNet (0.2).
    reduction : {'mean', 'sum', 'none'}, default='mean'
        'none' returns one loss per anchor; 'mean' averages over the anchors
        that have at least one term (0 when none has).

    Notes
    -----
    **Partners are mined in the batch**, vectorised over all anchors
    (:func:`quintuplet_selection`, O(batch^2) memory). A term whose two
    partners are not both in the batch is skipped, so an anchor whose class
    has a single cluster in the batch is trained with the last (triplet) term
    only, and an anchor without any term contributes 0 and is left out of the
    mean. ``forward`` takes ``(embeddings, labels, cluster_ids)``; the
    embeddings are used as given (normalise them first to work on the unit
    sphere, as LMLE does).

    Examples
    --------
    >>> import torch
    >>> from skimbal.losses import QuintupletLoss
    >>> z = torch.tensor([[0.0], [0.1], [0.5], [0.7], [2.0]])
    >>> labels = torch.tensor([0, 0, 0, 0, 1])
    >>> clusters = torch.tensor([0, 0, 1, 1, 2])
    >>> QuintupletLoss(reduction="none")(z, labels, clusters)[0].item()
    0.0
    """

    def __init__(self, margins=(0.05, 0.1, 0.2), reduction="mean"):
        super().__init__()
        if len(margins) != 3:
            raise ValueError(f"margins must hold 3 values (g1, g2, g3), got {margins!r}.")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}.")
        self.margins = tuple(float(m) for m in margins)
        self.reduction = reduction

    def forward(self, embeddings, labels, cluster_ids):
        """Loss of the batch (per anchor with ``reduction='none'``)."""
        per_anchor, has_term = self.anchor_losses(embeddings, labels, cluster_ids)
        if self.reduction == "none":
            return per_anchor
        if self.reduction == "sum":
            return per_anchor.sum()
        return per_anchor.sum() / has_term.sum().clamp_min(1)

    def anchor_losses(self, embeddings, labels, cluster_ids):
        """Loss of every anchor and whether it has at least one term.

        Returns
        -------
        losses : torch.Tensor of shape (n,)
            Sum of the anchor's valid hinge terms (0 when it has none).
        has_term : torch.BoolTensor of shape (n,)
        """
        distances = squared_distances(embeddings)
        partners = quintuplet_selection(distances, labels, cluster_ids)
        rows = torch.arange(len(labels), device=distances.device)

        def distance_to(index):
            return distances[rows, index.clamp_min(0)], index >= 0

        d_pos, has_pos = distance_to(partners.cluster_farthest)
        d_near, has_near = distance_to(partners.class_nearest)
        d_far, has_far = distance_to(partners.class_farthest)
        d_neg, has_neg = distance_to(partners.negative)
        g1, g2, g3 = self.margins
        terms = [
            (torch.relu(g1 + d_pos - d_near), has_pos & has_near),
            (torch.relu(g2 + d_near - d_far), has_near & has_far),
            (torch.relu(g3 + d_far - d_neg), has_far & has_neg),
        ]
        per_anchor = sum(
            torch.where(valid, value, torch.zeros_like(value)) for value, valid in terms
        )
        has_term = terms[0][1] | terms[1][1] | terms[2][1]
        return per_anchor, has_term
