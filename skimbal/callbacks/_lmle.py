"""Periodic re-clustering of a learned embedding (LMLE)."""

import numbers
import time

from sklearn.utils._param_validation import Interval

from .._core.schedule import current_epoch, resolve_epoch
from ._schedule import EPOCH_CONSTRAINT, EpochSchedule

__all__ = ["PeriodicReclustering"]


class PeriodicReclustering(EpochSchedule):
    """Re-cluster the training embeddings every few epochs and once at the end.

    LMLE mines its quintuplets with cluster memberships that are recomputed by
    per-class k-means on the current embedding from time to time (Huang et al.,
    CVPR 2016, Sec. 3.2: every 5,000 iterations). This schedule asks the net to
    re-cluster the rows of its training split at the start of the history epochs
    ``start, start + every, start + 2 * every, ...`` and a last time when training
    ends, so that prediction uses clusters of the final embedding. The epoch is
    read from the history, so ``partial_fit``, ``warm_start`` and a run resumed
    from a checkpoint keep the rhythm.

    **Warm-up.** Before epoch ``start`` nothing is clustered and the criterion
    trains the network for classification alone (its attribute ``warmup`` is set
    True, see :class:`skimbal.losses._lmle.LMLECriterion`): LMLE starts from an
    embedding with structure, as the paper starts from a network trained for
    classification. Hard-mined hinge losses from a random embedding can collapse
    every row onto one point, where their gradients vanish.

    The cluster ids of the training rows go to the training dataset's extras
    (``dataset_train.extras['cluster_ids']``), which every batch carries in its
    :class:`~skimbal._core.batch.Target`. At the first epoch of a fit call that is
    not a re-clustering epoch the net assigns the rows to the stored clusters
    (the ids the clusters were made with when the rows are the same, as after
    resuming from a checkpoint; else the nearest centre of their class).

    The net provides ``recluster(dataset, epoch)``, which clusters the rows of a
    dataset and returns their ids, and ``assign_clusters(dataset)``, which returns
    the ids under the stored clusters or None when there are none (see
    :class:`skimbal.LMLEClassifier`). The time spent re-clustering is recorded in
    the history as ``recluster_dur`` (0 for the other epochs; it is part of the
    epoch's ``dur``). No reference to the data is kept between epochs.

    Parameters
    ----------
    every : int >= 1 or float in (0, 1), default=5
        Epochs between two re-clusterings, or that interval as a fraction of the
        planned epochs (``net.max_epochs_``; at least one epoch).
    start : int >= 0 or float in (0, 1), default=0
        First clustered epoch, the end of the warm-up: an epoch index, or a
        fraction of the planned epochs (``net.max_epochs_``).

    Attributes
    ----------
    start_epoch_ : int
        ``start`` as an epoch index, for the current run.
    every_epochs_ : int
        ``every`` in epochs, for the current run.

    Examples
    --------
    >>> from skimbal.callbacks import PeriodicReclustering
    >>> schedule = PeriodicReclustering(every=3, start=2)
    >>> [schedule.reclusters_at(epoch) for epoch in range(7)]
    [False, False, True, False, False, True, False]
    """

    _parameter_constraints = {
        "every": [Interval(numbers.Integral, 1, None, closed="left"),
                  Interval(numbers.Real, 0, 1, closed="neither")],
        "start": EPOCH_CONSTRAINT,
    }

    def __init__(self, every=5, start=0):
        self.every = every
        self.start = start

    def reclusters_at(self, epoch):
        """Whether history epoch ``epoch`` (0-based) starts with a re-clustering."""
        start = getattr(self, "start_epoch_", None)
        if start is None:
            start = resolve_epoch(self.start, name="start")
        every = getattr(self, "every_epochs_", None)
        if every is None:
            every = resolve_epoch(self.every, name="every")
        return epoch >= start and (epoch - start) % every == 0

    def on_train_begin(self, net, **kwargs):
        self.start_epoch_ = self.epoch_of(self.start, net)
        self.every_epochs_ = max(1, self.epoch_of(self.every, net, name="every"))

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        self.apply(net, current_epoch(net), dataset_train)

    def apply(self, net, epoch, dataset_train=None):
        """Re-cluster (or restore the clusters of) ``dataset_train`` at ``epoch``."""
        if dataset_train is None:
            return
        warmup = epoch < self.start_epoch_
        net.criterion_.warmup = warmup
        if warmup:
            net.history.record("recluster_dur", 0.0)
            return
        extras = getattr(dataset_train, "extras", None)
        if extras is None:
            raise ValueError(
                "PeriodicReclustering serves cluster ids through skimbal's TensorDataset; "
                f"the training dataset is a {type(dataset_train).__name__}."
            )
        duration = 0.0
        reclusters = self.reclusters_at(epoch)
        if not reclusters and "cluster_ids" not in extras:
            cluster_ids = net.assign_clusters(dataset_train)
            if cluster_ids is None:  # nothing stored yet: cluster now
                reclusters = True
            else:
                extras["cluster_ids"] = cluster_ids
        if reclusters:
            start = time.perf_counter()
            extras["cluster_ids"] = net.recluster(dataset_train, epoch)
            duration = time.perf_counter() - start
        net.history.record("recluster_dur", duration)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        dataset_train, _ = net.get_split_datasets(X, y)
        net.recluster(dataset_train, len(net.history))
