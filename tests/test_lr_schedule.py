"""The warm-up + multi-step learning-rate schedule of the CIFAR recipe."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from skorch.history import History

from skimbal import CrossEntropyClassifier
from skimbal.callbacks import WarmupMultiStepLR, warmup_multistep_factor


def _run_schedule(callback, max_epochs, lrs=(0.1,)):
    """Drive the callback over a whole fit; return the lr of each epoch per group."""
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)]
    optimizer = torch.optim.SGD(groups)
    net = SimpleNamespace(max_epochs=max_epochs, optimizer_=optimizer, history=History())
    callback.initialize()
    callback.on_train_begin(net)
    seen = []
    for _ in range(max_epochs):
        net.history.new_epoch()
        callback.on_epoch_begin(net)
        seen.append([group["lr"] for group in optimizer.param_groups])
    return np.array(seen), net


def test_recipe_values_at_key_epochs():
    # Cao et al. (2019) code: lr * (e + 1) / 5 for e < 5, x0.01 from 160, x1e-4 from 180.
    lrs, net = _run_schedule(WarmupMultiStepLR(), max_epochs=200)
    lrs = lrs[:, 0]
    expected = {0: 0.02, 1: 0.04, 2: 0.06, 3: 0.08, 4: 0.1, 5: 0.1, 159: 0.1,
                160: 0.001, 179: 0.001, 180: 1e-5, 199: 1e-5}
    for epoch, lr in expected.items():
        assert lrs[epoch] == pytest.approx(lr, rel=1e-12), epoch
    assert net.history[:, "lr"] == pytest.approx(list(lrs), rel=1e-12)


def test_schedule_scales_with_max_epochs():
    callback = WarmupMultiStepLR()
    lrs, _ = _run_schedule(callback, max_epochs=20)
    # 0.025 * 20 = 0.5 rounds up to 1 warm-up epoch; 0.8 and 0.9 of 20 are 16, 18.
    assert callback._epochs(n_epochs=20) == (1, (16, 18))
    np.testing.assert_allclose(lrs[:, 0], [0.1] * 16 + [1e-3] * 2 + [1e-5] * 2, rtol=1e-12)


def test_factor_function():
    f = [warmup_multistep_factor(e, 4, (2, 6), (0.5, 0.1)) for e in range(8)]
    # The warm-up multiplies the milestone factor when they overlap.
    np.testing.assert_allclose(f, [0.25, 0.5, 0.75 * 0.5, 0.5, 0.5, 0.5, 0.1, 0.1])
    assert warmup_multistep_factor(0, 0, (), ()) == 1.0


def test_every_parameter_group_from_its_own_base():
    lrs, _ = _run_schedule(WarmupMultiStepLR(warmup=2, milestones=(3,), factors=(0.1,)),
                           max_epochs=4, lrs=(0.1, 1.0))
    np.testing.assert_allclose(lrs, [[0.05, 0.5], [0.1, 1.0], [0.1, 1.0], [0.01, 0.1]])


def test_tensor_learning_rate_is_filled_in_place():
    param = torch.nn.Parameter(torch.zeros(1))
    lr = torch.tensor(0.1)
    optimizer = torch.optim.SGD([param], lr=lr)
    net = SimpleNamespace(max_epochs=4, optimizer_=optimizer, history=History())
    callback = WarmupMultiStepLR(warmup=2, milestones=(), factors=()).initialize()
    callback.on_train_begin(net)
    net.history.new_epoch()
    callback.on_epoch_begin(net)
    assert optimizer.param_groups[0]["lr"] is lr
    assert lr.item() == pytest.approx(0.05)


def test_in_a_fit_and_with_warm_start():
    rng = np.random.default_rng(0)
    X, y = rng.random((30, 3)), np.arange(30) % 2
    clf = CrossEntropyClassifier(
        optimizer=torch.optim.SGD, lr=0.2, max_epochs=5, hidden_layer_sizes=(4,),
        callbacks=[WarmupMultiStepLR(warmup=2, milestones=(0.8,), factors=(0.1,))],
        random_state=0, warm_start=True,
    ).fit(X, y)
    np.testing.assert_allclose(clf.history_[:, "lr"], [0.1, 0.2, 0.2, 0.2, 0.02])
    assert clf.optimizer_.param_groups[0]["lr"] == pytest.approx(0.02)
    # The base rate is kept in the parameter group, where a checkpoint saves it.
    assert clf.optimizer_.param_groups[0]["initial_lr"] == 0.2
    # A warm-started fit continues the schedule (epochs 5..9, past the milestone)
    # from the same base rate instead of restarting the warm-up.
    clf.fit(X, y)
    np.testing.assert_allclose(clf.history_[-5:, "lr"], [0.02] * 5)
    assert clf.optimizer_.param_groups[0]["initial_lr"] == 0.2


def test_continues_across_partial_fit_calls():
    rng = np.random.default_rng(0)
    X, y = rng.random((30, 3)), np.arange(30) % 2
    clf = CrossEntropyClassifier(
        optimizer=torch.optim.SGD, lr=0.2, max_epochs=4, hidden_layer_sizes=(4,),
        callbacks=[WarmupMultiStepLR(warmup=3, milestones=(5,), factors=(0.1,))],
        random_state=0,
    )
    clf.partial_fit(X, y)
    clf.partial_fit(X, y)
    np.testing.assert_allclose(
        clf.history_[:, "lr"], [0.2 / 3, 0.4 / 3, 0.2, 0.2, 0.2, 0.02, 0.02, 0.02]
    )


def test_initial_lr_of_the_optimizer_state_is_the_base():
    # A restored optimizer state carries initial_lr: the schedule scales it, not
    # the (already scaled) current rate.
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.001)
    optimizer.param_groups[0]["initial_lr"] = 0.1
    net = SimpleNamespace(max_epochs=10, optimizer_=optimizer, history=History())
    callback = WarmupMultiStepLR(warmup=0, milestones=(8,), factors=(0.1,)).initialize()
    for _ in range(3):
        net.history.new_epoch()
    callback.on_epoch_begin(net)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)
    assert net.history[-1, "lr"] == pytest.approx(0.1)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(milestones=(160, 180), factors=(0.1,)), "one value per milestone"),
        (dict(milestones=(160,), factors=(0.0,)), "positive"),
        (dict(milestones=(180, 160), factors=(0.1, 0.01)), "non-decreasing"),
        (dict(warmup=-1), "'warmup' parameter of WarmupMultiStepLR"),
        (dict(warmup=1.5), "'warmup' parameter of WarmupMultiStepLR"),
        (dict(milestones=(160, -1), factors=(0.1, 0.01)), "milestones must be"),
    ],
)
def test_invalid_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        WarmupMultiStepLR(**params).initialize()
