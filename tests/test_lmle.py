"""Tests of LMLEClassifier and the re-clustering schedule (methods/_lmle.py, callbacks/_lmle.py)."""

import pickle

import numpy as np
import pytest
import torch
from imblearn.over_sampling import SMOTE
from sklearn.base import clone
from sklearn.datasets import make_blobs
from skorch.callbacks import Callback, Checkpoint, LoadInitState

from skimbal import ClusterKNNClassifier, LMLEClassifier
from skimbal._core.batch import ModelOutput, Target
from skimbal._core.data import TensorDataset
from skimbal.callbacks import PeriodicReclustering
from skimbal.losses._lmle import EmbeddingClusters, LMLECriterion
from skimbal.sampling import ImbalancedLearnSampler

from ._helpers import InterruptAfter

# The paper's objective from epoch 0 (no warm-up, no cross-entropy) and a fixed number
# of clusters per class: these tests exercise the quintuplet loss and the clusters.
# The defaults (warm-up, cross-entropy, clusters of 20 rows) are tested at the end.
SMALL = dict(max_epochs=6, hidden_layer_sizes=(16,), lr=0.01, batch_size=64, random_state=0,
             warmup=0, ce_weight=0.0, cluster_size=None, n_neighbors=3)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=[60, 30, 10], n_features=4, random_state=0)
    return X, np.array(["big", "mid", "small"])[y]


@pytest.fixture(scope="module")
def fitted(blobs):
    X, y = blobs
    return LMLEClassifier(n_clusters_per_class=2, recluster_every=2, **SMALL).fit(X, y)


def test_predicts_original_labels(blobs, fitted):
    X, y = blobs
    assert fitted.predict(X).dtype == y.dtype
    assert (fitted.predict(X) == y).mean() > 0.9


def test_transform_is_on_the_unit_sphere(blobs, fitted):
    X, _ = blobs
    embedding = fitted.transform(X)
    assert embedding.shape == (len(X), 16)
    np.testing.assert_allclose(np.linalg.norm(embedding, axis=1), 1.0, rtol=1e-5)


def test_predictions_come_from_cluster_knn_on_the_embedding(blobs, fitted):
    X, _ = blobs
    knn = fitted.cluster_knn_
    assert isinstance(knn, ClusterKNNClassifier)
    assert knn.cluster_centers_.shape == (6, 16)
    embedding = fitted.transform(X)
    np.testing.assert_array_equal(fitted.predict(X), fitted.classes_[knn.predict(embedding)])
    np.testing.assert_allclose(fitted.decision_function(X), knn.decision_function(embedding))
    proba = fitted.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(fitted.classes_[proba.argmax(1)], fitted.predict(X))


def test_final_clusters_are_those_of_the_final_embedding(blobs, fitted):
    X, _ = blobs
    knn = fitted.cluster_knn_
    embedding = fitted.transform(X)
    for j, center in enumerate(knn.cluster_centers_):
        np.testing.assert_allclose(
            center, embedding[knn.train_clusters_ == j].mean(0), atol=1e-5
        )


def test_reclusters_every_few_epochs(fitted):
    reclustered = [duration > 0 for duration in fitted.history[:, "recluster_dur"]]
    assert reclustered == [True, False, True, False, True, False]


def test_reproducible_with_random_state(blobs, fitted):
    X, y = blobs
    other = LMLEClassifier(n_clusters_per_class=2, recluster_every=2, **SMALL).fit(X, y)
    np.testing.assert_allclose(other.transform(X), fitted.transform(X))
    np.testing.assert_array_equal(other.predict(X), fitted.predict(X))


def test_training_lowers_the_quintuplet_loss(blobs):
    X, y = blobs
    clf = LMLEClassifier(**{**SMALL, "max_epochs": 15}).fit(X, y)
    losses = clf.history[:, "train_loss"]
    assert losses[-1] < losses[0]


