"""Tests of the Class Rectification Loss module (skimbal/losses/_crl.py)."""

import math

import pytest
import torch

from skimbal.losses import ClassRectificationLoss, histogram_loss, minority_class_mask
from skimbal.losses._crl import mine_hard_examples


def _logit(p):
    p = torch.as_tensor(p, dtype=torch.float64)
    return torch.log(p / (1 - p))


# ----------------------------------------------------------------- profiling
@pytest.mark.parametrize(
    "rho, expected",
    [
        (1.0, [True, True, True, False, True]),
        (0.5, [False, True, True, False, True]),  # 2 + 3 + 5 = 10 <= 10
        (0.25, [False, True, True, False, False]),  # 2 + 3 = 5 <= 5
        (0.1, [False, True, False, False, False]),  # 2 <= 2
        (0.05, [False, False, False, False, False]),  # 2 > 1
    ],
)
def test_minority_class_mask_exact_sets(rho, expected):
    counts = torch.tensor([10, 2, 3, 0, 5])
    assert minority_class_mask(counts, rho).tolist() == expected


def test_minority_class_mask_ties_and_tasks():
    # Ties break by class index; every row is its own task.
    counts = torch.tensor([[3, 3], [5, 1], [0, 8]])
    mask = minority_class_mask(counts, 0.5)
    assert mask.tolist() == [[True, False], [False, True], [False, False]]


def test_minority_set_is_a_prefix_of_the_sorted_classes():
    # 1 + 4 = 5 > 4.5: the class of 4 is out, and so is every larger class.
    counts = torch.tensor([1, 4, 4])
    assert minority_class_mask(counts, 0.5).tolist() == [True, False, False]


# -------------------------------------------------------------------- mining
LABELS = torch.tensor([0, 0, 0, 0, 0, 1, 1, 1])  # counts 5, 3: minority {1} at rho 0.5
SCORE_1 = torch.tensor([0.1, 0.9, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6])


def _onehot(labels, n_classes=2):
    return torch.nn.functional.one_hot(labels, n_classes).bool()[:, None, :]


@pytest.mark.parametrize(
    "kappa, positives, negatives",
    [
        (1, [[6], [7], [6]], [[1], [1], [1]]),
        (2, [[6, 7], [7, 5], [6, 5]], [[1, 3], [1, 3], [1, 3]]),
    ],
)
def test_class_level_mining_indices(kappa, positives, negatives):
    scores = torch.stack([1 - SCORE_1, SCORE_1], dim=1)[:, None, :]
    mining, n_minority, n_skipped = mine_hard_examples(
        _onehot(LABELS), 0.5, kappa, scores=scores
    )
    assert mining.anchor.tolist() == [5, 6, 7]
    assert mining.label.tolist() == [1, 1, 1]
    assert mining.positive.tolist() == positives
    assert mining.negative.tolist() == negatives
    assert mining.positive_valid.all() and mining.negative_valid.all()
    assert int(n_minority) == 1 and int(n_skipped) == 0


@pytest.mark.parametrize(
    "kappa, positives, negatives",
    [
        (1, [[7], [7], [5]], [[4], [4], [4]]),
        (2, [[7, 6], [7, 5], [5, 6]], [[4, 3], [4, 3], [4, 3]]),
    ],
)
def test_instance_level_mining_indices(kappa, positives, negatives):
    x = torch.tensor([0.0, 1, 2, 3, 4, 10, 11, 13])
    distances = (x[:, None] - x[None, :]).abs()
    mining, _, _ = mine_hard_examples(_onehot(LABELS), 0.5, kappa, distances=distances)
    assert mining.anchor.tolist() == [5, 6, 7]
    assert mining.positive.tolist() == positives
    assert mining.negative.tolist() == negatives


def test_mining_marks_missing_positives_invalid():
    # Class 1 has 3 samples: an anchor has only 2 positives for kappa 3.
    scores = torch.stack([1 - SCORE_1, SCORE_1], dim=1)[:, None, :]
    mining, _, _ = mine_hard_examples(_onehot(LABELS), 0.5, 3, scores=scores)
    assert mining.positive_valid.sum(1).tolist() == [2, 2, 2]
    assert mining.negative_valid.sum(1).tolist() == [3, 3, 3]
    # The anchor is never its own positive.
    chosen = mining.positive.masked_fill(~mining.positive_valid, -1)
    assert not (chosen == mining.anchor[:, None]).any()


