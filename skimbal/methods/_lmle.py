"""Large Margin Local Embedding (Huang, Li, Loy and Tang, CVPR 2016).

The estimator wires together the unit-norm embedding (a
:class:`~skimbal._core.batch.ModelOutput`), the objective
(:class:`skimbal.losses._lmle.LMLECriterion`), the per-class clusters (buffers of
the module, :class:`skimbal.losses._lmle.EmbeddingClusters`), their schedule
(:class:`skimbal.callbacks.PeriodicReclustering`) and the kNN that predicts.
"""

import inspect
import numbers

import numpy as np
import torch
from sklearn.utils import TransformerTags
from sklearn.utils._param_validation import Interval
from skorch.utils import to_numpy

from .._core.base import ImbalancedNetClassifier
from .._core.batch import ModelOutput, as_model_output, as_target
from .._core.components import check_finite_outputs
from .._core.docstrings import substitute_docstring
from .._core.random import epoch_seed
from ..callbacks import PeriodicReclustering
from ..callbacks._schedule import EPOCH_CONSTRAINT
from ..losses import QuintupletLoss
from ..losses._lmle import EmbeddingClusters, LMLECriterion
from ..nn import has_embedding
from ._cluster_knn import ClusterKNNClassifier, per_class_kmeans

__all__ = ["LMLEClassifier"]