def test_class_with_one_sample(blobs):
    X, y = blobs
    X = np.r_[X, [[20.0, 20.0, 20.0, 20.0]]]
    y = np.r_[y, ["single"]]
    clf = LMLEClassifier(**SMALL).fit(X, y)
    assert clf.classes_.tolist() == ["big", "mid", "single", "small"]
    assert clf.class_counts_.tolist() == [60, 30, 1, 10]
    assert (clf.cluster_knn_.cluster_labels_ == 2).sum() == 1
    assert np.isfinite(clf.history[:, "train_loss"]).all()


def test_batches_carry_cluster_ids():
    dataset = TensorDataset(torch.zeros(4, 2), torch.tensor([0, 0, 1, 1]))
    X, target = dataset.batch(torch.tensor([1, 2]))
    assert torch.equal(target, torch.tensor([0, 1]))
    dataset.extras["cluster_ids"] = torch.tensor([5, 6, 7, 8])
    _, target = dataset.batch(torch.tensor([3, 0]))
    assert target.extras["cluster_ids"].tolist() == [8, 5]
    assert target.y.tolist() == [1, 0]
    assert target.sample_weight is None


def test_validation_split_scores_with_the_knn(blobs):
    X, y = blobs
    clf = LMLEClassifier(validation_fraction=0.3, **{**SMALL, "ce_weight": 0.1}).fit(X, y)
    assert np.isfinite(clf.history[:, "valid_loss"]).all()
    assert all(0 <= score <= 1 for score in clf.history[:, "valid_bacc"])


def test_sample_weight_zero_removes_anchors(blobs):
    X, y = blobs
    weights = np.ones(len(y))
    weights[y == "small"] = 0.0
    clf = LMLEClassifier(**SMALL).fit(X, y, sample_weight=weights)
    assert np.isfinite(clf.history[:, "train_loss"]).all()


class _NoEmbedding(torch.nn.Module):
    def __init__(self, n_features, n_classes):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, n_classes)

    def forward(self, x):
        return self.linear(x)


def test_module_without_embedding_is_refused(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="forward_features"):
        LMLEClassifier(_NoEmbedding, max_epochs=1).fit(X, y)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"ce_weight": -1.0}, "ce_weight"),
        ({"n_neighbors": 0}, "n_neighbors"),
        ({"recluster_every": 0}, "every"),
        ({"margins": (0.1,)}, "margins"),
    ],
)
def test_bad_parameters(blobs, params, message):
    X, y = blobs
    with pytest.raises(ValueError, match=message):
        LMLEClassifier(max_epochs=1, **params).fit(X, y)


def test_reclustering_schedule():
    schedule = PeriodicReclustering(every=3)
    assert [schedule.reclusters_at(epoch) for epoch in range(7)] == [
        True, False, False, True, False, False, True,
    ]
    with pytest.raises(ValueError, match="every"):
        PeriodicReclustering(every=0).initialize()


def test_pickle_round_trip_keeps_predictions(blobs, fitted):
    X, _ = blobs
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict(X), fitted.predict(X))
    np.testing.assert_allclose(restored.transform(X), fitted.transform(X))


def test_fit_transform_returns_the_embedding(blobs):
    X, y = blobs
    clf = LMLEClassifier(**{**SMALL, "max_epochs": 2})
    np.testing.assert_allclose(clf.fit_transform(X, y), clf.transform(X))


def test_rows_without_cluster_ids_join_the_nearest_centre_of_their_class(fitted):
    knn = fitted.cluster_knn_
    clusters = fitted.module_.lmle_clusters
    centers = torch.as_tensor(knn.cluster_centers_, dtype=torch.float32)
    labels = torch.as_tensor(knn.cluster_labels_)
    assigned = clusters.assign(centers, labels)
    assert assigned.tolist() == list(range(len(centers)))
    # A centre labelled with another class goes to that class's nearest centre.
    other = (labels + 1) % len(fitted.classes_)
    assigned = clusters.assign(centers, other)
    assert torch.equal(labels[assigned], other)


