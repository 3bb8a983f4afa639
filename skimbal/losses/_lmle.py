"""Large Margin Local Embedding (LMLE): the quintuplet loss, the objective and the clusters.

Huang, Li, Loy and Tang, "Learning Deep Representation for Imbalanced
Classification", CVPR 2016. :class:`QuintupletLoss` is the triple-header hinge
loss of Eq. 2; :class:`LMLECriterion` the training objective (the quintuplet loss
per labelling task, with class and sample weights, plus an optional
cross-entropy); :class:`EmbeddingClusters` the per-class clusters of the
embedding that the quintuplets are mined with, kept as buffers.
"""

from collections import namedtuple

import torch
from torch import nn
from torch.nn import functional as F

from .._core.reduction import class_weight_of, weighted_mean
from ._base import check_real

__all__ = [
    "EmbeddingClusters",
    "LMLECriterion",
    "QuintupletLoss",
    "Quintuplets",
    "quintuplet_selection",
    "squared_distances",
]

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


class LMLECriterion(nn.Module):
    r"""The training objective of LMLE: the weighted quintuplet loss plus cross-entropy.

    .. math::

        L = \frac{1}{T} \sum_t \frac{\sum_a w_{at}\, \ell_t(a)}{\sum_a w_{at}}
            + \lambda_{ce} L_{data}, \qquad
        w_{at} = c_{t, y_{at}}\, s_a\, [a \text{ has a term in task } t],

    over the ``T`` labelling tasks (one for class indices, one per attribute of a
    0/1 matrix), with ``l_t`` the quintuplet loss of task ``t``
    (``embedding_loss.anchor_losses``), ``c`` the class weights and ``s`` the
    sample weights. ``L_data`` is the cross-entropy of the logits (the binary
    cross-entropy of every attribute for a 0/1 matrix), weighted the same way.
    Every weighted mean is :func:`skimbal._core.reduction.weighted_mean`.

    Parameters
    ----------
    embedding_loss : QuintupletLoss
        Any loss with ``anchor_losses(embeddings, labels, cluster_ids)`` returning
        the loss of every anchor and whether it has a term.
    ce_weight : float >= 0, default=0.0
        ``lambda_ce``; at 0 the logits are not used.
    weight : tensor of shape (n_classes,) or (n_attributes, 2), default=None
        Class weights, stored as the buffer ``weight``.

    Attributes
    ----------
    warmup : bool
        Whether the objective is the cross-entropy alone (False at construction).

    Examples
    --------
    >>> import torch
    >>> from skimbal.losses import QuintupletLoss
    >>> from skimbal.losses._lmle import LMLECriterion
    >>> z = torch.tensor([[0.0], [0.1], [0.5], [0.7], [2.0], [2.1]])
    >>> labels, clusters = torch.tensor([0, 0, 0, 0, 1, 1]), torch.tensor([0, 0, 1, 1, 2, 2])
    >>> quintuplet = QuintupletLoss(margins=(0.05, 0.1, 2.0))
    >>> criterion = LMLECriterion(quintuplet)
    >>> round(criterion(z, labels, clusters).item(), 4)  # no weights: the loss's mean
    0.1967
    >>> bool(torch.isclose(criterion(z, labels, clusters), quintuplet(z, labels, clusters)))
    True
    """

    def __init__(self, embedding_loss, ce_weight=0.0, weight=None):
        super().__init__()
        self.embedding_loss = embedding_loss
        self.ce_weight = check_real(ce_weight, "ce_weight", low=0.0)
        self.register_buffer("weight", None if weight is None else torch.as_tensor(weight).float())
        self.warmup = False

    def forward(self, embedding, target, cluster_ids, logits=None, sample_weight=None):
        """The objective of one batch.

        Parameters
        ----------
        embedding : torch.Tensor of shape (n_samples, n_embedding)
        target : torch.LongTensor of shape (n_samples,) or (n_samples, n_tasks)
        cluster_ids : torch.LongTensor of the shape of ``target``
            Cluster of every sample in every task.
        logits : torch.Tensor of shape (n_samples, n_outputs), default=None
            Needed when ``ce_weight > 0``.
        sample_weight : torch.Tensor of shape (n_samples,), default=None

        Returns
        -------
        loss : torch.Tensor (scalar)
        """
        if self.warmup:
            return self._data_term(logits, target, sample_weight)
        n = len(target)
        labels, clusters = target.reshape(n, -1), cluster_ids.reshape(n, -1)
        class_weight = class_weight_of(self.weight, target)
        if class_weight is not None:
            class_weight = class_weight.reshape(n, -1)
        terms = []
        for task in range(labels.shape[1]):
            losses, has_term = self.embedding_loss.anchor_losses(
                embedding, labels[:, task], clusters[:, task]
            )
            weight = has_term.to(losses.dtype)
            if class_weight is not None:
                weight = weight * class_weight[:, task]
            if sample_weight is not None:
                weight = weight * sample_weight
            terms.append(weighted_mean(losses, weight))
        loss = torch.stack(terms).mean()
        if self.ce_weight:
            loss = loss + self.ce_weight * self._data_term(logits, target, sample_weight)
        return loss

    def _data_term(self, logits, target, sample_weight):
        if logits is None:
            raise ValueError("ce_weight > 0 needs the logits of the batch.")
        if target.ndim == 1:
            losses = F.cross_entropy(logits, target, reduction="none")
        else:
            losses = F.binary_cross_entropy_with_logits(
                logits, target.to(logits.dtype), reduction="none"
            )
        weight = class_weight_of(self.weight, target)
        if sample_weight is not None:
            sample_weight = sample_weight.reshape((-1,) + (1,) * (losses.ndim - 1))
            weight = sample_weight if weight is None else weight * sample_weight
        return weighted_mean(losses, weight)


