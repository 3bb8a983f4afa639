"""Cluster-wise k-nearest-neighbour classification (the LMLE-kNN rule)."""

import math
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.extmath import softmax
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["ClusterKNNClassifier", "per_class_kmeans"]


def per_class_kmeans(X, y, *, n_clusters_per_class=5, cluster_size=None, random_state=None):
    """Cluster every class on its own with k-means.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Points to cluster.
    y : ndarray of int, shape (n_samples,)
        Encoded labels ``0 .. n_classes - 1``; every class present is clustered.
    n_clusters_per_class : int, default=5
        Clusters of each class, when ``cluster_size`` is None.
    cluster_size : int, default=None
        When given, class ``c`` gets ``ceil(n_c / cluster_size)`` clusters.
    random_state : int, RandomState instance or None, default=None
        Seeds k-means.

    Returns
    -------
    centers : ndarray of shape (n_centers, n_features)
        Cluster centres, grouped by class in increasing label order.
    center_labels : ndarray of int64, shape (n_centers,)
        Encoded label of each centre.
    sample_clusters : ndarray of int64, shape (n_samples,)
        Index into ``centers`` of the cluster of each sample.

    Notes
    -----
    A class never gets more clusters than it has distinct points, so a class
    smaller than a cluster, or a class with a single sample, gets fewer
    clusters (one, centred on its mean, in the extreme case).
    """
    rng = check_random_state(random_state)
    centers, center_labels = [], []
    sample_clusters = np.empty(len(y), dtype=np.int64)
    offset = 0
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        points = X[members]
        if cluster_size is None:
            wanted = n_clusters_per_class
        else:
            wanted = math.ceil(len(members) / cluster_size)
        n_distinct = len(np.unique(points, axis=0)) if wanted > 1 else 1
        n_clusters = max(1, min(wanted, n_distinct))
        seed = rng.randint(np.iinfo(np.int32).max)
        if n_clusters == 1:
            class_centers = points.mean(axis=0, keepdims=True)
            assignment = np.zeros(len(members), dtype=np.int64)
        else:
            kmeans = KMeans(n_clusters=n_clusters, n_init=1, random_state=seed).fit(points)
            class_centers = kmeans.cluster_centers_
            assignment = kmeans.labels_.astype(np.int64)
        centers.append(class_centers.astype(X.dtype, copy=False))
        center_labels.append(np.full(len(class_centers), label, dtype=np.int64))
        sample_clusters[members] = assignment + offset
        offset += len(class_centers)
    return np.concatenate(centers), np.concatenate(center_labels), sample_clusters


def cluster_knn_margins(distances, neighbor_labels, n_classes):
    """LMLE's per-class margins from the sorted distances to the k nearest centres.

    Parameters
    ----------
    distances : ndarray of shape (n_queries, k)
        Squared distances to the retrieved centres, ascending along each row.
    neighbor_labels : ndarray of int, shape (n_queries, k)
        Encoded class of each retrieved centre.
    n_classes : int
        Number of classes.

    Returns
    -------
    margins : ndarray of float64, shape (n_queries, n_classes)
        Normalised margins in ``[-1, 1]`` (see :class:`ClusterKNNClassifier`).
    retrieved : ndarray of bool, shape (n_queries, n_classes)
        Whether each class has at least one retrieved centre.
    """
    distances = np.asarray(distances, dtype=np.float64)
    n_queries, k = distances.shape
    rows = np.repeat(np.arange(n_queries), k)
    labels = neighbor_labels.ravel()
    # Farthest retrieved centre of each class (-inf when none was retrieved).
    farthest_own = np.full((n_queries, n_classes), -np.inf)
    np.maximum.at(farthest_own, (rows, labels), distances.ravel())
    retrieved = np.isfinite(farthest_own)
    # Nearest retrieved centre of another class: the first neighbour for every
    # class but the first neighbour's own, which takes its first other-class hit.
    first_label = neighbor_labels[:, 0]
    other = neighbor_labels != first_label[:, None]
    unanimous = ~other.any(axis=1)
    first_other = distances[np.arange(n_queries), other.argmax(axis=1)]
    nearest_other = np.repeat(distances[:, :1], n_classes, axis=1)
    nearest_other[np.arange(n_queries), first_label] = first_other
    radius = distances[:, -1:]
    scale = np.where(radius > 0, radius, 1.0)
    margins = np.where(retrieved, (nearest_other - farthest_own) / scale, -1.0)
    margins[unanimous] = -1.0
    margins[unanimous, first_label[unanimous]] = 1.0
    return margins, retrieved