def test_sampler_that_creates_rows_falls_back_to_nearest_centres(blobs):
    X, y = blobs
    sampler = ImbalancedLearnSampler(SMOTE(k_neighbors=2))
    clf = LMLEClassifier(sampler=sampler, **SMALL).fit(X, y)
    assert np.isfinite(clf.history[:, "train_loss"]).all()
    assert (clf.predict(X) == y).mean() > 0.9


@pytest.fixture(scope="module")
def attributes():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 5))
    Y = np.stack([X[:, 0] > 0.7, X[:, 1] + X[:, 2] > 1.0, X[:, 3] < 0], axis=1)
    return X, np.where(Y, 1, -1)


def test_multilabel_predicts_each_attribute_with_its_own_knn(attributes):
    X, Y = attributes
    clf = LMLEClassifier(n_clusters_per_class=2, **{**SMALL, "ce_weight": 0.1}).fit(X, Y)
    assert clf.classes_.tolist() == [0, 1, 2]
    assert len(clf.cluster_knn_) == 3
    pred = clf.predict(X)
    assert pred.shape == Y.shape
    assert set(np.unique(pred)) <= {-1, 1}
    scores = clf.decision_function(X)
    np.testing.assert_array_equal(scores > 0, pred == 1)
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape
    assert np.all((proba >= 0) & (proba <= 1))
    embedding = clf.transform(X).astype(np.float64)
    np.testing.assert_array_equal(pred[:, 1] == 1, clf.cluster_knn_[1].predict(embedding) == 1)


def test_multilabel_reclustering_gives_ids_per_attribute(attributes):
    X, Y = attributes
    clf = LMLEClassifier(n_clusters_per_class=2, **{**SMALL, "max_epochs": 1}).fit(X, Y)
    encoded = torch.as_tensor((Y == 1).astype(np.int64))
    dataset = TensorDataset(torch.as_tensor(X, dtype=torch.float32), encoded)
    ids = clf.recluster(dataset, epoch=0)
    assert ids.shape == Y.shape
    clusters = clf.module_.lmle_clusters
    for a, knn in enumerate(clf.cluster_knn_):
        # Global ids: the attribute's own centres, of the row's value of the attribute.
        assert torch.equal(clusters.center_tasks[ids[:, a]], torch.full((len(X),), a))
        assert torch.equal(clusters.center_labels[ids[:, a]], encoded[:, a])
        offset = int(torch.nonzero(clusters.center_tasks == a)[0])
        np.testing.assert_array_equal(knn.train_clusters_ + offset, ids[:, a].numpy())
        assert np.array_equal(knn.cluster_labels_[knn.train_clusters_], encoded[:, a].numpy())


def test_multilabel_loss_is_the_mean_over_attributes(fitted):
    generator = torch.Generator().manual_seed(0)
    z = torch.nn.functional.normalize(torch.randn(12, 3, generator=generator))
    y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    clusters = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    single = fitted.get_loss(ModelOutput(None, z), Target(y, cluster_ids=clusters))
    both = fitted.get_loss(
        ModelOutput(None, z),
        Target(torch.stack([y, y], 1), cluster_ids=torch.stack([clusters, clusters], 1)),
    )
    assert both.item() == pytest.approx(single.item())
    assert single.item() > 0


# ------------------------------------------------------------ new core API
def _reclustered(history):
    return [duration > 0 for duration in history[:, "recluster_dur"]]


def test_reclustering_follows_the_history_across_partial_fit_calls(blobs):
    X, y = blobs
    clf = LMLEClassifier(n_clusters_per_class=2, recluster_every=3, **{**SMALL, "max_epochs": 2})
    for _ in range(3):
        clf.partial_fit(X, y)
    # History epochs 0..5 in calls of two: re-clustered at 0 and 3, not at each call.
    assert _reclustered(clf.history) == [True, False, False, True, False, False]
    assert np.isfinite(clf.history[:, "train_loss"]).all()
    warm = LMLEClassifier(n_clusters_per_class=2, recluster_every=3, warm_start=True,
                          **{**SMALL, "max_epochs": 2})
    warm.fit(X, y).fit(X, y)
    assert _reclustered(warm.history) == [True, False, False, True]


