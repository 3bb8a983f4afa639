"""CRL's per-epoch mining statistics in the history."""

from skorch.callbacks import Callback

__all__ = ["CRLStatistics"]


class CRLStatistics(Callback):
    """Record the hard-mining counts of the class rectification loss per epoch.

    After every training batch the callback adds up the criterion's
    ``mining_counts_`` (mined triplets, minority classes, skipped minority
    classes of the batch; :class:`skimbal.losses._crl.CRLCriterion`) on the
    device, without a synchronisation per batch, and at the end of the epoch
    records their sums in the history as ``crl_triplets``,
    ``crl_minority_classes`` and ``crl_skipped_classes``. Validation batches are
    not counted. :class:`skimbal.CRLClassifier` adds it as 'crl_statistics'.

    Attributes
    ----------
    epoch_counts_ : torch.LongTensor of shape (3,) or None
        The sums of the epoch in progress (None outside an epoch).

    Examples
    --------
    >>> import numpy as np
    >>> from skimbal import CRLClassifier
    >>> y = np.repeat([0, 1, 2], [60, 20, 10])
    >>> X = np.random.RandomState(0).normal(size=(90, 4)) + y[:, None]
    >>> clf = CRLClassifier(max_epochs=2, batch_size=-1, random_state=0).fit(X, y)
    >>> # One batch: minority classes 1 and 2, 30 anchors with 3 x 3 triplets each.
    >>> clf.history[-1, 'crl_minority_classes'], clf.history[-1, 'crl_triplets']
    (2, 270)
    """

    epoch_counts_ = None

    def on_epoch_begin(self, net, **kwargs):
        self.epoch_counts_ = None

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        counts = getattr(net.criterion_, "mining_counts_", None)
        if counts is None:
            raise ValueError(
                "CRLStatistics needs a criterion with mining_counts_ (CRLCriterion); "
                f"{type(net.criterion_).__name__} has none."
            )
        counts = counts.detach()
        self.epoch_counts_ = counts if self.epoch_counts_ is None else self.epoch_counts_ + counts

    def on_epoch_end(self, net, **kwargs):
        counts = self.epoch_counts_
        triplets, minority, skipped = [0, 0, 0] if counts is None else counts.tolist()
        net.history.record("crl_triplets", int(triplets))
        net.history.record("crl_minority_classes", int(minority))
        net.history.record("crl_skipped_classes", int(skipped))
        self.epoch_counts_ = None

    def on_train_end(self, net, **kwargs):
        self.epoch_counts_ = None
