"""Tests of the cluster-wise kNN classifier of LMLE."""

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.extmath import softmax

from skimbal import ClusterKNNClassifier
from skimbal.methods._cluster_knn import cluster_knn_margins, per_class_kmeans

# Each class has at most 5 distinct points, so every point is its own centre.
X_CENTRES = np.array([[0.0], [1.0], [3.0], [10.0]])
Y_CENTRES = np.array(["a", "a", "b", "c"])


def fit_centres(n_neighbors):
    return ClusterKNNClassifier(n_clusters_per_class=5, n_neighbors=n_neighbors).fit(
        X_CENTRES, Y_CENTRES
    )


def test_centres_are_the_points_when_classes_are_small():
    clf = fit_centres(2)
    order = np.argsort(clf.cluster_centers_.ravel())
    np.testing.assert_allclose(clf.cluster_centers_.ravel()[order], [0, 1, 3, 10])
    assert clf.cluster_labels_[order].tolist() == ["a", "a", "b", "c"]
    assert clf.classes_.tolist() == ["a", "b", "c"]


def test_unanimous_neighbours_win_outright():
    clf = fit_centres(2)
    # q = 0.2 retrieves 0 and 1, both of class a.
    np.testing.assert_allclose(clf.decision_function([[0.2]]), [[1.0, -1.0, -1.0]])
    assert clf.predict([[0.2]]).tolist() == ["a"]


def test_margin_rule_values():
    clf = fit_centres(3)
    # q = 2.5 retrieves b (D=0.25), a (2.25), a (6.25); r = 6.25.
    # b: 2.25 - 0.25 = 2.0 -> 0.32; a: 0.25 - 6.25 = -6.0 -> -0.96; c absent -> -1.
    np.testing.assert_allclose(clf.decision_function([[2.5]]), [[-0.96, 0.32, -1.0]])
    # q = 1.8 retrieves a (0.64), b (1.44), a (3.24); r = 3.24.
    # a: 1.44 - 3.24 = -1.8; b: 0.64 - 1.44 = -0.8. b wins although a is nearest.
    np.testing.assert_allclose(
        clf.decision_function([[1.8]]), [[-1.8 / 3.24, -0.8 / 3.24, -1.0]]
    )
    assert clf.predict([[2.5], [1.8]]).tolist() == ["b", "b"]


def test_predict_proba_is_softmax_of_scores():
    clf = fit_centres(3).set_params(temperature=0.5)
    X = np.array([[0.2], [1.8], [2.5], [9.0]])
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba, softmax(clf.decision_function(X) / 0.5))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.classes_[proba.argmax(axis=1)].tolist() == clf.predict(X).tolist()


def test_binary_decision_function_is_score_difference():
    X = np.array([[0.0], [1.0], [3.0]])
    clf = ClusterKNNClassifier(n_neighbors=3).fit(X, [0, 0, 1])
    # q = 1.8: a (0.64), b (1.44), a (3.24) -> (-0.8 - -1.8) / 3.24.
    np.testing.assert_allclose(clf.decision_function([[1.8]]), [1.0 / 3.24])
    assert clf.predict([[1.8]]).tolist() == [1]


def _reference_margins(distances, labels, n_classes):
    out = np.full((len(distances), n_classes), -1.0)
    for i, (d, lab) in enumerate(zip(distances, labels, strict=True)):
        if len(set(lab)) == 1:
            out[i, lab[0]] = 1.0
            continue
        for c in set(lab):
            own = max(d[j] for j in range(len(d)) if lab[j] == c)
            other = min(d[j] for j in range(len(d)) if lab[j] != c)
            out[i, c] = (other - own) / d[-1]
    return out


def test_vectorised_rule_matches_loop():
    rng = np.random.RandomState(0)
    distances = np.sort(rng.uniform(0.1, 5, size=(200, 6)), axis=1)
    labels = rng.randint(0, 4, size=(200, 6))
    labels[:20] = labels[:20, :1]  # some unanimous rows
    margins, retrieved = cluster_knn_margins(distances, labels, 4)
    np.testing.assert_allclose(margins, _reference_margins(distances, labels, 4))
    assert np.array_equal(retrieved, np.stack([(labels == c).any(1) for c in range(4)], 1))


def test_class_with_one_sample_and_small_classes():
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(30, 2)), rng.normal(5, 1, size=(2, 2)), [[-8.0, 8.0]]]
    y = np.r_[np.zeros(30), np.ones(2), [2]].astype(int)
    clf = ClusterKNNClassifier(n_clusters_per_class=4, n_neighbors=1, random_state=0).fit(X, y)
    assert np.bincount(clf.cluster_labels_).tolist() == [4, 2, 1]
    np.testing.assert_allclose(clf.cluster_centers_[clf.cluster_labels_ == 2], [[-8.0, 8.0]])
    assert clf.predict([[-8.0, 8.0], [5.0, 5.0]]).tolist() == [2, 1]


