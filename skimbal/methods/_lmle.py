"""Large Margin Local Embedding (Huang, Li, Loy and Tang, CVPR 2016)."""

import numbers

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score
from sklearn.utils import TransformerTags
from sklearn.utils.validation import check_is_fitted
from skorch.utils import to_numpy

from ._base import ImbalancedNetClassifier
from ._cluster_knn import ClusterKNNClassifier
from ._data import TensorDataset
from ._multilabel import MultiLabelMixin, mean_attribute_balanced_accuracy
from .callbacks._reclustering import PeriodicReclustering
from .losses._quintuplet import QuintupletLoss
from .nn import has_embedding

__all__ = ["LMLEClassifier"]


class _ClusteredDataset(TensorDataset):
    """The training split plus a cluster id per row, served with every batch.

    Batches carry ``{"y", "cluster_ids", "sample_weight"}`` as target once
    :class:`~skimbal.callbacks.PeriodicReclustering` has set ``cluster_ids``.
    """

    def __init__(self, X, y=None, sample_weight=None):
        super().__init__(X, y, sample_weight)
        self.cluster_ids = None

    def batch(self, index):
        X, target = super().batch(index)
        if self.cluster_ids is None:
            return X, target
        if isinstance(target, dict):
            target = dict(target)
        else:
            target = {"y": target, "sample_weight": None}
        target["cluster_ids"] = self.cluster_ids[index]
        return X, target


def _valid_knn_balanced_accuracy(net, X, y):
    """Balanced accuracy of the cluster-wise kNN on held-out data (encoded labels).

    The mean over the attributes for a multi-label target.
    """
    embedding = to_numpy(net.forward(X)[0]).astype(np.float64)
    y = to_numpy(y)
    if y.ndim == 2:
        predicted = np.stack([knn.predict(embedding) for knn in net.cluster_knn_], axis=1)
        return mean_attribute_balanced_accuracy(y, predicted)
    return balanced_accuracy_score(y, net.cluster_knn_.predict(embedding))


def _nearest_center(embedding, target, knn):
    """Index of the nearest centre of ``knn`` among those of each row's class."""
    centers = torch.as_tensor(knn.cluster_centers_, device=embedding.device)
    labels = torch.as_tensor(knn.cluster_labels_, device=embedding.device)
    distances = torch.cdist(embedding, centers.to(embedding.dtype))
    distances = distances.masked_fill(labels[None, :] != target[:, None], torch.inf)
    return distances.argmin(dim=1)