@substitute_docstring
class LMLEClassifier(ImbalancedNetClassifier):
    """Large Margin Local Embedding with cluster-wise kNN prediction.

    LMLE (Huang et al., CVPR 2016) learns an embedding ``f(x)`` on the unit
    sphere (the L2-normalised output of the module's ``forward_features``) that
    keeps the local cluster structure of every class, so that a minority class
    is represented by a few tight clusters rather than drowned by the majority:

    0. for the first ``warmup`` epochs the network is trained for classification
       alone (cross-entropy of the head), so that the embedding has structure
       when the first clusters are made (the paper starts from a network trained
       for classification);
    1. then every ``recluster_every`` epochs each class of the training split is
       clustered by k-means on the current embeddings
       (:class:`~skimbal.callbacks.PeriodicReclustering`);
    2. the network is trained on class-balanced batches with the quintuplet
       loss (:class:`~skimbal.losses.QuintupletLoss`), with ``D`` the squared
       distance on the sphere,

       .. math::

           [g_1 + D(a,p^+) - D(a,p^-)]_+ + [g_2 + D(a,p^-) - D(a,p^{--})]_+
           + [g_3 + D(a,p^{--}) - D(a,n)]_+,

       where for anchor ``a``, ``p+`` is the farthest sample of its cluster,
       ``p-`` the nearest sample of its class in another cluster, ``p--`` the
       farthest sample of its class and ``n`` the nearest sample of another
       class (mined in the batch), plus ``ce_weight`` times the cross-entropy
       of the module's head (:class:`~skimbal.losses._lmle.LMLECriterion`);
    3. after training the final embeddings are clustered once more and a
       :class:`ClusterKNNClassifier` on those clusters makes the predictions.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        Network following the embedding protocol (``forward_features`` /
        ``forward_head``, as :class:`skimbal.nn.MLP`, the default).
    criterion : torch.nn.Module class or instance, default=QuintupletLoss
        The embedding loss: any loss with ``anchor_losses(embeddings, labels,
        cluster_ids)``; a class gets ``margins`` and the ``criterion__*`` parameters.
    sampler : str or sampler object, default='class-balanced'
        The paper draws equally many quintuplets per class. Class-aware samplers
        need one label per row: for a multi-label ``y`` the default
        'class-balanced' shuffles instead (``sampler_`` is then None).
    margins : tuple of 3 floats, default=(0.05, 0.1, 0.2)
        ``(g1, g2, g3)`` of the quintuplet loss. Not published [unsure]; see
        :class:`~skimbal.losses.QuintupletLoss`.
    n_clusters_per_class : int >= 1, default=5
        k-means clusters per class when ``cluster_size`` is None.
    cluster_size : int >= 1 or None, default=20
        Class ``c`` gets ``ceil(n_c / cluster_size)`` clusters of about equal
        size (a rare class few, a frequent one many) [unsure: the paper's
        size]. A fixed number per class instead makes a rare class's clusters
        single rows that the kNN rule retrieves everywhere (see the user guide).
    n_neighbors : int >= 1, default=20
        Cluster centres retrieved by the kNN rule [unsure]
        (:class:`ClusterKNNClassifier`).
    recluster_every : int >= 1 or float in (0, 1), default=0.05
        Epochs between two re-clusterings, or that interval as a fraction of the
        planned epochs: 0.05 re-clusters about ten times in the half of the run after
        the warm-up (the paper re-clusters every 5,000 iterations of a long run;
        re-clustering every few epochs of a short run costs more than it brings);
        the ``every`` of the callback 'reclustering'.
    warmup : int >= 0 or float in (0, 1), default=0.5
        Epochs of classification training before the first clustering, an
        epoch index or a fraction of the run (``max_epochs_``); the ``start`` of
        the callback 'reclustering'. 0 starts the quintuplet loss on the random
        initial embedding, which hard mining can collapse onto one point (see
        the user guide).
    ce_weight : float >= 0, default=1.0
        Weight of the cross-entropy of the head after the warm-up. The paper
        fine-tunes a network trained for classification with the quintuplet
        loss alone; from scratch, on classes that overlap, the hard-mined loss
        alone collapses the embedding (user guide), and this term keeps it
        apart. 0 is the paper's objective.
    temperature : float > 0, default=0.2
        Softmax temperature of :meth:`predict_proba` (see
        :class:`ClusterKNNClassifier`).
    {net_params}

    Attributes
    ----------
    cluster_knn_ : ClusterKNNClassifier or list of them
        The kNN classifier on the latest clusters (after training: those of the
        final training embeddings), on the encoded labels ``0 .. n_classes - 1``;
        one per attribute, on the encoded values 0 and 1, for a multi-label target.
    module_ : torch.nn.Module
        The network; its child ``lmle_clusters``
        (:class:`~skimbal.losses._lmle.EmbeddingClusters`) holds the latest
        clusters as buffers, so a checkpoint of the module restores them.
    criterion_ : LMLECriterion
        The objective; ``criterion_.embedding_loss`` is the quintuplet loss.
    classes_, class_counts_, class_prior_, class_weight_, history_
        As in :class:`skimbal.ImbalancedNetClassifier`.

    See Also
    --------
    ClusterKNNClassifier : the prediction rule, usable on any features.
    CRLClassifier : class rectification loss, a faster hard-mining method.

    Notes
    -----
    ``class_weight`` and ``sample_weight`` weight each anchor's quintuplet loss
    (``sum_a w_a l_a / sum_a w_a`` over the anchors with a term) and the
    cross-entropy. Memberships stay fixed between re-clusterings; rows without
    one (created by an ``epoch_data`` sampler, validation rows) join the nearest
    centre of their class. ``valid_bacc`` is the kNN rule on the latest clusters
    (the head's prediction before the first). Partners are mined in the batch:
    keep ``batch_size`` a few times the number of clusters it should cover. The
    k-means of epoch ``e`` is seeded from ``(seed_, e)``, so a resumed run
    re-clusters as an uninterrupted one.

    **Multi-label targets.** An indicator matrix ``y`` trains one shared
    embedding; every attribute is a binary problem with its own clusters,
    quintuplets (the loss is their mean), binary cross-entropy and cluster-wise
    kNN (``predict`` gives the matrix, ``predict_proba`` the probability of each
    attribute's high value).

    References
    ----------
    .. [1] C. Huang, Y. Li, C. C. Loy and X. Tang, "Learning Deep Representation
       for Imbalanced Classification", CVPR 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import LMLEClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LMLEClassifier(max_epochs=5, random_state=0)
    >>> clf.fit(X, y).transform(X[:2]).shape
    (2, 100)
    >>> clf.cluster_knn_.cluster_centers_.shape  # ceil(50 / 20) clusters per class
    (9, 100)
    """

    _parameter_constraints = {
        **ImbalancedNetClassifier._parameter_constraints,
        "margins": ["array-like"],
        "n_clusters_per_class": [Interval(numbers.Integral, 1, None, closed="left")],
        "cluster_size": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "n_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
        "recluster_every": [Interval(numbers.Integral, 1, None, closed="left"),
                            Interval(numbers.Real, 0, 1, closed="neither")],
        "warmup": EPOCH_CONSTRAINT,
        "ce_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "temperature": [Interval(numbers.Real, 0, None, closed="neither")],
    }
    accepts_multilabel = True

    def __init__(
        self, module=None, *, criterion=QuintupletLoss, sampler="class-balanced",
        margins=(0.05, 0.1, 0.2), n_clusters_per_class=5, cluster_size=20, n_neighbors=20,
        recluster_every=0.05, warmup=0.5, ce_weight=1.0, temperature=0.2, **kwargs,
    ):
        super().__init__(module, criterion=criterion, sampler=sampler, **kwargs)
        self.margins = margins
        self.n_clusters_per_class = n_clusters_per_class
        self.cluster_size = cluster_size
        self.n_neighbors = n_neighbors
        self.recluster_every = recluster_every
        self.warmup = warmup
        self.ce_weight = ce_weight
        self.temperature = temperature

    # ------------------------------------------------------------ components
    @property
    def _default_callbacks(self):
        callbacks = list(super()._default_callbacks)
        # After the epoch timer: re-clustering counts in the epoch's duration.
        position = [name for name, _ in callbacks].index("epoch_timer") + 1
        schedule = PeriodicReclustering(self.recluster_every, start=self.warmup)
        callbacks.insert(position, ("reclustering", schedule))
        return callbacks

    def initialize_callbacks(self):
        routed = self.get_params_for("callbacks__reclustering")
        for key, own in (("every", "recluster_every"), ("start", "warmup")):
            if key in routed and routed[key] != getattr(self, own):
                raise ValueError(
                    f"callbacks__reclustering__{key}={routed[key]!r} conflicts with {own}="
                    f"{getattr(self, own)!r}; set {own} only."
                )
        return super().initialize_callbacks()

    def initialize_module(self):
        """Build the module, check its embedding and give it the cluster buffers."""
        super().initialize_module()
        if not has_embedding(self.module_):
            raise ValueError(
                "LMLEClassifier needs a module with forward_features and forward_head "
                f"(the embedding protocol of skimbal.nn.MLP); {type(self.module_).__name__} "
                "has not."
            )
        self.module_.add_module("lmle_clusters", EmbeddingClusters())
        return self

    def criterion_params(self):
        return {**super().criterion_params(), "margins": self.margins}

    def initialize_criterion(self):
        """Build the embedding loss (``criterion``) and the objective around it."""
        super().initialize_criterion()
        weight = getattr(self, "class_weight_", None)
        self.criterion_ = LMLECriterion(self.criterion_, self.ce_weight, weight)
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """For a multi-label ``y`` the default class-balanced sampler becomes shuffling."""
        super().on_train_begin(net, X=X, y=y, **kwargs)
        default = inspect.signature(type(self).__init__).parameters["sampler"].default
        if self.multilabel_ and isinstance(self.sampler, str) and self.sampler == default:
            self.sampler_ = None

    # --------------------------------------------------------------- training
    def _clusters(self):
        return self.module_.lmle_clusters

    def infer(self, x, **fit_params):
        """Forward a batch: ``ModelOutput(logits of the head, unit-norm embedding)``."""
        if not isinstance(x, torch.Tensor):
            return super().infer(x, **fit_params)
        features = self.module_.forward_features(x, **fit_params)
        embedding = torch.nn.functional.normalize(features, dim=1)
        return ModelOutput(self.module_.forward_head(features), embedding)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The objective of a batch; rows without cluster ids join their nearest centre."""
        output, target = as_model_output(y_pred), as_target(y_true)
        if output.embedding is None:
            raise ValueError("LMLEClassifier's loss needs the embedding of the batch.")
        y = target.y.to(output.embedding.device)
        cluster_ids = target.extras.get("cluster_ids")
        if cluster_ids is None:
            cluster_ids = self._clusters().assign(output.embedding.detach(), y)
        return self.criterion_(output.embedding, y, cluster_ids, logits=output.logits,
                               sample_weight=target.sample_weight)

    def recluster(self, dataset, epoch):
        """Cluster each class of ``dataset`` (per attribute) on the current embedding.

        Called by :class:`~skimbal.callbacks.PeriodicReclustering` with the
        training split and the history epoch (k-means is seeded from ``(seed_,
        epoch)``). Stores the clusters in the module, refits ``cluster_knn_`` and
        returns every row's cluster index (a LongTensor of the labels' shape).
        """
        # float64 so that the kNN distances do not depend on the query batch.
        embedding = to_numpy(self._embedding(dataset)).astype(np.float64)
        labels = to_numpy(dataset.y).reshape(len(dataset), -1)
        rng = np.random.RandomState(epoch_seed(self.seed_, epoch, "lmle clusters"))
        centers, center_labels, center_tasks = [], [], []
        rows = np.empty(labels.shape, dtype=np.int64)
        for task in range(labels.shape[1]):
            task_centers, task_labels, task_rows = per_class_kmeans(
                embedding, labels[:, task], n_clusters_per_class=self.n_clusters_per_class,
                cluster_size=self.cluster_size, random_state=rng,
            )
            rows[:, task] = task_rows + sum(len(c) for c in centers)
            centers.append(task_centers)
            center_labels.append(task_labels)
            center_tasks.append(np.full(len(task_centers), task))
        self._clusters().store(np.concatenate(centers), np.concatenate(center_labels),
                               np.concatenate(center_tasks), rows)
        self.cluster_knn_ = self._knn_of_clusters()
        return torch.as_tensor(rows.reshape(dataset.y.shape), device=dataset.y.device)

    def assign_clusters(self, dataset):
        """Cluster ids of the rows of ``dataset`` under the stored clusters.

        The ids the clusters were made with when the rows are those (same number
        and labels, as after resuming from a checkpoint); else the nearest centre
        of each row's class on the current embedding. Refits ``cluster_knn_`` on
        the stored clusters.

        Returns
        -------
        cluster_ids : torch.LongTensor or None
            As :meth:`recluster`; None when no clusters are stored.
        """
        clusters = self._clusters()
        if clusters.empty:
            return None
        y = dataset.y
        if not clusters.holds_rows(y):
            clusters.set_rows(clusters.assign(self._embedding(dataset), y))
        self.cluster_knn_ = self._knn_of_clusters()
        return clusters.row_clusters.reshape(y.shape).to(y.device)

    def _knn_of_clusters(self):
        """The cluster-wise kNN (one per attribute) on the stored clusters."""
        clusters = self._clusters()
        centers = to_numpy(clusters.centers)
        labels, tasks = to_numpy(clusters.center_labels), to_numpy(clusters.center_tasks)
        rows = to_numpy(clusters.row_clusters)
        params = {name: getattr(self, name) for name in (
            "n_clusters_per_class", "cluster_size", "n_neighbors", "temperature")}
        n_classes = 2 if self.multilabel_ else len(self.classes_)
        knns = []
        for task in range(rows.shape[1]):
            members = np.flatnonzero(tasks == task)
            knns.append(ClusterKNNClassifier.from_clusters(
                centers[members], labels[members], classes=np.arange(n_classes),
                train_clusters=rows[:, task] - members[0], **params,
            ))
        return knns if self.multilabel_ else knns[0]

    def _embedding(self, X):
        """Unit-norm embeddings of ``X`` (an array or a dataset), on the device."""
        dataset = self._forward_dataset(X)
        return check_finite_outputs(torch.cat([
            as_model_output(output).embedding for output in self.forward_iter(dataset, device=None)
        ]), "the embedding")

    # ------------------------------------------------------------- prediction
    def _knn_outputs(self, X, method):
        """``method`` of the kNN on the embedding of ``X``; per attribute, stacked."""
        embedding = to_numpy(self._embedding(X)).astype(np.float64)
        if self.multilabel_:
            return np.stack([getattr(knn, method)(embedding) for knn in self.cluster_knn_], 1)
        return getattr(self.cluster_knn_, method)(embedding)

    def _clustered(self):
        """Whether the kNN exists (before the first clustering, the head predicts)."""
        self.check_is_fitted()
        return getattr(self, "cluster_knn_", None) is not None

    def decision_scores(self, X):
        """The kNN margins of every class (the binary score of every attribute)."""
        if not self._clustered():
            return super().decision_scores(X)
        method = "decision_function" if getattr(self, "multilabel_", False) else "class_margins"
        return torch.as_tensor(self._knn_outputs(X, method))

    def predict_encoded(self, X):
        """The cluster-wise kNN rule on the embedding (encoded labels)."""
        return self._knn_outputs(X, "predict") if self._clustered() else super().predict_encoded(X)

    def predict_proba(self, X):
        """``softmax(margins / temperature)`` of the kNN, shape (n_samples, n_classes).

        For a multi-label target (n_samples, n_attributes): the probability of
        the high value of each attribute.
        """
        if not self._clustered():
            return super().predict_proba(X)
        proba = self._knn_outputs(X, "predict_proba")
        return proba[:, :, 1] if proba.ndim == 3 else proba

    def transform(self, X):
        """Unit-norm embedding of ``X``, float32 of shape (n_samples, n_embedding)."""
        self.check_is_fitted()
        return to_numpy(self._embedding(X))

    def fit_transform(self, X, y, sample_weight=None, **fit_params):
        """Fit, then return the embedding of ``X`` (see :meth:`fit`, :meth:`transform`)."""
        return self.fit(X, y, sample_weight=sample_weight, **fit_params).transform(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # ``transform`` gives the float32 embedding whatever the input dtype.
        tags.transformer_tags = TransformerTags(preserves_dtype=["float32"])
        # The default class-balanced sampler gives way to shuffling for multi-label y.
        tags.classifier_tags.multi_label = self.sampler in (None, "class-balanced")
        return tags
