"""Tests of the cosine and L-Softmax heads and of ``replace_head``."""

import math

import pytest
import torch
from torch import nn

from skimbal.losses import large_margin_logits
from skimbal.nn import (
    MLP,
    LargeMarginLinear,
    LargeMarginSoftmaxNetwork,
    NormedLinear,
    has_embedding,
    replace_head,
)


def test_normed_linear_outputs_are_cosines():
    torch.manual_seed(0)
    head = NormedLinear(6, 4)
    x = torch.randn(50, 6) * 10
    cosines = head(x)
    assert cosines.shape == (50, 4)
    assert cosines.abs().max() <= 1 + 1e-6
    expected = torch.stack(
        [torch.nn.functional.cosine_similarity(x, w.expand_as(x), dim=1) for w in head.weight],
        dim=1,
    )
    torch.testing.assert_close(cosines, expected)


def test_normed_linear_reaches_the_ends_and_is_scale_invariant():
    head = NormedLinear(3, 2)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]))
    x = torch.tensor([[5.0, 0.0, 0.0], [0.0, -0.1, 0.0], [1.0, 1.0, 0.0]])
    expected = torch.tensor([[1.0, 0.0], [0.0, -1.0], [1 / math.sqrt(2), 1 / math.sqrt(2)]])
    torch.testing.assert_close(head(x), expected)
    torch.testing.assert_close(head(3.7 * x), expected)


def test_normed_linear_has_no_bias():
    head = NormedLinear(5, 3)
    assert [name for name, _ in head.named_parameters()] == ["weight"]
    assert head.weight.shape == (3, 5)
    torch.testing.assert_close(head(torch.zeros(2, 5)), torch.zeros(2, 3))


def test_replace_head_on_mlp():
    torch.manual_seed(0)
    net = MLP(n_features=4, n_classes=3, hidden_layer_sizes=(8,))
    assert replace_head(net, NormedLinear) is net
    assert isinstance(net.head, NormedLinear)
    assert (net.head.in_features, net.head.out_features) == (8, 3)
    x = torch.randn(7, 4)
    torch.testing.assert_close(net(x), net.head(net.forward_features(x)))
    assert net(x).abs().max() <= 1 + 1e-6


def test_replace_head_passes_arguments_and_keeps_dtype():
    net = MLP(n_features=4, n_classes=3, hidden_layer_sizes=(8,)).double()
    replace_head(net, LargeMarginLinear, margin=3)
    assert net.head.margin == 3
    assert net.head.weight.dtype == torch.float64


def test_replace_head_rejects_modules_without_the_protocol():
    with pytest.raises(ValueError, match="embedding protocol"):
        replace_head(nn.Linear(3, 2), NormedLinear)

    class OddHead(MLP):
        def __init__(self):
            super().__init__(3, 2, hidden_layer_sizes=(4,))
            self.head = nn.Sequential(nn.Linear(4, 2))

    with pytest.raises(ValueError, match="in_features"):
        replace_head(OddHead(), NormedLinear)


def test_large_margin_linear_without_target_is_bias_free_linear():
    torch.manual_seed(0)
    head = LargeMarginLinear(5, 3, margin=4)
    x = torch.randn(6, 5)
    torch.testing.assert_close(head(x), x @ head.weight.T)


def test_large_margin_linear_changes_only_the_target_logit():
    torch.manual_seed(0)
    head = LargeMarginLinear(5, 3, margin=2)
    x, y = torch.randn(40, 5), torch.randint(0, 3, (40,))
    plain, margin = head(x), head(x, y)
    other = torch.ones_like(plain, dtype=torch.bool).scatter_(1, y[:, None], False)
    torch.testing.assert_close(margin[other], plain[other])
    # psi(theta) <= cos(theta), so the target logit can only drop.
    assert (margin.gather(1, y[:, None]) <= plain.gather(1, y[:, None]) + 1e-6).all()
    assert (margin.gather(1, y[:, None]) < plain.gather(1, y[:, None]) - 1e-3).any()


@pytest.mark.parametrize("margin", [0, -1, 1.5, True])
def test_large_margin_linear_rejects_bad_margins(margin):
    with pytest.raises(ValueError, match="margin"):
        LargeMarginLinear(3, 2, margin=margin)


def test_large_margin_network_takes_the_target_as_a_keyword():
    torch.manual_seed(0)
    backbone = MLP(n_features=4, n_classes=3, hidden_layer_sizes=(8,))
    net = LargeMarginSoftmaxNetwork(backbone, margin=3)
    assert net.backbone is backbone and net.head is backbone.head
    assert isinstance(net.head, LargeMarginLinear) and net.head.margin == 3
    assert has_embedding(net)
    net.head.mix = 0.5
    x, y = torch.randn(10, 4), torch.randint(0, 3, (10,))
    features = backbone.forward_features(x)
    torch.testing.assert_close(net.forward_features(x), features)
    torch.testing.assert_close(net(x), features @ net.head.weight.T)
    expected = large_margin_logits(features, net.head.weight, y, margin=3, mix=0.5)
    torch.testing.assert_close(net(x, target=y), expected)
    torch.testing.assert_close(net.forward_head(features, y), expected)
    # One set of parameters, saved under the backbone's names.
    assert sorted(net.state_dict()) == sorted(f"backbone.{k}" for k in backbone.state_dict())


def test_large_margin_network_refuses_targets_of_another_batch():
    net = LargeMarginSoftmaxNetwork(MLP(n_features=4, n_classes=3, hidden_layer_sizes=(8,)))
    with pytest.raises(ValueError, match="rows"):
        net(torch.randn(5, 4), target=torch.tensor([0, 1]))


def test_large_margin_network_needs_the_embedding_protocol():
    with pytest.raises(ValueError, match="embedding protocol"):
        LargeMarginSoftmaxNetwork(nn.Linear(3, 2))