class LMLEClassifier(MultiLabelMixin, ImbalancedNetClassifier):
    """Large Margin Local Embedding with cluster-wise kNN prediction.

    LMLE (Huang et al., CVPR 2016) learns an embedding ``f(x)`` on the unit
    sphere (the L2-normalised output of the module's ``forward_features``) that
    keeps the local cluster structure of every class, so that a minority class
    is represented by a few tight clusters rather than drowned by the majority:

    1. every ``recluster_every`` epochs each class of the training split is
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
       of the module's head;
    3. after training the final embeddings are clustered once more and a
       :class:`ClusterKNNClassifier` on those clusters makes the predictions.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        Network following the embedding protocol (``forward_features`` /
        ``forward_head``, as :class:`skimbal.nn.MLP`, the default).
    margins : tuple of 3 floats, default=(0.05, 0.1, 0.2)
        ``(g1, g2, g3)`` of the quintuplet loss. Not published [unsure]; see
        :class:`~skimbal.losses.QuintupletLoss`.
    n_clusters_per_class : int, default=5
        k-means clusters per class (fewer for a class with fewer distinct
        embeddings). The paper does not fix it [unsure].
    cluster_size : int, default=None
        When given, class ``c`` gets ``ceil(n_c / cluster_size)`` clusters.
    n_neighbors : int, default=3
        Cluster centres retrieved by the kNN rule [unsure]; at most
        ``n_clusters_per_class`` works best (see :class:`ClusterKNNClassifier`).
    recluster_every : int, default=5
        Epochs between two re-clusterings (the paper re-clusters every 5,000
        iterations).
    ce_weight : float >= 0, default=0.0
        Weight of an added cross-entropy term on the head's logits. The paper
        trains with the quintuplet loss alone; a small value (0.1) can steady
        the first epochs when the initial embedding is poor.
    temperature : float > 0, default=0.2
        Softmax temperature of :meth:`predict_proba` (see
        :class:`ClusterKNNClassifier`).
    **kwargs
        Every parameter of :class:`ImbalancedNetClassifier`. Defaults changed
        here: ``sampler='class-balanced'`` (the paper draws equally many
        quintuplets per class) and ``criterion=QuintupletLoss``.

    Attributes
    ----------
    cluster_knn_ : ClusterKNNClassifier or list of them
        The kNN classifier on the clusters of the final training embeddings
        (fitted on encoded labels ``0 .. n_classes - 1``); one per attribute,
        on the encoded values 0 and 1, for a multi-label target.
    classes_, class_counts_, class_prior_, class_weight_, module_, history_
        As in :class:`ImbalancedNetClassifier`.

    See Also
    --------
    ClusterKNNClassifier : the prediction rule, usable on any features.
    CRLClassifier : class rectification loss, a faster hard-mining method.

    Notes
    -----
    ``class_weight`` and ``sample_weight`` weight each anchor's quintuplet loss
    (``sum_a w_a l_a / sum_a w_a`` over the anchors that have a term). Cluster
    memberships stay fixed between two re-clusterings; batches from a sampler
    that creates rows (``epoch_data``) and validation batches are assigned to
    the nearest centre of their class instead. ``valid_bacc`` in the history is
    the kNN rule with the latest clusters. The loss's hinge terms are mined
    within the batch, so a batch should hold a few samples per cluster: keep
    ``batch_size`` at least a few times ``n_classes * n_clusters_per_class``.

    **Multi-label targets.** A binary indicator matrix ``y`` (n_samples,
    n_attributes) is handled as in :class:`skimbal.CRLClassifier` (see
    ``MultiLabelMixin``): one shared embedding, each attribute a binary
    problem with its own per-value clusters and its own quintuplets; the loss
    is the mean over the attributes, ``ce_weight`` weights the per-attribute
    binary cross-entropy, and each attribute is predicted by its own
    cluster-wise kNN (``predict`` gives the matrix in the original values,
    ``predict_proba`` the probability of the high value, ``decision_function``
    the kNN score of each attribute). Class-aware samplers need one label per
    row, so a string ``sampler`` falls back to plain shuffling there.

    References
    ----------
    .. [1] C. Huang, Y. Li, C. C. Loy and X. Tang, "Learning Deep Representation
       for Imbalanced Classification", CVPR 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import LMLEClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LMLEClassifier(max_epochs=5, n_clusters_per_class=2, random_state=0)
    >>> clf.fit(X, y).transform(X[:2]).shape
    (2, 100)
    >>> clf.cluster_knn_.cluster_centers_.shape
    (6, 100)
    """

    def __init__(
        self,
        module=None,
        *,
        margins=(0.05, 0.1, 0.2),
        n_clusters_per_class=5,
        cluster_size=None,
        n_neighbors=3,
        recluster_every=5,
        ce_weight=0.0,
        temperature=0.2,
        **kwargs,
    ):
        kwargs.setdefault("criterion", QuintupletLoss)
        kwargs.setdefault("sampler", "class-balanced")
        super().__init__(module, **kwargs)
        self.margins = margins
        self.n_clusters_per_class = n_clusters_per_class
        self.cluster_size = cluster_size
        self.n_neighbors = n_neighbors
        self.recluster_every = recluster_every
        self.ce_weight = ce_weight
        self.temperature = temperature

    # ------------------------------------------------------------ parameters
    def _check_params(self):
        super()._check_params()
        ce_weight = self.ce_weight
        if isinstance(ce_weight, bool) or not isinstance(ce_weight, numbers.Real) or not (
            ce_weight >= 0
        ):
            raise ValueError(f"ce_weight must be a non-negative number, got {ce_weight!r}.")
        # The kNN classifier validates the remaining clustering parameters.
        self._cluster_knn().set_params(random_state=0)._validate_params()

    def _cluster_knn(self, random_state=None):
        return ClusterKNNClassifier(
            n_clusters_per_class=self.n_clusters_per_class,
            cluster_size=self.cluster_size,
            n_neighbors=self.n_neighbors,
            temperature=self.temperature,
            random_state=random_state,
        )

    def _criterion_params(self):
        return {"margins": self.margins}

    def initialize_criterion(self):
        """Build the quintuplet loss (also for multi-label targets)."""
        return ImbalancedNetClassifier.initialize_criterion(self)

    def _fitted_sampler(self):
        if getattr(self, "multilabel_", False) and isinstance(self.sampler, str):
            return None
        return super()._fitted_sampler()

    def get_iterator(self, dataset, training=False):
        """The base's iterator; a multi-label fit with a string sampler shuffles."""
        iterator = super().get_iterator(dataset, training=training)
        if training and getattr(iterator, "sampler", 0) is None and hasattr(iterator, "shuffle"):
            iterator.shuffle = True
        return iterator

    def initialize_module(self):
        """Build the module and check that it exposes an embedding."""
        super().initialize_module()
        if not has_embedding(self.module_):
            raise ValueError(
                "LMLEClassifier needs a module with forward_features and forward_head "
                f"(the embedding protocol of skimbal.nn.MLP); {type(self.module_).__name__} "
                "has not."
            )
        return self

    @property
    def _default_callbacks(self):
        callbacks = []
        for name, callback in super()._default_callbacks:
            if name == "valid_bacc":
                callback.scoring = _valid_knn_balanced_accuracy
            callbacks.append((name, callback))
            if name == "epoch_timer":
                callbacks.append(
                    ("reclustering", PeriodicReclustering(every=self.recluster_every))
                )
        return callbacks

    # --------------------------------------------------------------- training
    def get_split_datasets(self, X, y=None, **fit_params):
        """The training split as a dataset that also serves cluster ids."""
        train, valid = super().get_split_datasets(X, y, **fit_params)
        return _ClusteredDataset(train.X, train.y, train.sample_weight), valid

    def infer(self, x, **fit_params):
        """Forward a batch: ``(unit-norm embedding, logits of the head)``."""
        if not isinstance(x, torch.Tensor):
            return super().infer(x, **fit_params)
        features = self.module_.forward_features(x, **fit_params)
        embedding = torch.nn.functional.normalize(features, dim=1)
        return embedding, self.module_.forward_head(features)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Weighted mean quintuplet loss of the batch (plus ``ce_weight`` * CE)."""
        embedding, logits = y_pred
        sample_weight = cluster_ids = None
        target = y_true
        if isinstance(y_true, dict):
            target = y_true["y"]
            sample_weight = y_true.get("sample_weight")
            cluster_ids = y_true.get("cluster_ids")
        if cluster_ids is None:
            cluster_ids = self._nearest_own_cluster(embedding.detach(), target)
        if target.ndim == 1:
            loss = self._quintuplet_term(
                embedding, target, cluster_ids, self.class_weight_, sample_weight
            )
        else:
            class_weight = self.class_weight_
            loss = torch.stack([
                self._quintuplet_term(
                    embedding, target[:, a], cluster_ids[:, a],
                    None if class_weight is None else class_weight[a], sample_weight,
                )
                for a in range(target.shape[1])
            ]).mean()
        if self.ce_weight:
            loss = loss + self.ce_weight * self._cross_entropy_term(logits, target, sample_weight)
        return loss

    def _quintuplet_term(self, embedding, target, cluster_ids, class_weight, sample_weight):
        """``sum_a w_a l_a / sum_a w_a`` over the anchors that have a term."""
        per_anchor, has_term = self.criterion_.anchor_losses(embedding, target, cluster_ids)
        weight = has_term.to(per_anchor.dtype)
        if class_weight is not None:
            weight = weight * torch.as_tensor(class_weight, device=weight.device)[target]
        if sample_weight is not None:
            weight = weight * sample_weight
        return (weight * per_anchor).sum() / weight.sum().clamp_min(1e-12)

    def _cross_entropy_term(self, logits, target, sample_weight):
        if target.ndim == 2:
            return self._attribute_bce(logits, target, sample_weight)
        ce = torch.nn.functional.cross_entropy(logits, target, reduction="none")
        weight = torch.ones_like(ce) if sample_weight is None else sample_weight
        if self.class_weight_ is not None:
            weight = weight * torch.as_tensor(self.class_weight_, device=ce.device)[target]
        return (weight * ce).sum() / weight.sum().clamp_min(1e-12)

    def _nearest_own_cluster(self, embedding, target):
        """Cluster ids by the nearest current centre of each sample's own class."""
        knn = getattr(self, "cluster_knn_", None)
        if knn is None:
            return target
        if target.ndim == 2:
            return torch.stack(
                [_nearest_center(embedding, target[:, a], k) for a, k in enumerate(knn)], dim=1
            )
        return _nearest_center(embedding, target, knn)

    def _embed(self, X):
        """Unit-norm embeddings of a tensor of rows, in evaluation mode."""
        training = self.module_.training
        self.module_.eval()
        try:
            with torch.no_grad():
                chunks = [
                    self.infer(X[start:start + self.batch_size])[0]
                    for start in range(0, len(X), self.batch_size)
                ]
        finally:
            self.module_.train(training)
        return torch.cat(chunks)

    def recluster(self, dataset):
        """Cluster each class of ``dataset`` on the current embedding.

        Called by :class:`~skimbal.callbacks.PeriodicReclustering`; refits
        ``cluster_knn_`` on the embeddings of ``dataset`` (the training split).

        Parameters
        ----------
        dataset : TensorDataset
            Rows and encoded labels.

        Returns
        -------
        cluster_ids : torch.LongTensor of shape (n_rows,) or (n_rows, n_attributes)
            Index of each row's cluster in ``cluster_knn_.cluster_centers_`` (per
            attribute for a multi-label target), on the dataset's device.
        """
        # float64 so that the kNN distances do not depend on the query batch.
        embedding = to_numpy(self._embed(dataset.X)).astype(np.float64)
        y = to_numpy(dataset.y)
        if y.ndim == 2:
            knns = [self._fit_knn(embedding, y[:, a]) for a in range(y.shape[1])]
            self.cluster_knn_ = knns
            cluster_ids = np.stack([knn.train_clusters_ for knn in knns], axis=1)
        else:
            self.cluster_knn_ = self._fit_knn(embedding, y)
            cluster_ids = self.cluster_knn_.train_clusters_
        return torch.as_tensor(cluster_ids, device=dataset.X.device)

    def _fit_knn(self, embedding, y):
        # Seeded from torch's generator, which ``fit`` seeds from random_state.
        seed = int(torch.randint(np.iinfo(np.int32).max, (1,)))
        return self._cluster_knn(seed).fit(embedding, y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # ``transform`` gives the float32 embedding whatever the input dtype.
        tags.transformer_tags = TransformerTags(preserves_dtype=["float32"])
        return tags

    # -------------------------------------------------------------- prediction
    def transform(self, X):
        """Unit-norm embedding of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        embedding : ndarray of float32, shape (n_samples, n_embedding)
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return to_numpy(self._embed(self._to_device(X)))

    def fit_transform(self, X, y, sample_weight=None, **fit_params):
        """Fit, then return the embedding of ``X``.

        Parameters
        ----------
        X, y, sample_weight, **fit_params
            As in :meth:`fit`.

        Returns
        -------
        embedding : ndarray of float32, shape (n_samples, n_embedding)
        """
        return self.fit(X, y, sample_weight=sample_weight, **fit_params).transform(X)

    def _knn_outputs(self, X, method):
        """``method`` of the kNN on the embedding of ``X``; per attribute, stacked."""
        embedding = self.transform(X).astype(np.float64)
        if getattr(self, "multilabel_", False):
            return np.stack(
                [getattr(knn, method)(embedding) for knn in self.cluster_knn_], axis=1
            )
        return getattr(self.cluster_knn_, method)(embedding)

    def decision_function(self, X):
        """Normalised kNN margins (see :class:`ClusterKNNClassifier`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), (n_samples,) for two
            classes, or (n_samples, n_attributes) for a multi-label target.
        """
        return self._knn_outputs(X, "decision_function")

    def predict_proba(self, X):
        """``softmax(margins / temperature)`` of the cluster-wise kNN.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), or (n_samples,
            n_attributes) for a multi-label target (probability of the high
            value of each attribute).
        """
        if getattr(self, "multilabel_", False):
            return self._knn_outputs(X, "predict_proba")[:, :, 1]
        return self._knn_outputs(X, "predict_proba")

    def predict(self, X):
        """Labels from the cluster-wise kNN rule on the embedding.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,), or (n_samples, n_attributes) in
            the original values for a multi-label target.
        """
        index = self._knn_outputs(X, "predict")
        if getattr(self, "multilabel_", False):
            return self.label_values_[index]
        return self.classes_[index]
