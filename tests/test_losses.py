"""Exact values and invariants of the re-weighting and margin losses."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skimbal.losses import (
    AttributeBCELoss,
    AttributeClassBalancedLoss,
    AttributeFocalLoss,
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
    sigmoid_prior_bias,
)

CIFAR10_IR100 = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
# REFERENCE.md test vectors for the CIFAR-10 IR100 counts.
DRW_WEIGHTS = [0.0506, 0.0769, 0.1211, 0.1950, 0.3188, 0.5246, 0.8683, 1.4426, 2.4092, 3.9927]
LDAM_MARGINS = [0.1581, 0.1797, 0.2042, 0.2321, 0.2638, 0.2998, 0.3407, 0.3872, 0.4405, 0.5]

# Counts whose LDAM margins are exactly 0.1, 0.2, 0.5 (n^(-1/4) = 0.1, 0.2, 0.5).
COUNTS_3 = [10000, 625, 16]
LOGITS = torch.tensor(
    [[0.5, -0.2, 0.1], [0.3, 0.4, -0.6], [-0.2, -0.5, -0.9], [0.1, 0.6, -0.3]],
    dtype=torch.float64,
)
TARGET = torch.tensor([0, 1, 0, 2])
WEIGHT = torch.tensor([0.5, 2.0, 1.5])


def ce_by_hand(row, label):
    """-log softmax(row)[label] with math."""
    return -row[label] + math.log(sum(math.exp(v) for v in row))


def all_losses(weight=None):
    """One instance of every loss, with the given class weights where it takes them."""
    return {
        "focal": FocalLoss(gamma=2.0, weight=weight),
        "ldam": LDAMLoss(COUNTS_3, scale=5.0, weight=weight),
        "max_margin": MaxMarginLoss(COUNTS_3, scale=5.0, ldam_offset=True, weight=weight),
        "logit_adjusted": LogitAdjustedLoss(COUNTS_3, tau=0.7, weight=weight),
        "balanced_softmax": BalancedSoftmaxLoss(COUNTS_3, weight=weight),
        "hinge": MultiClassHingeLoss(margin=0.8, weight=weight),
    }


# ------------------------------------------------------------ weights and margins
def test_effective_number_weights_reference_vector():
    weights = effective_number_weights(CIFAR10_IR100, beta=0.9999)
    assert weights.dtype == torch.float32
    np.testing.assert_allclose(weights.numpy(), DRW_WEIGHTS, atol=5e-5)
    assert weights.sum().item() == pytest.approx(10.0, rel=1e-6)


def test_effective_number_weights_by_hand_and_beta_zero():
    # (1 - 0.9) / (1 - 0.9**n) for n = 100, 10, normalised to sum 2.
    raw = [0.1 / (1 - 0.9**100), 0.1 / (1 - 0.9**10)]
    expected = [2 * r / sum(raw) for r in raw]
    np.testing.assert_allclose(effective_number_weights([100, 10], beta=0.9), expected, rtol=1e-6)
    assert torch.equal(effective_number_weights(CIFAR10_IR100, beta=0.0), torch.ones(10))


def test_effective_number_weights_tend_to_inverse_frequency():
    near_one = effective_number_weights(CIFAR10_IR100, beta=1 - 1e-9)
    np.testing.assert_allclose(near_one, inverse_frequency_weights(CIFAR10_IR100), rtol=1e-4)


def test_inverse_frequency_weights_by_hand():
    np.testing.assert_allclose(inverse_frequency_weights([90, 10]), [0.2, 1.8], rtol=1e-6)
    np.testing.assert_allclose(inverse_frequency_weights([1, 2, 4]), [12 / 7, 6 / 7, 3 / 7])


def test_zero_count_classes_get_zero_weight_and_the_largest_margin():
    for weights in (
        effective_number_weights([30, 0, 10], beta=0.99),
        effective_number_weights([30, 0, 10], beta=0.0),
        inverse_frequency_weights([30, 0, 10]),
    ):
        assert torch.isfinite(weights).all()
        assert weights[1] == 0
        assert weights.sum().item() == pytest.approx(3.0)
    np.testing.assert_allclose(effective_number_weights([30, 0, 10], beta=0.0), [1.5, 0, 1.5])
    margins = ldam_margins([10000, 0, 16], max_margin=0.5)
    np.testing.assert_allclose(margins, [0.1, 0.5, 0.5], rtol=1e-6)


def test_ldam_margins_reference_vector():
    margins = ldam_margins(CIFAR10_IR100, max_margin=0.5)
    assert margins.dtype == torch.float32
    np.testing.assert_allclose(margins.numpy(), LDAM_MARGINS, atol=5e-5)
    np.testing.assert_allclose(ldam_margins(COUNTS_3, max_margin=1.0), [0.2, 0.4, 1.0], rtol=1e-6)


def test_class_counts_accepted_as_list_array_and_tensor():
    expected = effective_number_weights(CIFAR10_IR100)
    for counts in (np.array(CIFAR10_IR100), torch.tensor(CIFAR10_IR100), tuple(CIFAR10_IR100)):
        assert torch.equal(effective_number_weights(counts), expected)


BAD_COUNTS = [
    [[10, 20], [30, 40]],
    [],
    [10, -1, 5],
    [10, float("nan")],
    [10, float("inf")],
    [0, 0, 0],
    ["a", "b"],
    None,
]


@pytest.mark.parametrize("counts", BAD_COUNTS, ids=repr)
@pytest.mark.parametrize(
    "build",
    [
        effective_number_weights,
        inverse_frequency_weights,
        ldam_margins,
        ClassBalancedLoss,
        LDAMLoss,
        LogitAdjustedLoss,
        BalancedSoftmaxLoss,
        lambda counts: MaxMarginLoss(counts, ldam_offset=True),
        lambda counts: MultiClassHingeLoss(class_counts=counts, ldam_margins=True),
    ],
)
def test_bad_class_counts_raise(build, counts):
    with pytest.raises(ValueError, match="class_counts"):
        build(counts)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: effective_number_weights([1, 2], beta=1.0), "beta"),
        (lambda: effective_number_weights([1, 2], beta=-0.1), "beta"),
        (lambda: ldam_margins([1, 2], max_margin=0.0), "max_margin"),
        (lambda: FocalLoss(gamma=-1.0), "gamma"),
        (lambda: FocalLoss(reduction="average"), "reduction"),
        (lambda: FocalLoss(weight=[[1.0, 2.0]]), "weight"),
        (lambda: FocalLoss(weight=[1.0, -2.0]), "weight"),
        (lambda: ClassBalancedLoss([1, 2], loss_type="hinge"), "loss_type"),
        (lambda: LDAMLoss([1, 2], scale=0.0), "scale"),
        (lambda: LogitAdjustedLoss([1, 2], tau=-1.0), "tau"),
        (lambda: MaxMarginLoss(ldam_offset=True), "class_counts"),
        (lambda: MaxMarginLoss(COUNTS_3, ldam_offset="yes"), "ldam_offset"),
        (lambda: MaxMarginLoss(COUNTS_3, ldam_offset=-0.5), "ldam_offset"),
        (lambda: MultiClassHingeLoss(ldam_margins=True), "class_counts"),
        (lambda: sigmoid_prior_bias(1), "n_classes"),
    ],
)
def test_bad_parameters_raise(build, message):
    with pytest.raises(ValueError, match=message):
        build()


# -------------------------------------------------------------- reductions
@pytest.mark.parametrize("name", list(all_losses()))
def test_reductions_are_consistent(name):
    loss = all_losses(weight=WEIGHT)[name]
    loss.reduction = "none"
    per_sample = loss(LOGITS, TARGET)
    loss.reduction = "sum"
    total = loss(LOGITS, TARGET)
    loss.reduction = "mean"
    mean = loss(LOGITS, TARGET)
    unweighted = all_losses()[name]
    unweighted.reduction = "none"
    plain = unweighted(LOGITS, TARGET)
    assert per_sample.shape == (4,)
    torch.testing.assert_close(per_sample, plain * WEIGHT.double()[TARGET])
    torch.testing.assert_close(total, per_sample.sum())
    torch.testing.assert_close(mean, per_sample.sum() / WEIGHT.double()[TARGET].sum())
    unweighted.reduction = "mean"
    torch.testing.assert_close(unweighted(LOGITS, TARGET), plain.mean())


@pytest.mark.parametrize("name", list(all_losses()))
def test_weight_is_a_replaceable_buffer(name):
    loss = all_losses()[name]
    assert loss.weight is None
    before = loss(LOGITS, TARGET)
    loss.weight = WEIGHT.clone()
    assert "weight" in dict(loss.named_buffers())
    assert "weight" in loss.state_dict()
    after = loss(LOGITS, TARGET)
    assert not torch.isclose(before, after)
    assert loss.to(torch.float64).weight.dtype == torch.float64


def test_reduction_can_be_switched_after_construction():
    loss = FocalLoss(gamma=1.0)
    loss.reduction = "bogus"
    with pytest.raises(ValueError, match="reduction"):
        loss(LOGITS, TARGET)


def test_all_zero_weights_give_zero_mean_not_nan():
    loss = FocalLoss(gamma=1.0, weight=torch.zeros(3))
    assert loss(LOGITS, TARGET).item() == 0.0


# -------------------------------------------------------------- focal
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_focal_gamma_zero_is_weighted_cross_entropy(reduction):
    focal = FocalLoss(gamma=0.0, weight=WEIGHT, reduction=reduction)
    ce = torch.nn.CrossEntropyLoss(weight=WEIGHT.double(), reduction=reduction)
    torch.testing.assert_close(focal(LOGITS, TARGET), ce(LOGITS, TARGET))


def test_focal_by_hand():
    loss = FocalLoss(gamma=2.0, reduction="none")(LOGITS, TARGET)
    expected = []
    for row, label in zip(LOGITS.tolist(), TARGET.tolist(), strict=True):
        ce = ce_by_hand(row, label)
        expected.append((1 - math.exp(-ce)) ** 2 * ce)
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)


def test_focal_is_at_most_cross_entropy():
    ce = F.cross_entropy(LOGITS, TARGET, reduction="none")
    for gamma in (0.5, 1.0, 3.0):
        assert (FocalLoss(gamma=gamma, reduction="none")(LOGITS, TARGET) <= ce).all()


def test_half_precision_logits_are_promoted():
    value = FocalLoss(gamma=1.0)(LOGITS.to(torch.bfloat16), TARGET)
    assert value.dtype == torch.float32


# -------------------------------------------------------------- class-balanced
def test_class_balanced_softmax_beta_zero_is_cross_entropy():
    loss = ClassBalancedLoss(COUNTS_3, beta=0.0, loss_type="softmax")
    torch.testing.assert_close(loss(LOGITS, TARGET), F.cross_entropy(LOGITS, TARGET))


def test_class_balanced_softmax_is_weighted_cross_entropy():
    # normalization='weights' is PyTorch's weighted mean: sum w l / sum w.
    loss = ClassBalancedLoss(CIFAR10_IR100, beta=0.9999, normalization="weights")
    np.testing.assert_allclose(loss.weight.numpy(), DRW_WEIGHTS, atol=5e-5)
    logits = torch.randn(6, 10, generator=torch.Generator().manual_seed(0))
    target = torch.tensor([0, 9, 3, 3, 5, 9])
    expected = torch.nn.CrossEntropyLoss(weight=loss.weight)(logits, target)
    torch.testing.assert_close(loss(logits, target), expected)


def authors_class_balanced_loss(logits, labels, weights, loss_type, gamma):
    """Cui et al.'s TensorFlow formulas (src/cifar_main.py), in float64 numpy."""
    z, n_classes = np.asarray(logits, np.float64), len(weights)
    one_hot = np.eye(n_classes)[labels]
    w = np.asarray(weights, np.float64)[labels][:, None] * np.ones(n_classes)
    if loss_type == "softmax":
        # tf.losses.softmax_cross_entropy with per-sample weights: the weighted sum
        # divided by the number of non-zero weights (the batch size).
        log_p = z - z.max(1, keepdims=True)
        log_p = log_p - np.log(np.exp(log_p).sum(1, keepdims=True))
        per_sample = -(one_hot * log_p).sum(1)
        return (w.mean(1) * per_sample).sum() / np.count_nonzero(w.mean(1))
    bce = np.maximum(z, 0) - z * one_hot + np.log1p(np.exp(-np.abs(z)))
    if loss_type == "focal":
        bce = np.exp(-gamma * one_hot * z - gamma * np.log1p(np.exp(-z))) * bce
    # Sigmoid and focal: the weighted sum divided by the number of positive labels.
    return (w * bce).sum() / one_hot.sum()


