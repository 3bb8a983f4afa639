"""Property tests of the losses: finite values and gradients for extreme logits."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from skimbal.losses import (
    BalancedSoftmaxLoss,
    ClassBalancedLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    MaxMarginLoss,
    MultiClassHingeLoss,
    effective_number_weights,
    inverse_frequency_weights,
    ldam_margins,
)

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)
TINY = torch.finfo(torch.float32).tiny

LOGIT = st.one_of(
    st.floats(-1e4, 1e4, width=32),
    st.sampled_from([-1e4, -1e3, -50.0, 0.0, 50.0, 1e3, 1e4]),
)


@st.composite
def problems(draw):
    """Logits, targets, class counts (zeros only for absent classes) and weights."""
    n_classes = draw(st.integers(2, 6))
    n_samples = draw(st.integers(1, 8))
    logits = draw(
        st.lists(
            st.lists(LOGIT, min_size=n_classes, max_size=n_classes),
            min_size=n_samples,
            max_size=n_samples,
        )
    )
    target = draw(st.lists(st.integers(0, n_classes - 1), min_size=n_samples, max_size=n_samples))
    counts = draw(st.lists(st.integers(0, 5000), min_size=n_classes, max_size=n_classes))
    for label in target:
        counts[label] = max(counts[label], 1)
    weight = draw(
        st.none() | st.lists(st.floats(0.0, 10.0), min_size=n_classes, max_size=n_classes)
    )
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    return (
        torch.tensor(logits, dtype=torch.float32),
        torch.tensor(target, dtype=torch.int64),
        counts,
        weight,
        reduction,
    )


def build_losses(counts, weight, reduction):
    """Every loss, built on the same counts, weights and reduction."""
    common = {"weight": weight, "reduction": reduction}
    losses = {
        "focal_half": FocalLoss(gamma=0.5, **common),
        "focal_two": FocalLoss(gamma=2.0, **common),
        "ldam": LDAMLoss(counts, **common),
        "max_margin": MaxMarginLoss(counts, **common),
        "max_margin_ldam": MaxMarginLoss(counts, ldam_offset=True, max_margin=1.29, **common),
        "logit_adjusted": LogitAdjustedLoss(counts, tau=1.5, **common),
        "balanced_softmax": BalancedSoftmaxLoss(counts, **common),
        "hinge": MultiClassHingeLoss(**common),
        "hinge_ldam": MultiClassHingeLoss(class_counts=counts, ldam_margins=True, **common),
    }
    for loss_type in ("softmax", "sigmoid", "focal"):
        losses[f"cb_{loss_type}"] = ClassBalancedLoss(
            counts, beta=0.999, loss_type=loss_type, gamma=0.5, reduction=reduction
        )
    return losses


@SETTINGS
@given(problems())
def test_losses_and_gradients_are_finite_and_non_negative(problem):
    logits, target, counts, weight, reduction = problem
    for name, loss in build_losses(counts, weight, reduction).items():
        inputs = logits.clone().requires_grad_(True)
        value = loss(inputs, target)
        assert torch.isfinite(value).all(), name
        assert (value >= 0).all(), name
        value.sum().backward()
        assert torch.isfinite(inputs.grad).all(), name


@SETTINGS
@given(problems())
def test_reductions_agree(problem):
    logits, target, counts, weight, _ = problem
    per_sample = build_losses(counts, weight, "none")
    summed = build_losses(counts, weight, "sum")
    for name, loss in build_losses(counts, weight, "mean").items():
        values = per_sample[name](logits, target)
        torch.testing.assert_close(summed[name](logits, target), values.sum(), msg=name)
        class_weight = loss.weight
        # The class-balanced loss divides by the batch size (the authors' code).
        if class_weight is None or getattr(loss, "normalization", None) == "batch":
            expected = values.mean()
        else:
            expected = values.sum() / class_weight[target].sum().clamp_min(TINY)
        torch.testing.assert_close(loss(logits, target), expected, msg=name)


@SETTINGS
@given(problems())
def test_margins_only_increase_the_loss(problem):
    logits, target, counts, _, _ = problem
    scale = 30.0
    ce = F.cross_entropy(scale * logits, target, reduction="none")
    for loss in (
        LDAMLoss(counts, scale=scale, reduction="none"),
        MaxMarginLoss(counts, scale=scale, reduction="none"),
    ):
        assert (loss(logits, target) >= ce * (1 - 1e-6)).all()
    plain = F.cross_entropy(logits, target, reduction="none")
    assert (FocalLoss(gamma=1.0, reduction="none")(logits, target) <= plain * (1 + 1e-6)).all()


@SETTINGS
@given(
    st.lists(st.integers(0, 100_000), min_size=1, max_size=20).filter(any),
    st.floats(0.0, 0.99999),
)
def test_weights_and_margins_are_finite_and_normalised(counts, beta):
    n_classes = len(counts)
    for weights in (effective_number_weights(counts, beta), inverse_frequency_weights(counts)):
        assert torch.isfinite(weights).all()
        assert (weights >= 0).all()
        assert weights.sum().item() == pytest.approx(n_classes, rel=1e-5)
        assert all(w == 0 for w, n in zip(weights.tolist(), counts, strict=True) if n == 0)
    margins = ldam_margins(counts, max_margin=0.5)
    assert torch.isfinite(margins).all()
    assert margins.max().item() == pytest.approx(0.5)
    assert (margins > 0).all()


@st.composite
def embedding_batches(draw):
    """A batch of embeddings with labels, some classes rare, values up to +-1e3."""
    n = draw(st.integers(4, 24))
    n_classes = draw(st.integers(2, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(n_classes, (n,), generator=generator)
    embedding = (torch.randn(n, 5, generator=generator) * scale).requires_grad_(True)
    logits = (torch.randn(n, n_classes, generator=generator) * scale).requires_grad_(True)
    return logits, labels, embedding


@SETTINGS
@given(
    embedding_batches(),
    st.sampled_from(["relative", "absolute", "distribution"]),
    st.sampled_from(["class", "instance"]),
)
def test_class_rectification_loss_is_finite_and_non_negative(batch, criterion, level):
    from skimbal.losses import ClassRectificationLoss

    logits, labels, embedding = batch
    loss = ClassRectificationLoss(criterion_type=criterion, level=level)(logits, labels, embedding)
    assert torch.isfinite(loss) and loss >= 0
    loss.backward()
    for tensor in (logits, embedding):
        assert tensor.grad is None or torch.isfinite(tensor.grad).all()


@SETTINGS
@given(embedding_batches(), st.integers(1, 3))
def test_quintuplet_loss_is_finite_and_non_negative(batch, clusters_per_class):
    from skimbal.losses import QuintupletLoss

    _, labels, embedding = batch
    cluster_ids = labels * clusters_per_class + torch.arange(len(labels)) % clusters_per_class
    loss = QuintupletLoss()(F.normalize(embedding, dim=1), labels, cluster_ids)
    assert torch.isfinite(loss) and loss >= 0
    loss.backward()
    assert embedding.grad is None or torch.isfinite(embedding.grad).all()