class ClusterKNNClassifier(ClassifierMixin, BaseEstimator):
    """Cluster-wise k-nearest-neighbour classifier of LMLE.

    Each class is clustered on its own with k-means; a query is classified from
    its ``n_neighbors`` nearest cluster centres (Huang et al., 2016, Sec. 3.3).
    With ``D`` the squared Euclidean distance: if all retrieved centres belong
    to one class, that class wins outright; otherwise the prediction is

    .. math::

        \\arg\\max_c \\Big[\\min_{j \\in R, y_j \\ne c} D(q, \\mu_j)
                        - \\max_{j \\in R, y_j = c} D(q, \\mu_j)\\Big]

    over the classes ``c`` with a retrieved centre, ``R`` being the retrieved
    clusters. Working with cluster centres rather than samples keeps every
    class, however small, represented by a few local modes, so minority
    classes are not outvoted by the sheer number of majority samples.

    Parameters
    ----------
    n_clusters_per_class : int, default=5
        k-means clusters per class (used when ``cluster_size`` is None). The
        paper leaves the number open [unsure]; a class with fewer distinct
        points gets one cluster per distinct point.
    cluster_size : int, default=None
        When given, class ``c`` gets ``ceil(n_c / cluster_size)`` clusters
        instead, so large classes get more clusters than small ones.
    n_neighbors : int, default=3
        Number ``k`` of nearest cluster centres retrieved (capped at the number
        of centres). The paper does not fix it [unsure]. The margin rule charges
        a class for its farthest retrieved centre: with a fixed number of
        clusters per class keep ``k`` at most ``n_clusters_per_class``, or a
        query deep inside a class can lose to a small neighbouring one; with
        ``cluster_size`` (frequent classes get many clusters) a larger ``k`` is
        safe (LMLE's defaults: 20 and 20; see the user guide).
    temperature : float, default=0.2
        Softmax temperature of :meth:`predict_proba` on the normalised margins.
    random_state : int, RandomState instance or None, default=None
        Seeds k-means.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    cluster_centers_ : ndarray of shape (n_centers, n_features)
        The centres, grouped by class.
    cluster_labels_ : ndarray of shape (n_centers,)
        The class (an element of ``classes_``) of each centre.
    train_clusters_ : ndarray of int64, shape (n_samples,) or None
        Index into ``cluster_centers_`` of the cluster of each training sample
        (None after :meth:`from_clusters` without them).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of str
        Column names, when X was a pandas DataFrame with string columns.
    nearest_centers_ : sklearn.neighbors.NearestNeighbors
        The index over the centres used at prediction time.

    See Also
    --------
    LMLEClassifier : learns the embedding this classifier is meant for.

    Notes
    -----
    **Decision values.** For query ``q`` let ``r`` be the squared distance to
    its k-th retrieved centre. A class with a retrieved centre scores its LMLE
    margin divided by ``r`` (so scores lie in ``[-1, 1]`` and do not depend on
    the scale of the features); a class with no retrieved centre scores ``-1``;
    when all retrieved centres share one class, it scores ``+1`` and every
    other class ``-1``. :meth:`predict` takes the best-scoring class among those
    retrieved, which is the argmax of :meth:`decision_function` except for exact
    ties. For two classes :meth:`decision_function` returns the score of the
    second class minus that of the first.

    **Probabilities.** :meth:`predict_proba` is ``softmax(scores / temperature)``
    over all classes, so its argmax is the prediction.

    References
    ----------
    .. [1] C. Huang, Y. Li, C. C. Loy and X. Tang, "Learning Deep Representation
       for Imbalanced Classification", CVPR 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import ClusterKNNClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = ClusterKNNClassifier(n_clusters_per_class=3, n_neighbors=5, random_state=0)
    >>> clf.fit(X, y).cluster_centers_.shape
    (9, 4)
    >>> clf.predict(X[[0, 60, 120]])
    array([0, 1, 2])
    """

    _parameter_constraints: dict = {
        "n_clusters_per_class": [Interval(numbers.Integral, 1, None, closed="left")],
        "cluster_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "n_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
        "temperature": [Interval(numbers.Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        n_clusters_per_class=5,
        cluster_size=None,
        n_neighbors=3,
        temperature=0.2,
        random_state=None,
    ):
        self.n_clusters_per_class = n_clusters_per_class
        self.cluster_size = cluster_size
        self.n_neighbors = n_neighbors
        self.temperature = temperature
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Cluster each class and index the cluster centres.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training points (an embedding, or any features).
        y : array-like of shape (n_samples,)
            Labels of any type.

        Returns
        -------
        self : object
        """
        # float64: squared distances of float32 features beyond 1e19 would overflow.
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                f"but the data contain only one class: {self.classes_[0]!r}."
            )
        centers, center_labels, train_clusters = per_class_kmeans(
            X,
            encoder.transform(y),
            n_clusters_per_class=self.n_clusters_per_class,
            cluster_size=self.cluster_size,
            random_state=self.random_state,
        )
        return self._set_clusters(centers, center_labels, train_clusters)

    @classmethod
    def from_clusters(cls, centers, center_classes, *, classes, train_clusters=None, **params):
        """A fitted classifier on clusters made elsewhere (LMLE's, or loaded ones).

        Parameters
        ----------
        centers : array-like of shape (n_centers, n_features)
            The cluster centres.
        center_classes : array-like of int, shape (n_centers,)
            Index into ``classes`` of the class of every centre.
        classes : array-like of shape (n_classes,)
            The class labels (a class may have no centre; it is never predicted).
        train_clusters : array-like of int, shape (n_samples,), default=None
            Cluster of every training sample, when known (``train_clusters_``).
        **params
            Parameters of the classifier (``n_neighbors``, ``temperature``, ...).

        Returns
        -------
        clf : ClusterKNNClassifier
            Fitted; ``n_features_in_`` is the width of ``centers``.

        Examples
        --------
        >>> from skimbal import ClusterKNNClassifier
        >>> clf = ClusterKNNClassifier.from_clusters(
        ...     [[0.0], [1.0], [5.0]], [0, 0, 1], classes=["a", "b"], n_neighbors=1)
        >>> clf.predict([[0.2], [4.0]]).tolist()
        ['a', 'b']
        """
        clf = cls(**params)
        clf._validate_params()
        centers = np.asarray(centers)
        clf.classes_ = np.asarray(classes)
        clf.n_features_in_ = centers.shape[1]
        return clf._set_clusters(centers, np.asarray(center_classes, dtype=np.int64),
                                 None if train_clusters is None else np.asarray(train_clusters))

    def _set_clusters(self, centers, center_codes, train_clusters):
        self._center_codes = center_codes
        self.cluster_centers_ = centers
        self.cluster_labels_ = self.classes_[center_codes]
        self.train_clusters_ = train_clusters
        self.nearest_centers_ = NearestNeighbors(algorithm="brute").fit(centers)
        return self

    def _scores(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        k = min(self.n_neighbors, len(self.cluster_centers_))
        distances, index = self.nearest_centers_.kneighbors(X, n_neighbors=k)
        return cluster_knn_margins(distances**2, self._center_codes[index], len(self.classes_))

    def class_margins(self, X):
        """Normalised LMLE margin of every class, also for two classes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        margins : ndarray of shape (n_samples, n_classes)
            In ``[-1, 1]``; -1 for a class without a retrieved centre (see Notes of
            the class). :meth:`decision_function` is built on them.
        """
        return self._scores(X)[0]

    def decision_function(self, X):
        """Normalised LMLE margins of each class (see Notes of the class).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), or (n_samples,) for two
            classes.
        """
        margins = self.class_margins(X)
        if len(self.classes_) == 2:
            return margins[:, 1] - margins[:, 0]
        return margins

    def predict_proba(self, X):
        """``softmax(scores / temperature)`` over the classes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return softmax(self.class_margins(X) / self.temperature)

    def predict(self, X):
        """Class of the best margin among the retrieved classes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        margins, retrieved = self._scores(X)
        return self.classes_[np.where(retrieved, margins, -np.inf).argmax(axis=1)]