def test_cluster_size_sets_clusters_per_class():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(35, 3))
    y = np.r_[np.zeros(25), np.ones(10)]
    clf = ClusterKNNClassifier(cluster_size=10, random_state=0).fit(X, y)
    assert np.bincount(clf.cluster_labels_.astype(int)).tolist() == [3, 1]


def test_duplicated_points_get_one_cluster():
    X = np.r_[np.ones((4, 2)), np.zeros((4, 2))]
    _, center_labels, sample_clusters = per_class_kmeans(X, np.r_[[0] * 4, [1] * 4])
    assert center_labels.tolist() == [0, 1]
    assert sample_clusters.tolist() == [0] * 4 + [1] * 4


def test_train_clusters_index_the_centres_of_their_class():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(60, 2))
    y = rng.randint(0, 3, size=60)
    clf = ClusterKNNClassifier(n_clusters_per_class=3, random_state=0).fit(X, y)
    assert np.array_equal(clf.cluster_labels_[clf.train_clusters_], y)
    for j, center in enumerate(clf.cluster_centers_):
        np.testing.assert_allclose(center, X[clf.train_clusters_ == j].mean(0), atol=1e-12)


def test_in_pipeline_with_string_labels():
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(50, 5)), rng.normal(4, 1, size=(8, 5))]
    y = np.array(["majority"] * 50 + ["minority"] * 8)
    pipe = make_pipeline(
        StandardScaler(), PCA(n_components=3), ClusterKNNClassifier(random_state=0)
    )
    assert (pipe.fit(X, y).predict(X) == y).mean() > 0.95


def test_n_neighbors_larger_than_centres_is_capped():
    clf = ClusterKNNClassifier(n_neighbors=50).fit(X_CENTRES, Y_CENTRES)
    assert clf.predict([[9.0]]).tolist() == ["c"]


@pytest.mark.parametrize(
    "params", [{"n_neighbors": 0}, {"n_clusters_per_class": 0}, {"temperature": 0.0},
               {"cluster_size": -1}]
)
def test_bad_parameters(params):
    with pytest.raises(ValueError):
        ClusterKNNClassifier(**params).fit(X_CENTRES, Y_CENTRES)


def test_wrong_number_of_features():
    clf = fit_centres(2)
    with pytest.raises(ValueError, match="features"):
        clf.predict(np.zeros((1, 2)))


def test_from_clusters_gives_the_fitted_classifier():
    fitted = fit_centres(3).set_params(temperature=0.5)
    codes = np.searchsorted(fitted.classes_, fitted.cluster_labels_)
    rebuilt = ClusterKNNClassifier.from_clusters(
        fitted.cluster_centers_, codes, classes=fitted.classes_,
        train_clusters=fitted.train_clusters_, n_neighbors=3, temperature=0.5,
    )
    X = np.array([[0.2], [1.8], [2.5], [9.0]])
    for method in ("predict", "predict_proba", "decision_function", "class_margins"):
        np.testing.assert_array_equal(getattr(rebuilt, method)(X), getattr(fitted, method)(X))
    np.testing.assert_array_equal(rebuilt.cluster_labels_, fitted.cluster_labels_)
    assert rebuilt.n_features_in_ == 1
    with pytest.raises(ValueError, match="n_neighbors"):
        ClusterKNNClassifier.from_clusters([[0.0]], [0], classes=[0, 1], n_neighbors=0)


def test_class_without_centre_is_never_predicted():
    # classes lists a label with no cluster (absent from the clustered rows).
    clf = ClusterKNNClassifier.from_clusters(
        [[0.0], [4.0]], [0, 2], classes=np.arange(3), n_neighbors=2
    )
    margins = clf.class_margins([[1.0], [3.9]])
    assert margins.shape == (2, 3)
    np.testing.assert_array_equal(margins[:, 1], [-1.0, -1.0])
    assert clf.predict([[1.0], [3.9]]).tolist() == [0, 2]
    # class_margins is decision_function without the binary collapse.
    binary = fit_centres(2).fit([[0.0], [1.0], [3.0]], [0, 0, 1])
    m = binary.class_margins([[1.8]])
    np.testing.assert_allclose(binary.decision_function([[1.8]]), m[:, 1] - m[:, 0])
