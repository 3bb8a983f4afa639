"""Tests of BBN: the two-branch module, the paired loader and the estimator."""

import numpy as np
import pytest
import torch

from skimbal import BBNClassifier, TensorBatchLoader, TensorDataset
from skimbal._bbn import BilateralBatchLoader, cumulative_learning_alpha
from skimbal.nn import MLP, BilateralBranchNetwork, ResNet32, split_last_block
from skimbal.sampling import ReversedSampler


def _long_tailed(seed=0, counts=(60, 20, 8)):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0, 0.0], [2.0, 2.0, 0.0], [0.0, 2.5, 2.0]])
    X = np.concatenate(
        [rng.normal(c, 0.7, size=(n, 3)) for c, n in zip(centers, counts, strict=False)]
    )
    return X.astype(np.float32), np.repeat(np.arange(len(counts)), counts)


def _small(**params):
    settings = dict(max_epochs=4, lr=0.01, hidden_layer_sizes=(8, 8), batch_size=32, random_state=0)
    settings.update(params)
    return BBNClassifier(**settings)


def _branch_logits(module, x):
    """Logits ``W_c f_c(x)`` and ``W_r f_r(x)`` of each branch, bias ``b``."""
    f_c, f_r = module.forward_branches(x)
    width = f_c.shape[1]
    weight = module.head.weight
    return f_c @ weight[:, :width].T, f_r @ weight[:, width:].T, module.head.bias


def test_alpha_schedule_exact_values():
    assert cumulative_learning_alpha(0, 10) == 1.0
    assert cumulative_learning_alpha(5, 10) == 0.75
    assert cumulative_learning_alpha(9, 10) == pytest.approx(0.19)
    assert cumulative_learning_alpha(10, 10) == 0.0
    assert cumulative_learning_alpha(12, 10) == 0.0
    with pytest.raises(ValueError, match="max_epochs"):
        cumulative_learning_alpha(0, 0)


def test_alpha_follows_the_epochs_of_a_fit():
    X, y = _long_tailed()
    clf = _small(max_epochs=4).fit(X, y)
    assert clf.history[:, "bbn_alpha"] == [1.0, 0.9375, 0.75, 0.4375]
    assert clf.alpha_ == 0.4375


def test_test_time_output_is_the_half_half_mix():
    X, y = _long_tailed()
    clf = _small().fit(X, y)
    module = clf.module_.eval()
    x = torch.as_tensor(X)
    with torch.no_grad():
        z_c, z_r, bias = _branch_logits(module, x)
        expected = 2 * (0.5 * z_c + 0.5 * z_r) + bias
        np.testing.assert_allclose(clf.decision_function(X), expected.numpy(), rtol=1e-5,
                                   atol=1e-6)
        # The embedding protocol holds with the test-time weights.
        assert torch.equal(module(x), module.forward_head(module.forward_features(x)))


def test_training_output_mixes_the_branches_with_alpha():
    torch.manual_seed(0)
    module = BilateralBranchNetwork(MLP(3, 4, hidden_layer_sizes=(6, 5)))
    x_c, x_r = torch.randn(7, 3), torch.randn(7, 3)
    with torch.no_grad():
        z_c = _branch_logits(module, x_c)[0]
        z_r, bias = _branch_logits(module, x_r)[1:]
        out = module(x_c, x_r, alpha=0.3)
        expected = 2 * (0.3 * z_c + 0.7 * z_r) + bias
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_loss_weights_the_two_targets_by_alpha():
    X, y = _long_tailed()
    clf = _small(max_epochs=1).fit(X, y)
    clf.alpha_ = 0.3
    logits = torch.randn(5, 3)
    y_c, y_r = torch.tensor([0, 1, 2, 0, 1]), torch.tensor([2, 2, 1, 0, 2])
    ce = torch.nn.functional.cross_entropy
    expected = 0.3 * ce(logits, y_c) + 0.7 * ce(logits, y_r)
    loss = clf.get_loss(logits, (y_c, y_r), training=True)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_branches_share_the_trunk_and_own_their_last_block():
    torch.manual_seed(0)
    backbone = MLP(3, 4, hidden_layer_sizes=(6, 5))
    module = BilateralBranchNetwork(backbone)
    assert module.trunk[0] is backbone.features[0]
    assert module.conventional_block[0] is backbone.features[2]
    assert module.rebalancing_block[0] is not module.conventional_block[0]
    assert module.rebalancing_block[0].weight.shape == (5, 6)
    assert not torch.equal(module.rebalancing_block[0].weight, module.conventional_block[0].weight)
    assert module.head.weight.shape == (4, 10) and module.n_embedding == 10
    with pytest.raises(ValueError, match="at least one hidden layer"):
        BilateralBranchNetwork(MLP(3, 4, hidden_layer_sizes=()))
    with pytest.raises(TypeError, match="embedding protocol"):
        BilateralBranchNetwork(torch.nn.Linear(3, 4))