def test_a_continued_fit_on_other_rows_joins_the_stored_clusters(blobs):
    X, y = blobs
    clf = LMLEClassifier(n_clusters_per_class=2, recluster_every=4, **{**SMALL, "max_epochs": 2})
    clf.partial_fit(X, y)
    centers = clf.module_.lmle_clusters.centers.clone()
    clf.partial_fit(X[::2], y[::2])
    assert _reclustered(clf.history) == [True, False, False, False]
    # The final clustering of the second call is on its rows only.
    assert len(clf.cluster_knn_.train_clusters_) == len(X[::2])
    assert not torch.equal(clf.module_.lmle_clusters.centers, centers)


@pytest.mark.parametrize(("sampler", "warmup"), [("class-balanced", 0), (None, 0),
                                                 ("class-balanced", 2)])
def test_resumed_run_matches_an_uninterrupted_one(blobs, tmp_path, sampler, warmup):
    X, y = blobs
    params = dict(n_clusters_per_class=2, recluster_every=2, validation_fraction=0.2,
                  sampler=sampler, **{**SMALL, "warmup": warmup, "ce_weight": 0.1})
    checkpoint = Checkpoint(dirname=str(tmp_path), monitor=None)
    interrupted = LMLEClassifier(callbacks=[checkpoint, InterruptAfter(3)], **params).fit(X, y)
    assert len(interrupted.history) == 3
    resumed = LMLEClassifier(callbacks=[checkpoint, LoadInitState(checkpoint)], **params)
    resumed.fit(X, y)
    full = LMLEClassifier(**params).fit(X, y)
    # Epoch 3 is no re-clustering epoch: it trains with the restored clusters of epoch 2.
    assert _reclustered(resumed.history) == _reclustered(full.history) == [
        warmup == 0, False, True, False, True, False,
    ]
    for key in ("train_loss", "valid_loss", "valid_bacc", "valid_loss_best"):
        assert resumed.history[:, key] == full.history[:, key]
    np.testing.assert_array_equal(resumed.predict(X), full.predict(X))
    np.testing.assert_array_equal(resumed.predict_proba(X), full.predict_proba(X))
    np.testing.assert_array_equal(resumed.transform(X), full.transform(X))
    np.testing.assert_array_equal(resumed.cluster_knn_.cluster_centers_,
                                  full.cluster_knn_.cluster_centers_)


def test_resume_of_a_finished_fit_trains_nothing_and_predicts_the_same(blobs, tmp_path):
    X, y = blobs
    params = dict(n_clusters_per_class=2, recluster_every=2, **{**SMALL, "max_epochs": 3})
    checkpoint = Checkpoint(dirname=str(tmp_path), monitor=None)
    done = LMLEClassifier(callbacks=[checkpoint], **params).fit(X, y)
    again = LMLEClassifier(callbacks=[checkpoint, LoadInitState(checkpoint)], **params)
    again.fit(X, y)
    assert len(again.history) == 3
    # The final clustering is redone on the restored weights with the same seed.
    np.testing.assert_array_equal(again.predict(X), done.predict(X))
    np.testing.assert_allclose(again.cluster_knn_.cluster_centers_,
                               done.cluster_knn_.cluster_centers_, rtol=1e-6)


