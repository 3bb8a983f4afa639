"""Tests of BBN: the two-branch module, the paired loader, the schedule and the estimator."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from skorch.callbacks import Callback, Checkpoint, LoadInitState

from skimbal._core.batch import Target
from skimbal._core.data import TensorBatchLoader, TensorDataset
from skimbal.callbacks import CumulativeLearning, MetaReweighting
from skimbal.callbacks._bbn import cumulative_learning_alpha
from skimbal.methods._bbn import BBNClassifier
from skimbal.nn import MLP, BilateralBranchNetwork, ResNet32, split_last_block
from skimbal.sampling import BilateralBatchLoader, ReversedSampler

from ._helpers import InterruptAfter


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
    loss = clf.get_loss(logits, Target(y_c, reversed=Target(y_r)), training=True)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    # A plain target (validation batches) gets the plain loss.
    assert clf.get_loss(logits, y_c).item() == pytest.approx(ce(logits, y_c).item(), rel=1e-6)


def test_loss_weights_each_half_by_its_own_sample_weights():
    X, y = _long_tailed()
    clf = _small(max_epochs=1).fit(X, y)
    clf.alpha_ = 0.25
    logits = torch.randn(4, 3)
    y_c, y_r = torch.tensor([0, 1, 2, 0]), torch.tensor([2, 2, 1, 0])
    w_c, w_r = torch.tensor([1.0, 0.0, 2.0, 1.0]), torch.tensor([0.5, 1.0, 0.0, 3.0])
    losses_c = torch.nn.functional.cross_entropy(logits, y_c, reduction="none")
    losses_r = torch.nn.functional.cross_entropy(logits, y_r, reduction="none")
    expected = 0.25 * (w_c * losses_c).sum() / w_c.sum() + 0.75 * (w_r * losses_r).sum() / w_r.sum()
    loss = clf.get_loss(logits, Target(y_c, w_c, reversed=Target(y_r, w_r)), training=True)
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
    loader = BilateralBatchLoader(
        TensorBatchLoader(dataset, batch_size=32, shuffle=True, seed=0), ReversedSampler(), seed=0
    )
    assert len(loader) == 4
    reversed_labels = []
    for _ in range(20):
        conventional = []
        for (X_c, X_r), target in loader:
            y_r = target.extras["reversed"].y
            assert torch.equal(target.y, y[X_c[:, 0].long()])
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


class _RecordingTransform(Callback):
    """A batch transform that records what it sees and passes the batch through."""

    def __init__(self, calls):
        self.calls = calls

    def transform_batch(self, net, X, target):
        self.calls.append((X.clone(), target.y.clone()))
        return X, target


def test_batch_transforms_are_applied_to_each_half_with_its_labels():
    X, y = _long_tailed()
    calls = []
    _small(max_epochs=1, callbacks=[_RecordingTransform(calls)]).fit(X, y)
    # 88 rows in batches of 32: 3 steps, each with a conventional and a reversed batch.
    assert [len(X_half) for X_half, _ in calls] == [32, 32, 32, 32, 24, 24]
    # Each half comes with the labels of its own rows.
    row_label = {row.tobytes(): label for row, label in zip(X, y, strict=True)}
    for X_half, labels in calls:
        expected = [row_label[row.tobytes()] for row in X_half.numpy()]
        np.testing.assert_array_equal(labels.numpy(), expected)
    # The conventional halves cover the data once, the reversed ones favour the tail.
    conventional = torch.cat([labels for _, labels in calls[0::2]])
    assert torch.equal(conventional.sort().values, torch.as_tensor(np.sort(y)))
    reversed_labels = torch.cat([labels for _, labels in calls[1::2]])
    assert (reversed_labels == 2).float().mean() > (conventional == 2).float().mean()


def test_transform_changing_one_half_is_refused():
    class DropFirstRowOfConventional(Callback):
        def __init__(self):
            self.count = 0

        def transform_batch(self, net, X, target):
            self.count += 1
            if self.count % 2:  # the conventional half comes first
                return X[1:], Target(target.y[1:])
            return X, target

    X, y = _long_tailed()
    with pytest.raises(ValueError, match="equal halves"):
        _small(max_epochs=1, callbacks=[DropFirstRowOfConventional()]).fit(X, y)


def test_meta_reweighting_is_refused():
    X, y = _long_tailed()
    with pytest.raises(ValueError, match="MetaReweighting"):
        _small(callbacks=[MetaReweighting()]).fit(X, y)
    with pytest.raises(ValueError, match="MetaReweighting"):
        _small(callbacks=[("meta", MetaReweighting())]).fit(X, y)


def test_schedule_callback_values_and_validation():
    X, y = _long_tailed()
    clf = _small(max_epochs=3, callbacks__cumulative_learning__max_epochs=4).fit(X, y)
    assert clf.history[:, "bbn_alpha"] == [1.0, 0.9375, 0.75]
    assert isinstance(dict(clf.callbacks_)["cumulative_learning"], CumulativeLearning)
    with pytest.raises(ValueError, match="max_epochs"):
        _small(callbacks__cumulative_learning__max_epochs=0).fit(X, y)
    with pytest.raises(ValueError, match="cumulative_learning"):
        _small(max_epochs=1, callbacks__cumulative_learning=None).fit(X, y)


def test_reversed_sampler_must_draw_indices():
    class RowCreating:
        def epoch_data(self, X, y, sample_weight, *, epoch, generator=None):
            return X, y, sample_weight

    X, y = _long_tailed()
    with pytest.raises(ValueError, match="reversed_sampler"):
        _small(reversed_sampler=RowCreating()).fit(X, y)
    clf = _small(max_epochs=1, reversed_sampler="class-balanced").fit(X, y)
    assert clf.reversed_sampler_.q == 0.0 and clf.reversed_sampler == "class-balanced"


def test_reversed_batches_depend_on_the_seed_and_epoch_only():
    y = torch.tensor([0] * 40 + [1] * 10)
    dataset = TensorDataset(torch.arange(50, dtype=torch.float32).unsqueeze(1), y,
                            sample_weight=torch.arange(50, dtype=torch.float32))

    def reversed_rows(start_epoch, passes):
        loader = BilateralBatchLoader(
            TensorBatchLoader(dataset, batch_size=16, shuffle=True, seed=3,
                              start_epoch=start_epoch),
            ReversedSampler(), seed=3,
        )
        epochs = [[X_r[:, 0].long() for (_, X_r), _ in loader] for _ in range(passes)]
        return [torch.cat(rows) for rows in epochs]

    from_start = reversed_rows(0, 4)
    # A loader resumed at epoch 3 draws what the fourth pass of an uninterrupted one drew.
    assert torch.equal(reversed_rows(3, 1)[0], from_start[3])
    assert not torch.equal(from_start[0], from_start[1])
    # A loader that does not count epochs (a DataLoader) is counted from start_epoch.
    data_loader = torch.utils.data.DataLoader(dataset, batch_size=16,
                                              collate_fn=TensorDataset.collate)
    counted = BilateralBatchLoader(data_loader, ReversedSampler(), seed=3, start_epoch=2)
    for expected in from_start[2:]:
        assert torch.equal(torch.cat([X_r[:, 0].long() for (_, X_r), _ in counted]), expected)
    assert counted.epoch == 4
    # The reversed targets carry the labels and sample weights of their rows.
    (_, X_r), target = next(iter(BilateralBatchLoader(
        TensorBatchLoader(dataset, batch_size=16, seed=0), ReversedSampler(), seed=0
    )))
    rows = X_r[:, 0].long()
    assert torch.equal(target.extras["reversed"].y, y[rows])
    assert torch.equal(target.extras["reversed"].sample_weight, rows.float())


@pytest.mark.parametrize("continuation", ["partial_fit", "warm_start"])
def test_alpha_follows_the_history_across_calls(continuation):
    X, y = _long_tailed()
    if continuation == "partial_fit":
        clf = _small(max_epochs=2).partial_fit(X, y).partial_fit(X, y)
    else:
        clf = _small(max_epochs=2, warm_start=True).fit(X, y).fit(X, y)
    # T_max is the planned length of one call: alpha reaches 0 and stays there.
    assert clf.history[:, "bbn_alpha"] == [1.0, 0.75, 0.0, 0.0]
    # With T_max set on the schedule, two calls of 2 epochs are one run of 4 epochs.
    spread = dict(max_epochs=2, callbacks__cumulative_learning__max_epochs=4)
    if continuation == "partial_fit":
        clf = _small(**spread).partial_fit(X, y).partial_fit(X, y)
    else:
        clf = _small(warm_start=True, **spread).fit(X, y).fit(X, y)
    whole = _small(max_epochs=4).fit(X, y)
    assert clf.history[:, "bbn_alpha"] == whole.history[:, "bbn_alpha"]
    np.testing.assert_array_equal(clf.predict_proba(X), whole.predict_proba(X))


class _EpochCounter(Callback):
    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_begin(self, net, **kwargs):
        self.epochs.append(len(net.history) - 1)


def test_resumed_run_continues_the_schedule_and_the_batches(tmp_path):
    X, y = _long_tailed()
    whole = _small(max_epochs=5).fit(X, y)
    checkpoint = Checkpoint(monitor=None, dirname=str(tmp_path))
    interrupted = _small(max_epochs=5, callbacks=[checkpoint, InterruptAfter(2)]).fit(X, y)
    assert interrupted.history[:, "bbn_alpha"] == [1.0, 0.96]
    epochs_run = []
    counter = _EpochCounter(epochs_run)
    resumed = _small(
        max_epochs=5, callbacks=[checkpoint, LoadInitState(checkpoint), counter]
    ).fit(X, y)
    # The two restored epochs are the interrupted run's; only three more were trained.
    assert resumed.history[:2, "dur"] == interrupted.history[:, "dur"]
    assert epochs_run == [2, 3, 4]
    assert resumed.history[:, "bbn_alpha"] == whole.history[:, "bbn_alpha"]
    assert resumed.history[:, "bbn_alpha"] == pytest.approx([1.0, 0.96, 0.84, 0.64, 0.36])
    np.testing.assert_array_equal(
        resumed.history[:, "train_loss"], whole.history[:, "train_loss"]
    )
    np.testing.assert_array_equal(resumed.predict_proba(X), whole.predict_proba(X))


def test_clone_and_pickle_of_a_fitted_estimator():
    X, y = _long_tailed()
    fitted = _small(reversed_sampler=ReversedSampler(n_samples=50)).fit(X, y)
    twin = clone(fitted)
    assert not hasattr(twin, "module_") and not hasattr(twin, "alpha_")
    assert twin.reversed_sampler is not fitted.reversed_sampler
    assert twin.reversed_sampler.n_samples == 50
    np.testing.assert_array_equal(twin.fit(X, y).predict_proba(X), fitted.predict_proba(X))
    dumped = pickle.dumps(fitted)
    assert X.tobytes() not in dumped  # the training data stay out of the pickle
    loaded = pickle.loads(dumped)
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    assert loaded.alpha_ == fitted.alpha_ == 0.4375
    assert loaded.history[:, "bbn_alpha"] == [1.0, 0.9375, 0.75, 0.4375]