def test_resnet32_split_reproduces_its_embedding():
    torch.manual_seed(0)
    resnet = ResNet32(n_classes=3).eval()
    trunk, block = split_last_block(resnet)
    assert block.block is resnet.layer3[-1]
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(block(trunk(x)), resnet.forward_features(x), atol=1e-6)
        module = BilateralBranchNetwork(resnet).eval()
        assert module(x).shape == (2, 3)
    assert module.head.in_features == 128


def test_paired_loader_draws_uniform_and_reversed_batches():
    y = torch.tensor([0] * 90 + [1] * 10)
    dataset = TensorDataset(torch.arange(100, dtype=torch.float32).unsqueeze(1), y)
    generator = torch.Generator().manual_seed(0)
    loader = BilateralBatchLoader(
        TensorBatchLoader(dataset, batch_size=32, shuffle=True, generator=generator),
        ReversedSampler(),
        generator=generator,
    )
    assert len(loader) == 4
    reversed_labels = []
    for _ in range(20):
        conventional = []
        for (X_c, X_r), (_, y_r) in loader:
            assert len(X_c) == len(X_r)
            assert torch.equal(X_r[:, 0].long(), torch.arange(100)[X_r[:, 0].long()])
            assert torch.equal(y[X_r[:, 0].long()], y_r)
            conventional.append(X_c[:, 0].long())
            reversed_labels.append(y_r)
        # The conventional branch sees every row once per epoch.
        assert torch.equal(torch.cat(conventional).sort().values, torch.arange(100))
    assert loader.epoch == 20
    # Reversed sampling: class 1 (10 rows) with probability 0.9.
    share = torch.cat(reversed_labels).float().mean().item()
    assert 0.85 < share < 0.95


def test_estimator_uses_its_reversed_sampler():
    calls = []

    class Recording(ReversedSampler):
        def epoch_indices(self, y, *, epoch, generator=None):
            calls.append((epoch, y.clone()))
            return super().epoch_indices(y, epoch=epoch, generator=generator)

    X, y = _long_tailed()
    _small(max_epochs=3, reversed_sampler=Recording()).fit(X, y)
    assert [epoch for epoch, _ in calls] == [0, 1, 2]
    np.testing.assert_array_equal(calls[0][1].numpy(), y)


def test_other_criteria_and_predictions():
    X, y = _long_tailed()
    clf = _small(max_epochs=8, validation_fraction=0.2).fit(X, ["abc"[i] for i in y])
    np.testing.assert_array_equal(clf.classes_, ["a", "b", "c"])
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    assert np.isfinite(clf.history[:, "valid_loss"]).all()
    assert (clf.predict(X) == np.array(list("abc"))[y]).mean() > 0.8


@pytest.mark.slow
def test_bbn_trains_a_resnet32_backbone():
    rng = np.random.default_rng(0)
    X = rng.random((12, 3, 32, 32), dtype=np.float32)
    y = np.array([0] * 8 + [1] * 4)
    clf = BBNClassifier(ResNet32, max_epochs=2, batch_size=6, random_state=0).fit(X, y)
    assert isinstance(clf.module_, BilateralBranchNetwork)
    assert clf.module_.head.in_features == 128
    assert len(clf.module_.trunk.layers[2]) == 4
    assert clf.predict_proba(X).shape == (12, 2)


def test_augmentation_is_applied_to_both_batches_of_a_step():
    class Recording:
        calls = []

        def setup(self, dataset, class_counts):
            return self

        def __call__(self, X, labels):
            Recording.calls.append((len(X), labels.clone()))
            return X

    X, y = _long_tailed()
    _small(max_epochs=1, augmentation=Recording()).fit(X, y)
    # 88 rows in batches of 32: 3 steps, each with a conventional and a reversed batch.
    assert [n for n, _ in Recording.calls] == [32, 32, 32, 32, 24, 24]


def test_meta_reweighting_is_refused():
    X, y = _long_tailed()
    with pytest.raises(ValueError, match="meta_reweighting"):
        _small(meta_reweighting=object()).fit(X, y)