def test_resume_without_the_stored_clusters_differs(blobs, tmp_path):
    # The restored buffers matter: the same resume with clusters of the wrong epoch
    # trains differently (guards the test above against passing by accident).
    X, y = blobs
    params = dict(n_clusters_per_class=2, recluster_every=2, **SMALL)
    checkpoint = Checkpoint(dirname=str(tmp_path), monitor=None)
    LMLEClassifier(callbacks=[checkpoint, InterruptAfter(3)], **params).fit(X, y)

    class _ForgetClusters(Callback):
        def on_train_begin(self, net, **kwargs):
            net.module_.lmle_clusters.set_rows(torch.zeros(0, dtype=torch.long))

    resumed = LMLEClassifier(
        callbacks=[checkpoint, LoadInitState(checkpoint), _ForgetClusters()], **params
    ).fit(X, y)
    full = LMLEClassifier(**params).fit(X, y)
    assert resumed.history[3, "train_loss"] != pytest.approx(full.history[3, "train_loss"],
                                                             rel=1e-6)


def test_cluster_buffers_load_into_a_module_of_other_shape():
    source = EmbeddingClusters()
    source.store(torch.randn(4, 3), torch.tensor([0, 0, 1, 1]), torch.zeros(4),
                 torch.tensor([[0], [1], [2], [3], [3]]))
    target = EmbeddingClusters()
    assert target.empty
    target.load_state_dict(source.state_dict())
    for name, buffer in source.named_buffers():
        assert torch.equal(getattr(target, name), buffer)
    assert target.holds_rows(torch.tensor([0, 0, 1, 1, 1]))
    assert not target.holds_rows(torch.tensor([0, 0, 1, 1, 0]))


def test_pickle_holds_no_training_data_in_callbacks(blobs):
    X, y = blobs
    X = np.tile(X, (20, 25))
    y = np.tile(y, 20)
    clf = LMLEClassifier(validation_fraction=0.2, **{**SMALL, "max_epochs": 2}).fit(X, y)
    for name, callback in clf.callbacks_:
        tensors = [k for k, v in vars(callback).items() if isinstance(v, torch.Tensor)]
        assert not tensors, (name, tensors)
        assert not any(isinstance(v, TensorDataset) for v in vars(callback).values()), name
    assert len(pickle.dumps(clf)) < X.astype(np.float32).nbytes / 4
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict(X), clf.predict(X))


def test_clone_of_a_fitted_estimator(blobs, fitted):
    X, y = blobs
    other = clone(fitted)
    assert not hasattr(other, "cluster_knn_")
    np.testing.assert_array_equal(other.fit(X, y).predict(X), fitted.predict(X))


def test_criterion_is_the_weighted_objective_around_the_quintuplet_loss(blobs):
    X, y = blobs
    clf = LMLEClassifier(class_weight="balanced", margins=(0.1, 0.2, 0.3),
                         **{**SMALL, "max_epochs": 1, "ce_weight": 0.5}).fit(X, y)
    assert isinstance(clf.criterion_, LMLECriterion)
    assert clf.criterion_.embedding_loss.margins == (0.1, 0.2, 0.3)
    torch.testing.assert_close(clf.criterion_.weight, torch.as_tensor(clf.class_weight_))
    z = torch.nn.functional.normalize(torch.randn(8, 3, generator=torch.Generator().manual_seed(1)))
    logits = torch.randn(8, 3, generator=torch.Generator().manual_seed(2))
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 2, 2])
    ids = torch.tensor([0, 1, 2, 2, 3, 3, 4, 4])
    sample_weight = torch.tensor([1.0, 2.0, 0.0, 1.0, 1.0, 3.0, 1.0, 1.0])
    loss = clf.get_loss(ModelOutput(logits, z), Target(labels, sample_weight, cluster_ids=ids))
    per_anchor, has_term = clf.criterion_.embedding_loss.anchor_losses(z, labels, ids)
    weight = torch.as_tensor(clf.class_weight_)[labels] * sample_weight
    ce = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    expected = ((weight * has_term * per_anchor).sum() / (weight * has_term).sum()
                + 0.5 * (weight * ce).sum() / weight.sum())
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_conflicting_reclustering_period_is_refused(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="recluster_every"):
        LMLEClassifier(recluster_every=2, callbacks__reclustering__every=3, max_epochs=1).fit(X, y)
    clf = LMLEClassifier(recluster_every=2, callbacks__reclustering__every=2,
                         **{**SMALL, "max_epochs": 1}).fit(X, y)
    assert dict(clf.callbacks_)["reclustering"].every == 2