@pytest.mark.parametrize("loss_type", ["softmax", "sigmoid", "focal"])
def test_class_balanced_mean_is_the_authors_normalisation(loss_type):
    logits = torch.randn(7, 10, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    target = torch.tensor([0, 0, 0, 1, 4, 9, 9])
    loss = ClassBalancedLoss(CIFAR10_IR100, beta=0.9999, loss_type=loss_type, gamma=2.0)
    assert loss.normalization == "batch"
    expected = authors_class_balanced_loss(logits.numpy(), target.numpy(), loss.weight.numpy(),
                                           loss_type, 2.0)
    assert loss(logits, target).item() == pytest.approx(expected, rel=1e-6)
    # Sum of the per-sample (weighted) losses divided by N, not by N x C or sum w.
    loss.reduction = "none"
    assert loss(logits, target).sum().item() / 7 == pytest.approx(expected, rel=1e-6)


def test_class_balanced_normalisations_differ_by_the_mean_weight():
    logits = torch.randn(5, 10, generator=torch.Generator().manual_seed(2))
    target = torch.tensor([0, 0, 1, 2, 9])
    batch = ClassBalancedLoss(CIFAR10_IR100, loss_type="focal")
    weights = ClassBalancedLoss(CIFAR10_IR100, loss_type="focal", normalization="weights")
    mean_weight = batch.weight[target].mean()
    torch.testing.assert_close(weights(logits, target) * mean_weight, batch(logits, target))
    with pytest.raises(ValueError, match="normalization"):
        ClassBalancedLoss(CIFAR10_IR100, normalization="n")


def test_class_balanced_sigmoid_is_one_hot_bce():
    loss = ClassBalancedLoss(COUNTS_3, beta=0.999, loss_type="sigmoid", reduction="none")
    one_hot = F.one_hot(TARGET, 3).double()
    bce = F.binary_cross_entropy_with_logits(LOGITS, one_hot, reduction="none").sum(dim=1)
    torch.testing.assert_close(loss(LOGITS, TARGET), bce * loss.weight.double()[TARGET])


def test_class_balanced_focal_by_hand():
    loss = ClassBalancedLoss(COUNTS_3, beta=0.999, loss_type="focal", gamma=2.0, reduction="none")
    weight = loss.weight.tolist()
    expected = []
    for row, label in zip(LOGITS.tolist(), TARGET.tolist(), strict=True):
        total = 0.0
        for j, z in enumerate(row):
            p = 1 / (1 + math.exp(-z))
            p_true = p if j == label else 1 - p
            total += -((1 - p_true) ** 2) * math.log(p_true)
        expected.append(weight[label] * total)
    np.testing.assert_allclose(loss(LOGITS, TARGET).numpy(), expected, rtol=1e-6)
    sigmoid = ClassBalancedLoss(COUNTS_3, beta=0.999, loss_type="sigmoid", reduction="none")
    focal_zero = ClassBalancedLoss(COUNTS_3, beta=0.999, loss_type="focal", gamma=0.0)
    focal_zero.reduction = "none"
    torch.testing.assert_close(focal_zero(LOGITS, TARGET), sigmoid(LOGITS, TARGET))


# -------------------------------------------------------------- multi-label
ML_LOGITS = torch.tensor([[2.0, -1.0, 0.5], [-0.5, 0.0, 3.0]], dtype=torch.float64)
ML_TARGET = torch.tensor([[1, 0, 0], [0, 1, 1]])


def bce_by_hand(z, y):
    p = 1 / (1 + math.exp(-z))
    return -math.log(p if y else 1 - p)


def test_attribute_focal_loss_by_hand():
    gamma, weight = 2.0, [[1.0, 2.0], [0.5, 1.5], [1.0, 1.0]]
    loss = AttributeFocalLoss(gamma=gamma, weight=weight, reduction="none")
    expected = np.zeros((2, 3))
    for i, j in np.ndindex(2, 3):
        z, y = ML_LOGITS[i, j].item(), ML_TARGET[i, j].item()
        p_t = math.exp(-bce_by_hand(z, y))
        expected[i, j] = weight[j][y] * (1 - p_t) ** gamma * bce_by_hand(z, y)
    np.testing.assert_allclose(loss(ML_LOGITS, ML_TARGET).numpy(), expected, rtol=1e-9)
    loss.reduction = "mean"  # weighted mean: sum w l / sum w
    w = np.array([[weight[j][ML_TARGET[i, j]] for j in range(3)] for i in range(2)])
    assert loss(ML_LOGITS, ML_TARGET).item() == pytest.approx(expected.sum() / w.sum())
    zero = AttributeFocalLoss(gamma=0.0, weight=weight)
    torch.testing.assert_close(zero(ML_LOGITS, ML_TARGET),
                               AttributeBCELoss(weight=weight)(ML_LOGITS, ML_TARGET))


def test_attribute_class_balanced_loss_by_hand():
    counts = [[90, 10], [20, 80], [50, 50]]
    loss = AttributeClassBalancedLoss(counts, beta=0.99, loss_type="focal", gamma=1.0)
    for row, count in zip(loss.weight, counts, strict=True):
        torch.testing.assert_close(row, effective_number_weights(count, beta=0.99))
    expected = 0.0
    for i, j in np.ndindex(2, 3):
        z, y = ML_LOGITS[i, j].item(), ML_TARGET[i, j].item()
        p_t = math.exp(-bce_by_hand(z, y))
        expected += loss.weight[j, y].item() * (1 - p_t) * bce_by_hand(z, y)
    # The authors' normalisation: the weighted sum over N x A terms divided by N x A.
    assert loss(ML_LOGITS, ML_TARGET).item() == pytest.approx(expected / 6, rel=1e-6)
    # softmax of a binary problem is the sigmoid: the two variants agree.
    softmax = AttributeClassBalancedLoss(counts, beta=0.99, loss_type="softmax")
    sigmoid = AttributeClassBalancedLoss(counts, beta=0.99, loss_type="sigmoid")
    torch.testing.assert_close(softmax(ML_LOGITS, ML_TARGET), sigmoid(ML_LOGITS, ML_TARGET))
    by_weights = AttributeClassBalancedLoss(counts, beta=0.99, normalization="weights")
    plain = AttributeBCELoss(weight=by_weights.weight)
    torch.testing.assert_close(by_weights(ML_LOGITS, ML_TARGET), plain(ML_LOGITS, ML_TARGET))
    with pytest.raises(ValueError, match="n_attributes, 2"):
        AttributeClassBalancedLoss([90, 10])
    with pytest.raises(ValueError, match="loss_type"):
        AttributeClassBalancedLoss(counts, loss_type="hinge")


def test_sigmoid_prior_bias():
    assert sigmoid_prior_bias(10) == pytest.approx(-math.log(9))
    assert sigmoid_prior_bias(2) == 0.0
    prob = torch.sigmoid(torch.tensor(sigmoid_prior_bias(100), dtype=torch.float64))
    assert prob.item() == pytest.approx(0.01)


# -------------------------------------------------------------- LDAM
def test_ldam_by_hand_on_two_by_three():
    logits = torch.tensor([[0.5, -0.2, 0.1], [0.3, 0.4, -0.6]])
    target = torch.tensor([0, 2])
    loss = LDAMLoss(COUNTS_3, max_margin=0.5, scale=2.0, reduction="none")
    np.testing.assert_allclose(loss.margins, [0.1, 0.2, 0.5], rtol=1e-6)
    expected = [
        ce_by_hand([2 * 0.4, 2 * -0.2, 2 * 0.1], 0),
        ce_by_hand([2 * 0.3, 2 * 0.4, 2 * -1.1], 2),
    ]
    np.testing.assert_allclose(loss(logits, target).numpy(), expected, rtol=1e-6)


def test_ldam_weighted_mean_matches_cross_entropy_on_shifted_logits():
    loss = LDAMLoss(COUNTS_3, scale=30.0, weight=WEIGHT)
    margins = loss.margins.double()[TARGET]
    shifted = LOGITS - F.one_hot(TARGET, 3) * margins[:, None]
    expected = F.cross_entropy(30.0 * shifted, TARGET, weight=WEIGHT.double())
    torch.testing.assert_close(loss(LOGITS, TARGET), expected)


# -------------------------------------------------------------- max-margin
def test_max_margin_shift_by_hand():
    # Rows: (p, q) = (0.5, 0.1), (0.4, 0.3), (-0.2, -0.5) all cosines negative,
    # (-0.3, 0.6) p < q. Each sample reads its own target.
    loss = MaxMarginLoss(scale=4.0, max_margin=0.5, gamma=1.5)
    expected = [
        math.exp(-0.4 - 0.75),
        math.exp(-0.1 - 0.75),
        math.exp(-0.3 - 0.75),
        math.exp(-0.9 - 0.5),
    ]
    shift = loss.target_shift(LOGITS, TARGET)
    np.testing.assert_allclose(shift.numpy(), expected, rtol=1e-12)
    # Masking the target to 0 would have taken q = 0 > p for the all-negative row.
    assert shift[2] < math.exp(-0.5)


def test_max_margin_loss_by_hand():
    loss = MaxMarginLoss(scale=4.0, max_margin=0.5, gamma=1.5, reduction="none")
    shift = [math.exp(-0.4 - 0.75), math.exp(-0.1 - 0.75), math.exp(-0.3 - 0.75),
             math.exp(-0.9 - 0.5)]
    expected = []
    for row, label, delta in zip(LOGITS.tolist(), TARGET.tolist(), shift, strict=True):
        row = list(row)
        row[label] -= delta
        expected.append(ce_by_hand([4.0 * v for v in row], label))
    np.testing.assert_allclose(loss(LOGITS, TARGET).numpy(), expected, rtol=1e-12)


def test_max_margin_ldam_offset_uses_per_class_margin():
    loss = MaxMarginLoss(COUNTS_3, max_margin=1.29, gamma=1.528, ldam_offset=True)
    np.testing.assert_allclose(loss.margins, [1.19, 1.09, 0.79], rtol=1e-6)
    margin = [1.19, 1.09, 1.19, 0.79]
    gaps = [0.4, 0.1, 0.3, -0.9]
    expected = [
        math.exp(-g - 1.528 * m) if g > 0 else math.exp(g - m)
        for g, m in zip(gaps, margin, strict=True)
    ]
    np.testing.assert_allclose(loss.target_shift(LOGITS, TARGET).numpy(), expected, rtol=1e-6)
    numpy_true = MaxMarginLoss(COUNTS_3, max_margin=1.29, ldam_offset=np.True_)
    torch.testing.assert_close(numpy_true.margins, loss.margins)
    assert MaxMarginLoss(COUNTS_3, ldam_offset=np.False_).margins is None
    # A float sets the largest LDAM margin used in the offset.
    custom = MaxMarginLoss(COUNTS_3, max_margin=1.0, ldam_offset=1.0)
    np.testing.assert_allclose(custom.margins, [0.8, 0.6, 0.0], atol=1e-6)


def test_max_margin_shift_has_no_gradient():
    logits = LOGITS.clone().requires_grad_(True)
    loss = MaxMarginLoss(scale=4.0, max_margin=0.5, gamma=1.5)
    loss(logits, TARGET).backward()
    shift = loss.target_shift(LOGITS, TARGET)
    constant = LOGITS.clone().requires_grad_(True)
    shifted = constant - F.one_hot(TARGET, 3) * shift[:, None]
    F.cross_entropy(4.0 * shifted, TARGET).backward()
    torch.testing.assert_close(logits.grad, constant.grad)


def test_max_margin_is_at_least_scaled_cross_entropy():
    loss = MaxMarginLoss(scale=4.0, reduction="none")
    ce = F.cross_entropy(4.0 * LOGITS, TARGET, reduction="none")
    assert (loss(LOGITS, TARGET) > ce).all()


# -------------------------------------------------------------- logit adjustment
def test_logit_adjusted_is_cross_entropy_on_shifted_logits():
    counts = torch.tensor([60.0, 30.0, 10.0])
    loss = LogitAdjustedLoss(counts, tau=0.7, weight=WEIGHT)
    shifted = LOGITS + 0.7 * torch.log(counts.double() / 100.0)
    expected = F.cross_entropy(shifted, TARGET, weight=WEIGHT.double())
    torch.testing.assert_close(loss(LOGITS, TARGET), expected)
    zero_tau = LogitAdjustedLoss(counts, tau=0.0)
    torch.testing.assert_close(zero_tau(LOGITS, TARGET), F.cross_entropy(LOGITS, TARGET))


def test_balanced_softmax_equals_logit_adjusted_with_tau_one():
    for reduction in ("mean", "sum", "none"):
        balanced = BalancedSoftmaxLoss(CIFAR10_IR100[:3], weight=WEIGHT, reduction=reduction)
        adjusted = LogitAdjustedLoss(
            CIFAR10_IR100[:3], tau=1.0, weight=WEIGHT, reduction=reduction
        )
        assert torch.equal(balanced(LOGITS, TARGET), adjusted(LOGITS, TARGET))


def test_logit_adjusted_zero_count_class_has_zero_probability():
    loss = LogitAdjustedLoss([50, 0, 50], tau=1.0, reduction="none")
    assert loss.adjustment[1] == float("-inf")
    target = torch.tensor([0, 2, 0, 2])
    values = loss(LOGITS, target)
    two_class = F.cross_entropy(LOGITS[:, [0, 2]], torch.tensor([0, 1, 0, 1]), reduction="none")
    torch.testing.assert_close(values, two_class)
    assert torch.isfinite(LogitAdjustedLoss([50, 0, 50], tau=0.0)(LOGITS, target))


# -------------------------------------------------------------- hinge
def test_hinge_by_hand():
    loss = MultiClassHingeLoss(margin=1.0, reduction="none")
    # max(0, 1 + q - p) with q over j != y: (0.5, 0.1), (0.4, 0.3), (-0.2, -0.5), (-0.3, 0.6).
    expected = [0.6, 0.9, 0.7, 1.9]
    np.testing.assert_allclose(loss(LOGITS, TARGET).numpy(), expected, rtol=1e-12)
    wide = torch.tensor([[3.0, 0.5, -1.0]])
    assert MultiClassHingeLoss(margin=1.0)(wide, torch.tensor([0])).item() == 0.0


def test_hinge_with_ldam_margins_by_hand():
    loss = MultiClassHingeLoss(class_counts=COUNTS_3, ldam_margins=True, max_margin=0.5,
                               reduction="none")
    # margins 0.1, 0.2, 0.5 for the targets 0, 1, 0, 2.
    expected = [max(0.0, 0.1 - 0.4), 0.2 - 0.1, max(0.0, 0.1 - 0.3), 0.5 + 0.9]
    np.testing.assert_allclose(loss(LOGITS, TARGET).numpy(), expected, rtol=1e-6, atol=1e-12)