class EmbeddingClusters(nn.Module):
    """Per-class clusters of an embedding, kept as buffers.

    LMLE mines its quintuplets with cluster memberships that stay fixed between
    two re-clusterings. Held as buffers of a module, they are saved with the
    module's state (skorch's ``Checkpoint``) and restored with it
    (``LoadInitState``); buffers of another shape are resized on loading. The
    clusters of all tasks are numbered together: centre ``k`` belongs to task
    ``center_tasks[k]`` (0 for class indices, the attribute for a 0/1 matrix) and
    to its class (value) ``center_labels[k]``.

    Attributes
    ----------
    centers : torch.Tensor of float64, shape (n_centers, n_embedding)
    center_labels, center_tasks : torch.LongTensor of shape (n_centers,)
    row_clusters : torch.LongTensor of shape (n_rows, n_tasks)
        The centre of every row the clusters were made for (or last assigned).

    Examples
    --------
    >>> import torch
    >>> from skimbal.losses._lmle import EmbeddingClusters
    >>> clusters = EmbeddingClusters()
    >>> clusters.store(torch.tensor([[0.0], [1.0], [5.0]]), torch.tensor([0, 0, 1]),
    ...                torch.tensor([0, 0, 0]), torch.tensor([[0], [1], [2]]))
    >>> clusters.assign(torch.tensor([[0.9], [0.9]]), torch.tensor([0, 1])).tolist()
    [1, 2]
    """

    def __init__(self):
        super().__init__()
        self.register_buffer("centers", torch.zeros(0, 0, dtype=torch.float64))
        self.register_buffer("center_labels", torch.zeros(0, dtype=torch.long))
        self.register_buffer("center_tasks", torch.zeros(0, dtype=torch.long))
        self.register_buffer("row_clusters", torch.zeros(0, 0, dtype=torch.long))

    @property
    def empty(self):
        """Whether no clusters are stored."""
        return len(self.center_labels) == 0

    def store(self, centers, center_labels, center_tasks, row_clusters):
        """Replace the clusters (tensors or arrays; moved to the buffers' device)."""
        device = self.centers.device
        self.centers = torch.as_tensor(centers, dtype=torch.float64).to(device)
        self.center_labels = torch.as_tensor(center_labels, dtype=torch.long).to(device)
        self.center_tasks = torch.as_tensor(center_tasks, dtype=torch.long).to(device)
        self.set_rows(row_clusters)

    def set_rows(self, row_clusters):
        """Replace the cluster of every row, shape (n_rows,) or (n_rows, n_tasks)."""
        rows = torch.as_tensor(row_clusters, dtype=torch.long).to(self.centers.device)
        self.row_clusters = rows[:, None] if rows.ndim == 1 else rows

    def holds_rows(self, target):
        """Whether ``row_clusters`` are those of rows with the labels ``target``."""
        labels = target.reshape(len(target), -1).to(self.center_labels.device)
        rows = self.row_clusters
        if self.empty or rows.shape != labels.shape:
            return False
        return bool((self.center_labels[rows] == labels).all())

    def assign(self, embedding, target):
        """The nearest centre of its own class, in every task, of every row.

        Parameters
        ----------
        embedding : torch.Tensor of shape (n_samples, n_embedding)
        target : torch.LongTensor of shape (n_samples,) or (n_samples, n_tasks)

        Returns
        -------
        cluster_ids : torch.LongTensor of the shape of ``target``
            Indices into ``centers``; ``target`` itself (one cluster per class)
            when no clusters are stored.
        """
        if self.empty:
            return target
        labels = target.reshape(len(target), -1)
        tasks = torch.arange(labels.shape[1], device=labels.device)
        own = (self.center_tasks == tasks[:, None])[None] & (
            self.center_labels[None, None, :] == labels[:, :, None]
        )
        distances = torch.cdist(embedding.float(), self.centers.to(embedding.device).float())
        distances = distances[:, None, :].masked_fill(~own, torch.inf)
        return distances.argmin(dim=2).reshape(target.shape)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # The number of centres (and of rows) changes from one clustering to the next.
        for name, buffer in self._buffers.items():
            value = state_dict.get(prefix + name)
            if isinstance(value, torch.Tensor) and value.shape != buffer.shape:
                self._buffers[name] = buffer.new_empty(value.shape)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