def test_multilabel_default_sampler_shuffles_and_other_class_aware_samplers_refuse(attributes):
    X, Y = attributes
    clf = LMLEClassifier(n_clusters_per_class=2, **{**SMALL, "max_epochs": 1}).fit(X, Y)
    assert clf.sampler_ is None
    with pytest.raises(ValueError, match="one label per sample"):
        LMLEClassifier(sampler="square-root", **{**SMALL, "max_epochs": 1}).fit(X, Y)


# ---------------------------------------------------------------- warm-up
def test_warmup_trains_for_classification_before_the_first_clustering(blobs):
    X, y = blobs
    seen = []

    class _Phase(Callback):
        def on_epoch_end(self, net, **kwargs):
            seen.append(net.criterion_.warmup)

    clf = LMLEClassifier(n_clusters_per_class=2, recluster_every=2, callbacks=[_Phase()],
                         **{**SMALL, "warmup": 0.5}).fit(X, y)
    assert dict(clf.callbacks_)["reclustering"].start_epoch_ == 3
    assert seen == [True, True, True, False, False, False]
    assert _reclustered(clf.history) == [False, False, False, True, False, True]
    # During the warm-up the objective is the cross-entropy of the head alone.
    criterion = clf.criterion_
    criterion.warmup = True
    logits, target = torch.randn(5, 3), torch.tensor([0, 1, 2, 0, 1])
    embedding = torch.nn.functional.normalize(torch.randn(5, 16), dim=1)
    torch.testing.assert_close(criterion(embedding, target, target, logits=logits),
                               torch.nn.functional.cross_entropy(logits, target))


def test_validation_during_the_warmup_is_scored_by_the_head(blobs):
    X, y = blobs
    clf = LMLEClassifier(validation_fraction=0.2, **{**SMALL, "warmup": 4}).fit(X, y)
    assert len(clf.history[:, "valid_bacc"]) == 6
    assert hasattr(clf, "cluster_knn_")  # clustered at the end, whatever the warm-up
    whole_run = LMLEClassifier(**{**SMALL, "warmup": 50}).fit(X, y)
    assert not any(_reclustered(whole_run.history))
    assert whole_run.predict(X).shape == y.shape  # the kNN of the final clustering


def test_conflicting_warmup_is_refused(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="warmup"):
        LMLEClassifier(warmup=2, callbacks__reclustering__start=3, max_epochs=1).fit(X, y)


def test_recluster_every_as_a_fraction_follows_the_planned_run(blobs):
    X, y = blobs
    clf = LMLEClassifier(max_epochs=40, hidden_layer_sizes=(8,), random_state=0).fit(X, y)
    # 0.05 of 40 epochs is 2: epochs 20, 22, ..., 38 after a warm-up of 20.
    assert [e for e, flag in enumerate(_reclustered(clf.history)) if flag] == list(
        range(20, 40, 2)
    )


def test_defaults_warm_up_keep_cross_entropy_and_size_the_clusters(blobs):
    X, y = blobs  # classes of 60, 30 and 10 rows
    clf = LMLEClassifier(max_epochs=4, hidden_layer_sizes=(16,), random_state=0).fit(X, y)
    assert (clf.warmup, clf.ce_weight, clf.cluster_size, clf.n_neighbors) == (0.5, 1.0, 20, 20)
    assert clf.criterion_.ce_weight == 1.0 and not clf.criterion_.warmup
    # recluster_every=0.05 of 4 epochs rounds to 0: every epoch after the warm-up.
    assert clf.recluster_every == 0.05
    assert _reclustered(clf.history) == [False, False, True, True]
    # ceil(n_c / 20) clusters: a rare class gets one, not as many as a frequent one.
    assert np.bincount(clf.cluster_knn_.cluster_labels_).tolist() == [3, 2, 1]
