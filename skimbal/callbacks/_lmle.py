"""Periodic re-clustering of a learned embedding (LMLE)."""

import numbers
import time

from skorch.callbacks import Callback

__all__ = ["PeriodicReclustering"]


class PeriodicReclustering(Callback):
    """Re-cluster the training embeddings every few epochs and once at the end.

    LMLE mines its quintuplets with cluster memberships that are recomputed
    by per-class k-means on the current embedding from time to time (Huang et
    al., CVPR 2016, Sec. 3.2: every 5,000 iterations). This callback asks the
    net to do it at the start of epochs ``0, every, 2 * every, ...`` of each
    ``fit`` and a last time when training ends, so that prediction uses
    clusters of the final embedding.

    The net must have a method ``recluster(dataset)`` that clusters the rows
    of the training dataset and returns their cluster ids (see
    :class:`skimbal.LMLEClassifier`); when the training dataset has an
    attribute ``cluster_ids`` the callback stores them there, where the batches
    pick them up. The time spent is recorded in the history as
    ``recluster_dur`` (and is part of the epoch's ``dur``).

    Parameters
    ----------
    every : int, default=5
        Epochs between two re-clusterings.

    Examples
    --------
    >>> from skimbal.callbacks import PeriodicReclustering
    >>> schedule = PeriodicReclustering(every=3)
    >>> [schedule.reclusters_at(epoch) for epoch in range(5)]
    [True, False, False, True, False]
    """

    def __init__(self, every=5):
        self.every = every

    def initialize(self):
        every = self.every
        if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
            raise ValueError(f"every must be a positive int, got {every!r}.")
        self.epochs_done_ = 0
        return self

    def reclusters_at(self, epoch):
        """Whether epoch ``epoch`` (0-based, counted within one fit) re-clusters."""
        return epoch % self.every == 0

    def _recluster(self, net, dataset):
        start = time.perf_counter()
        cluster_ids = net.recluster(dataset)
        if hasattr(dataset, "cluster_ids"):
            dataset.cluster_ids = cluster_ids
        return time.perf_counter() - start

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.epochs_done_ = 0

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        duration = 0.0
        if self.reclusters_at(self.epochs_done_):
            duration = self._recluster(net, dataset_train)
        net.history.record("recluster_dur", duration)
        self.epochs_done_ += 1

    def on_train_end(self, net, X=None, y=None, **kwargs):
        train = getattr(X, "train", X)
        self._recluster(net, train)