def test_skipped_classes_are_counted():
    # Counts 5, 1, 2 at rho 0.5: minority {1, 2}; class 1 has a single sample.
    target = torch.tensor([0, 0, 0, 0, 0, 1, 2, 2])
    logits = torch.randn(8, 3)
    crl = ClassRectificationLoss(kappa=3)
    crl(logits, target)
    assert int(crl.n_minority_) == 2
    assert int(crl.n_skipped_) == 1
    # Two anchors of class 2, one positive and three negatives each.
    assert int(crl.n_triplets_) == 2 * 1 * 3


def test_multilabel_tasks_are_profiled_per_attribute():
    # Attribute 0: 2 of 5 positive (minority: the positives); attribute 1: 1 of 5
    # positive (minority, skipped); attribute 2: 3 of 5 positive (minority: negatives).
    target = torch.tensor([[1, 1, 0], [1, 0, 0], [0, 0, 1], [0, 0, 1], [0, 0, 1]])
    onehot = torch.stack([target == 0, target == 1], dim=2)
    scores = torch.rand(5, 3, 2)
    mining, n_minority, n_skipped = mine_hard_examples(onehot, 0.5, 1, scores=scores)
    assert int(n_minority) == 3 and int(n_skipped) == 1
    rows = (mining.task.tolist(), mining.label.tolist(), mining.anchor.tolist())
    pairs = sorted(zip(*rows, strict=True))
    assert pairs == [(0, 1, 0), (0, 1, 1), (2, 0, 0), (2, 0, 1)]


# ------------------------------------------------------------------ criteria
# One attribute, target [1, 1, 0, 0, 0]: the positives are the minority.
# p = [0.9, 0.6, 0.7, 0.2, 0.1]; kappa 1: anchor 0 -> (p 1, n 2); anchor 1 -> (p 0, n 2).
TARGET = torch.tensor([[1], [1], [0], [0], [0]])
PROBA = [0.9, 0.6, 0.7, 0.2, 0.1]


def _crl_value(**params):
    logits = _logit(PROBA)[:, None]
    return ClassRectificationLoss(kappa=1, margin=0.5, **params)(logits, TARGET).item()


def test_relative_criterion_value():
    # Signed: d(0,1) = 0.3, d(0,2) = 0.2; d(1,0) = -0.3, d(1,2) = -0.1.
    assert _crl_value(criterion_type="relative") == pytest.approx((0.6 + 0.3) / 2)


def test_relative_criterion_value_absolute_distance():
    # |.|: d(1,0) = 0.3, d(1,2) = 0.1.
    value = _crl_value(criterion_type="relative", class_distance="absolute")
    assert value == pytest.approx((0.6 + 0.7) / 2)


def test_absolute_criterion_value():
    expected = 0.5 * ((0.3**2 + 0.3**2) / 2 + ((0.5 - 0.2) ** 2 + (0.5 + 0.1) ** 2) / 2)
    assert _crl_value(criterion_type="absolute") == pytest.approx(expected)


def test_distribution_criterion_value():
    # Signed distances on nodes -1, 0, 1. Positives 0.3 -> (0, 0.7, 0.3),
    # -0.3 -> (0.3, 0.7, 0): h+ = (0.15, 0.7, 0.15). Negatives 0.2 -> (0, 0.8, 0.2),
    # -0.1 -> (0.1, 0.9, 0): h- = (0.05, 0.85, 0.1), cumsum (0.05, 0.9, 1).
    value = _crl_value(criterion_type="distribution", n_bins=3)
    assert value == pytest.approx(0.15 * 0.05 + 0.7 * 0.9 + 0.15 * 1.0)


def test_distribution_criterion_value_absolute_distance():
    # Nodes 0, 0.5, 1. Positives 0.3 -> (0.4, 0.6), 0.3: h+ = (0.4, 0.6, 0).
    # Negatives 0.2 -> (0.6, 0.4), 0.1 -> (0.8, 0.2): h- = (0.7, 0.3, 0), cumsum (0.7, 1, 1).
    value = _crl_value(criterion_type="distribution", n_bins=3, class_distance="absolute")
    assert value == pytest.approx(0.4 * 0.7 + 0.6 * 1.0)


