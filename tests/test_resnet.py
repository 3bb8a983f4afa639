"""CIFAR ResNets: architecture, embedding protocol and use in an estimator."""

import numpy as np
import pytest
import torch
from torch import nn

from skimbal import CrossEntropyClassifier
from skimbal.nn import ChannelNormalize, CifarResNet, RandomCropFlip, ResNet32, has_embedding
from skimbal.nn._resnet import _OptionAShortcut


def _n_parameters(module):
    return sum(p.numel() for p in module.parameters())


def _expected_count(blocks_per_stage, n_classes=10):
    # Stem: 3x3 convolution 3 -> 16 and batch norm (weight and bias). Each basic
    # block: two 3x3 convolutions and two batch norms; the first convolution of
    # stages 2 and 3 takes half as many channels. Option-A shortcuts have no
    # parameters. Head: linear 64 -> n_classes.
    count = 16 * 3 * 9 + 2 * 16
    for width, in_width in ((16, 16), (32, 16), (64, 32)):
        count += in_width * width * 9 + (2 * blocks_per_stage - 1) * width * width * 9
        count += 2 * blocks_per_stage * 2 * width
    return count + 64 * n_classes + n_classes


def test_resnet32_parameter_count():
    # He et al. (2016), Sec. 4.2: ResNet-32 has 0.46 M parameters, ResNet-20 0.27 M.
    assert _n_parameters(ResNet32(10)) == _expected_count(5) == 464_154
    assert _n_parameters(CifarResNet(20, 10)) == _expected_count(3) == 269_722
    assert _n_parameters(ResNet32(100)) == _expected_count(5, n_classes=100)


def test_shapes_and_embedding_protocol():
    torch.manual_seed(0)
    net = ResNet32(n_classes=7).eval()
    x = torch.randn(5, 3, 32, 32)
    z = net.forward_features(x)
    assert z.shape == (5, 64) and net.n_embedding == 64
    assert has_embedding(net)
    assert isinstance(net.head, nn.Linear)
    assert (net.head.in_features, net.head.out_features) == (64, 7)
    torch.testing.assert_close(net(x), net.forward_head(z), rtol=0, atol=0)
    assert net(x).shape == (5, 7)
    # Embeddings are pooled ReLU outputs: non-negative.
    assert bool((z >= 0).all())


def test_stage_resolution_and_strides():
    net = ResNet32(10)
    assert [len(stage) for stage in (net.layer1, net.layer2, net.layer3)] == [5, 5, 5]
    strides = [block.conv1.stride[0] for stage in (net.layer1, net.layer2, net.layer3)
               for block in stage]
    assert strides == [1] * 5 + [2] + [1] * 4 + [2] + [1] * 4
    out = net.layer3(net.layer2(net.layer1(torch.zeros(1, 16, 32, 32))))
    assert out.shape == (1, 64, 8, 8)


def test_option_a_shortcut_subsamples_and_zero_pads():
    x = torch.arange(16 * 4 * 4, dtype=torch.float32).reshape(1, 16, 4, 4)
    out = _OptionAShortcut(16, 32)(x)
    assert out.shape == (1, 32, 2, 2)
    assert bool((out[:, :8] == 0).all()) and bool((out[:, 24:] == 0).all())
    torch.testing.assert_close(out[:, 8:24], x[:, :, ::2, ::2], rtol=0, atol=0)
    block = ResNet32(10).layer2[0]
    assert _n_parameters(block.shortcut) == 0


def test_kaiming_normal_initialisation():
    torch.manual_seed(0)
    net = ResNet32(10)
    weight = net.layer3[4].conv2.weight  # fan_in 64 * 9
    assert abs(weight.std().item() / np.sqrt(2 / (64 * 9)) - 1) < 0.05
    assert abs(weight.mean().item()) < 0.01 * np.sqrt(2 / (64 * 9)) * 10


def test_transform_is_applied_first():
    torch.manual_seed(0)
    norm = ChannelNormalize(mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    with_transform = ResNet32(10, transform=norm).eval()
    plain = ResNet32(10).eval()
    plain.load_state_dict(
        {k: v for k, v in with_transform.state_dict().items() if not k.startswith("transform")}
    )
    x = torch.rand(3, 3, 32, 32)
    torch.testing.assert_close(with_transform(x), plain(norm(x)))


def test_split_last_block_includes_the_transform():
    torch.manual_seed(0)
    net = ResNet32(10, transform=ChannelNormalize((0.5,) * 3, (0.25,) * 3)).eval()
    trunk, last = net.split_last_block()
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(last(trunk(x)), net.forward_features(x))
    # Shared parameters, no copies.
    assert last.block.conv1.weight is net.layer3[4].conv1.weight


@pytest.mark.parametrize("depth", [0, 7, 21, 33])
def test_invalid_depth(depth):
    with pytest.raises(ValueError, match="depth must be 6 k \\+ 2"):
        CifarResNet(depth, 10)


def test_in_channels():
    net = ResNet32(4, in_channels=1)
    assert net(torch.zeros(2, 1, 32, 32)).shape == (2, 4)


@pytest.mark.slow
def test_one_epoch_estimator_with_augmentation():
    # The CIFAR recipe end to end on 32 random images: the estimator fills in
    # n_classes, trains with on-device augmentation and predicts in eval mode.
    rng = np.random.default_rng(0)
    X = rng.random((32, 3, 32, 32), dtype=np.float32)
    y = np.repeat(["cat", "dog", "ship"], [20, 8, 4])
    transform = nn.Sequential(RandomCropFlip(), ChannelNormalize((0.5,) * 3, (0.25,) * 3))
    clf = CrossEntropyClassifier(
        ResNet32,
        module__transform=transform,
        optimizer=torch.optim.SGD,
        lr=0.1,
        optimizer__momentum=0.9,
        optimizer__weight_decay=2e-4,
        batch_size=16,
        max_epochs=1,
        random_state=0,
    ).fit(X, y)
    assert clf.module_.head.out_features == 3
    assert isinstance(clf.module_.transform[0], RandomCropFlip)
    assert len(clf.history_) == 1 and np.isfinite(clf.history_[-1, "train_loss"])
    proba = clf.predict_proba(X)
    assert proba.shape == (32, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    # Prediction is deterministic: the augmentation is off in eval mode.
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    assert set(clf.predict(X)) <= {"cat", "dog", "ship"}
