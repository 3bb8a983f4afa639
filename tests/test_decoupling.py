"""Tests of the decoupled two-stage classifiers (cRT, tau-norm, LWS, NCM)."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skimbal.methods import _two_stage
from skimbal.methods._reweighting import CrossEntropyClassifier
from skimbal.methods._two_stage import (
    DecoupledClassifier,
    LearnableWeightScaling,
    tau_normalized_weight,
)
from skimbal.nn import MLP
from skimbal.sampling import ClassAwareSampler


def _long_tailed(seed=0, counts=(60, 20, 8)):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0, 0.0], [2.0, 2.0, 0.0], [0.0, 2.5, 2.0]])
    X = np.concatenate(
        [rng.normal(c, 0.7, size=(n, 3)) for c, n in zip(centers, counts, strict=False)]
    )
    y = np.repeat(np.arange(len(counts)), counts)
    return X.astype(np.float32), y


def _stage_one(**params):
    settings = dict(max_epochs=4, lr=0.01, hidden_layer_sizes=(8,), batch_size=32, random_state=0)
    settings.update(params)
    return CrossEntropyClassifier(**settings)


def _embed(estimator, X):
    module = estimator.module_.eval()
    with torch.no_grad():
        return module.forward_features(torch.as_tensor(X))


@pytest.mark.parametrize("method", ["crt", "tau-norm", "lws", "ncm"])
def test_stage_two_leaves_backbone_untouched(method, monkeypatch):
    X, y = _long_tailed()
    seen = {}
    original = DecoupledClassifier._fit_stage_two

    def spy(self, *args, **kwargs):
        module = self.estimator_.module_
        for parameter in module.parameters():
            parameter.grad = None
        seen["state"] = {k: v.clone() for k, v in module.state_dict().items()}
        seen["features"] = _embed(self.estimator_, X)
        original(self, *args, **kwargs)
        seen["grads"] = [p.grad for p in module.parameters()]

    monkeypatch.setattr(DecoupledClassifier, "_fit_stage_two", spy)
    clf = DecoupledClassifier(_stage_one(), method=method, stage2_epochs=2, random_state=0)
    clf.fit(X, y)
    after = clf.estimator_.module_.state_dict()
    assert seen["state"].keys() == after.keys()
    for name, value in seen["state"].items():
        assert torch.equal(value, after[name]), name
    assert torch.equal(seen["features"], _embed(clf.estimator_, X))
    assert all(grad is None for grad in seen["grads"])


def test_crt_reinitialises_the_head_and_samples_class_balanced(monkeypatch):
    X, y = _long_tailed()
    calls = []
    original = ClassAwareSampler.epoch_indices

    def recording(self, y_train, *, epoch, generator=None):
        index = original(self, y_train, epoch=epoch, generator=generator)
        calls.append((self.q, y_train.clone(), index.clone()))
        return index

    monkeypatch.setattr(ClassAwareSampler, "epoch_indices", recording)
    # A vanishing learning rate keeps the head at its re-initialised values.
    clf = DecoupledClassifier(
        _stage_one(), method="crt", stage2_epochs=3, stage2_lr=1e-12, random_state=0
    ).fit(X, y)
    old = clf.estimator_.module_.head
    new = clf.head_estimator_.module_
    assert new is not old and new.weight.shape == old.weight.shape
    assert (new.weight - old.weight).abs().max() > 1e-3
    assert isinstance(clf.stage2_sampler_, ClassAwareSampler) and clf.stage2_sampler_.q == 0.0
    assert len(calls) == 3
    for q, y_train, index in calls:
        assert q == 0.0
        np.testing.assert_array_equal(y_train.numpy(), y)
        # 88 rows, 3 classes drawn with probability 1/3 each instead of 60/20/8.
        drawn = np.bincount(y[index.numpy()], minlength=3)
        assert drawn.min() >= 15
    assert clf.head_estimator_.history[-1, "epoch"] == 3


def test_crt_trains_the_new_head():
    X, y = _long_tailed()
    clf = DecoupledClassifier(_stage_one(), method="crt", stage2_epochs=5, random_state=0)
    clf.fit(X, y)
    losses = clf.head_estimator_.history[:, "train_loss"]
    assert losses[-1] < losses[0]
    expected = clf.head_estimator_.module_(_embed(clf.estimator_, X)).detach().numpy()
    np.testing.assert_allclose(clf.decision_function(X), expected, rtol=1e-5, atol=1e-6)


def test_tau_norm_tau_zero_equals_stage_one_without_bias():
    X, y = _long_tailed()
    module = MLP(n_features=3, n_classes=3, hidden_layer_sizes=(8,))
    module.head = torch.nn.Linear(8, 3, bias=False)
    clf = DecoupledClassifier(_stage_one(module=module), method="tau-norm", tau=0.0)
    clf.fit(X, y)
    np.testing.assert_allclose(
        clf.decision_function(X), clf.estimator_.decision_function(X), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(clf.predict(X), clf.estimator_.predict(X))


def test_tau_norm_drops_the_bias_and_normalises_the_rows():
    X, y = _long_tailed()
    clf = DecoupledClassifier(_stage_one(), method="tau-norm", tau=[1.0]).fit(X, y)
    assert clf.tau_ == 1.0 and not hasattr(clf, "tau_scores_")
    head = clf.estimator_.module_.head
    features = _embed(clf.estimator_, X)
    weight = head.weight.detach()
    expected = features @ (weight / weight.norm(dim=1, keepdim=True)).T
    np.testing.assert_allclose(clf.decision_function(X), expected.numpy(), rtol=1e-5, atol=1e-6)
    # tau = 0 is the stage-one logits minus the bias.
    clf0 = DecoupledClassifier(_stage_one(), method="tau-norm", tau=0.0).fit(X, y)
    stage_one = clf0.estimator_.decision_function(X)
    bias = clf0.estimator_.module_.head.bias.detach().numpy()
    np.testing.assert_allclose(clf0.decision_function(X), stage_one - bias, rtol=1e-5, atol=1e-5)


def test_tau_normalized_weight_values():
    weight = torch.tensor([[3.0, 4.0], [0.0, 2.0]])
    np.testing.assert_allclose(
        tau_normalized_weight(weight, 0.5).numpy(),
        [[3 / 5**0.5, 4 / 5**0.5], [0.0, 2 / 2**0.5]],
        rtol=1e-6,
    )
    assert torch.equal(tau_normalized_weight(weight, 0.0), weight)


def test_tau_is_chosen_on_held_out_training_data(monkeypatch):
    X, y = _long_tailed()
    seen = {}
    original = _two_stage._choose_tau

    def spy(weight, features, target, taus):
        seen.update(features=features.clone(), target=target.clone(), taus=taus)
        return original(weight, features, target, taus)

    monkeypatch.setattr(_two_stage, "_choose_tau", spy)
    clf = DecoupledClassifier(
        _stage_one(), method="tau-norm", tau_refit=False, random_state=0
    ).fit(X, y)
    # 20 % of every class is held out of stage one and scores the candidates.
    counts = np.bincount(y)
    held_out = np.floor(0.2 * counts).astype(int)
    np.testing.assert_array_equal(clf.estimator_.class_counts_, counts - held_out)
    np.testing.assert_array_equal(np.bincount(seen["target"].numpy(), minlength=3), held_out)
    # Every held-out row is the embedding of a training row of its class.
    train_features = _embed(clf.estimator_, X)
    distance = torch.cdist(
        seen["features"], train_features, compute_mode="donot_use_mm_for_euclid_dist"
    )
    nearest = distance.argmin(1).numpy()
    assert np.all(distance.min(1).values.numpy() < 1e-5)
    np.testing.assert_array_equal(y[nearest], seen["target"].numpy())
    # tau_ maximises the held-out balanced accuracy (smallest tau on ties).
    assert set(clf.tau_scores_) == set(np.round(np.linspace(0, 2, 21), 2))
    best = max(clf.tau_scores_.values())
    assert clf.tau_ == min(t for t, s in clf.tau_scores_.items() if s == best)
    weight = clf.estimator_.module_.head.weight.detach()
    logits = seen["features"] @ tau_normalized_weight(weight, clf.tau_).T
    assert clf.tau_scores_[clf.tau_] == pytest.approx(
        balanced_accuracy_score(seen["target"].numpy(), logits.argmax(1).numpy())
    )


def test_tau_refit_trains_the_final_network_on_all_the_data():
    X, y = _long_tailed()
    kept = DecoupledClassifier(
        _stage_one(), method="tau-norm", tau_refit=False, random_state=0
    ).fit(X, y)
    refit = DecoupledClassifier(_stage_one(), method="tau-norm", random_state=0).fit(X, y)
    # Same choice of tau (same split, same selection network) ...
    assert refit.tau_ == kept.tau_ and refit.tau_scores_ == kept.tau_scores_
    # ... applied to a stage one trained on every training sample, exactly the
    # network a plain fit of the stage-one estimator gives.
    np.testing.assert_array_equal(refit.estimator_.class_counts_, np.bincount(y))
    plain = _stage_one().fit(X, y)
    weight = plain.module_.head.weight.detach()
    np.testing.assert_allclose(
        refit.tau_weight_, tau_normalized_weight(weight, refit.tau_).numpy(), rtol=1e-6
    )
    np.testing.assert_array_equal(refit.predict(X), (
        _embed(plain, X) @ tau_normalized_weight(weight, refit.tau_).T
    ).argmax(1).numpy())


def test_lws_learns_one_scale_per_class_on_the_frozen_head():
    X, y = _long_tailed()
    clf = DecoupledClassifier(_stage_one(), method="lws", stage2_epochs=3, random_state=0)
    clf.fit(X, y)
    assert clf.lws_scale_.shape == (3,)
    assert not np.allclose(clf.lws_scale_, 1.0)
    scaled = clf.head_estimator_.module_
    assert isinstance(scaled, LearnableWeightScaling)
    stage_one_head = clf.estimator_.module_.head
    assert torch.equal(scaled.head.weight, stage_one_head.weight)
    assert torch.equal(scaled.head.bias, stage_one_head.bias)
    expected = clf.estimator_.decision_function(X) * clf.lws_scale_
    np.testing.assert_allclose(clf.decision_function(X), expected, rtol=1e-5, atol=1e-5)


def test_ncm_equals_hand_computed_cosine_to_class_means():
    X, y = _long_tailed()
    # No hidden layer: the embedding is the input itself, so the features are fixed.
    clf = DecoupledClassifier(_stage_one(hidden_layer_sizes=()), method="ncm").fit(X, y)
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    means = np.stack([unit[y == j].mean(0) for j in range(3)])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    np.testing.assert_allclose(clf.class_means_, means, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(clf.decision_function(X), unit @ means.T, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), (unit @ means.T).argmax(1))


def test_string_labels_and_binary_decision_function():
    X, y = _long_tailed(counts=(40, 10))
    labels = np.array(["head", "tail"])[y]
    clf = DecoupledClassifier(_stage_one(), method="ncm").fit(X, labels)
    np.testing.assert_array_equal(clf.classes_, ["head", "tail"])
    scores = clf.decision_function(X)
    assert scores.shape == (len(X),)
    np.testing.assert_array_equal(clf.predict(X), np.where(scores > 0, "tail", "head"))


def test_meta_estimator_parameters_route_to_stage_one():
    X, y = _long_tailed()
    clf = DecoupledClassifier(_stage_one(), method="ncm")
    assert clf.get_params()["estimator__lr"] == 0.01
    pipe = make_pipeline(StandardScaler(), clf)
    pipe.set_params(decoupledclassifier__estimator__max_epochs=2).fit(X, y)
    fitted = pipe[-1]
    assert len(fitted.estimator_.history) == 2
    assert clf.estimator.max_epochs == 2 and not clf.estimator.initialized_
    assert fitted.n_features_in_ == 3
    assert pipe.predict(X).shape == (len(X),)


def test_random_state_seeds_an_unseeded_stage_one():
    X, y = _long_tailed()
    fits = [
        DecoupledClassifier(_stage_one(random_state=None), method="crt", stage2_epochs=1,
                            random_state=3).fit(X, y)
        for _ in range(2)
    ]
    assert isinstance(fits[0].estimator_.random_state, int)
    assert fits[0].estimator.random_state is None
    np.testing.assert_array_equal(fits[0].decision_function(X), fits[1].decision_function(X))


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(method="cRT"), "method"),
        (dict(stage2_epochs=0), "stage2_epochs"),
        (dict(tau=-1.0), "tau"),
        (dict(tau_validation_fraction=1.0), "tau_validation_fraction"),
        (dict(tau_refit="yes"), "tau_refit"),
    ],
)
def test_invalid_parameters(params, message):
    X, y = _long_tailed()
    with pytest.raises(ValueError, match=message):
        DecoupledClassifier(_stage_one(), **params).fit(X, y)


def test_negative_tau_in_candidates_is_refused():
    X, y = _long_tailed()
    with pytest.raises(ValueError, match="tau"):
        DecoupledClassifier(_stage_one(), method="tau-norm", tau=[0.5, -1.0]).fit(X, y)


def test_estimator_without_embedding_is_refused():
    class Plain(torch.nn.Module):
        def __init__(self, n_features, n_classes):
            super().__init__()
            self.linear = torch.nn.Linear(n_features, n_classes)

        def forward(self, x):
            return self.linear(x)

    X, y = _long_tailed()
    with pytest.raises(ValueError, match="embedding protocol"):
        DecoupledClassifier(_stage_one(module=Plain), method="ncm").fit(X, y)


def test_single_class_is_refused():
    X, _ = _long_tailed()
    with pytest.raises(ValueError, match="at least 2 classes"):
        DecoupledClassifier(_stage_one()).fit(X, np.zeros(len(X)))


def test_grid_search_over_stage_one_parameters():
    X, y = _long_tailed()
    search = GridSearchCV(
        DecoupledClassifier(_stage_one(max_epochs=1), method="ncm"),
        {"estimator__max_epochs": [1, 2]},
        cv=2,
        scoring="balanced_accuracy",
    ).fit(X, y)
    assert search.best_params_["estimator__max_epochs"] in (1, 2)
    best = search.best_estimator_
    assert len(best.estimator_.history) == search.best_params_["estimator__max_epochs"]


@pytest.mark.parametrize("method", ["crt", "tau-norm", "lws", "ncm"])
def test_clone_and_pickle_of_a_fitted_meta_estimator(method):
    X, y = _long_tailed()
    sampler = ClassAwareSampler(q=0.5)
    params = dict(method=method, stage2_epochs=2, tau=[0.0, 1.0], random_state=0)
    if method in ("crt", "lws"):
        params["stage2_sampler"] = sampler
    fitted = DecoupledClassifier(_stage_one(), **params).fit(X, y)
    if method in ("crt", "lws"):
        # The sampler used is a copy: the parameter stays as the user passed it.
        assert fitted.stage2_sampler_ is not sampler and fitted.stage2_sampler_.q == 0.5
    twin = clone(fitted)
    assert not hasattr(twin, "estimator_") and not hasattr(twin, "seed_")
    assert twin.get_params()["estimator__lr"] == 0.01
    np.testing.assert_array_equal(twin.fit(X, y).decision_function(X), fitted.decision_function(X))
    assert twin.seed_ == fitted.seed_
    # Learned arrays are NumPy arrays (no device tensors outside the skorch nets) ...
    learned = {"crt": [], "tau-norm": ["tau_weight_"], "lws": ["lws_scale_"],
               "ncm": ["class_means_"]}[method]
    for name in learned:
        assert isinstance(getattr(fitted, name), np.ndarray), name
    # ... and a pickle holds neither the training data nor their embeddings.
    dumped = pickle.dumps(fitted)
    assert X.tobytes() not in dumped
    assert _embed(fitted.estimator_, X).numpy().tobytes() not in dumped
    loaded = pickle.loads(dumped)
    np.testing.assert_array_equal(loaded.decision_function(X), fitted.decision_function(X))
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))


def test_tau_ties_go_to_the_smallest_candidate(monkeypatch):
    X, y = _long_tailed()
    # Every candidate scores the same: the smallest wins (reference 0, the plain head).
    monkeypatch.setattr(_two_stage, "tau_normalized_weight", lambda weight, tau: weight)
    clf = DecoupledClassifier(
        _stage_one(), method="tau-norm", tau=[1.5, 0.5, 1.0], tau_refit=False, random_state=0
    ).fit(X, y)
    assert len(set(clf.tau_scores_.values())) == 1
    assert clf.tau_ == 0.5 and list(clf.tau_scores_) == [0.5, 1.0, 1.5]


def test_predict_before_fit_raises_not_fitted():
    X, _ = _long_tailed()
    with pytest.raises(NotFittedError):
        DecoupledClassifier(_stage_one()).predict(X)