def test_instance_level_relative_value():
    embedding = torch.tensor([[0.0, 0], [3, 4], [1, 0], [0, 2], [10, 0]])
    crl = ClassRectificationLoss(kappa=1, level="instance", normalize_embedding=False)
    value = crl(torch.zeros(5, 1), TARGET, embedding).item()
    # Anchor 0: p 1 (5), n 2 (1). Anchor 1: p 0 (5), n 3 (sqrt 13).
    assert value == pytest.approx(((0.5 + 5 - 1) + (0.5 + 5 - math.sqrt(13))) / 2, rel=1e-5)


def test_histogram_loss_extremes_and_groups():
    assert histogram_loss(torch.tensor([0.0]), torch.tensor([1.0]), n_bins=5).item() == 0
    assert histogram_loss(torch.tensor([1.0]), torch.tensor([0.0]), n_bins=5).item() == 1
    # Two groups averaged; a group with positives only does not count.
    pos = torch.tensor([0.0, 1.0, 0.5])
    neg = torch.tensor([1.0, 0.0])
    value = histogram_loss(
        pos, neg, torch.tensor([0, 1, 2]), torch.tensor([0, 1]), n_bins=3
    )
    assert value.item() == pytest.approx(0.5)


def test_multiclass_scores_are_softmax():
    # Same mining, one softmax task: counts 3, 2 -> minority {1}.
    logits = torch.tensor([[0.0, 2.0], [0.0, 1.0], [0.0, -1.0], [0.0, 0.5], [0.0, -3.0]])
    target = torch.tensor([1, 1, 0, 0, 0])
    value = ClassRectificationLoss(kappa=1)(logits, target).item()
    p = torch.sigmoid(torch.tensor([2.0, 1.0, -1.0, 0.5, -3.0]))  # softmax of [0, z]
    # Anchor 0: p 1, n 3; anchor 1: p 0, n 3; relative = m + s(n) - s(p).
    expected = ((0.5 + p[3] - p[1]) + (0.5 + p[3] - p[0])) / 2
    assert value == pytest.approx(expected.item(), rel=1e-5)


# ------------------------------------------------------------------ gradient
@pytest.mark.parametrize("criterion_type", ["relative", "absolute", "distribution"])
def test_no_gradient_reaches_unmined_samples_class_level(criterion_type):
    logits = _logit(PROBA)[:, None].float().requires_grad_()
    crl = ClassRectificationLoss(kappa=1, criterion_type=criterion_type, n_bins=3)
    crl(logits, TARGET).backward()
    # Samples 3 and 4 are neither anchors nor mined.
    assert torch.all(logits.grad[3:] == 0)
    assert torch.any(logits.grad[:3] != 0)


@pytest.mark.parametrize("criterion_type", ["relative", "absolute", "distribution"])
def test_no_gradient_reaches_unmined_samples_instance_level(criterion_type):
    embedding = torch.tensor(
        [[0.0, 0.1], [3, 4], [1, 0], [0, 2], [10, 0]], requires_grad=True
    )
    crl = ClassRectificationLoss(kappa=1, level="instance", criterion_type=criterion_type,
                                 margin=20.0)
    crl(torch.zeros(5, 1), TARGET, embedding).backward()
    assert torch.all(embedding.grad[4] == 0)
    assert torch.any(embedding.grad[:4] != 0)


def test_batch_without_minority_anchor_gives_zero_with_graph():
    logits = torch.randn(4, 3, requires_grad=True)
    crl = ClassRectificationLoss()
    loss = crl(logits, torch.tensor([0, 0, 0, 0]))
    loss.backward()
    assert loss.item() == 0 and int(crl.n_triplets_) == 0
    assert torch.all(logits.grad == 0)


# -------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "params",
    [
        dict(criterion_type="ranking"),
        dict(level="pixel"),
        dict(rho=0.0),
        dict(kappa=0),
        dict(n_bins=1),
        dict(class_distance="one-sided"),
    ],
)
def test_bad_parameters_raise(params):
    with pytest.raises(ValueError):
        ClassRectificationLoss(**params)


def test_instance_level_needs_embedding():
    with pytest.raises(ValueError, match="embedding"):
        ClassRectificationLoss(level="instance")(torch.randn(4, 2), torch.tensor([0, 0, 0, 1]))
