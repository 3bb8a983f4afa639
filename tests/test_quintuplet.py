"""Tests of the quintuplet loss of LMLE (selection and hinge values)."""

import numpy as np
import pytest
import torch

from skimbal.losses import QuintupletLoss, quintuplet_selection
from skimbal.losses._lmle import squared_distances

# One-dimensional embeddings: class 0 has clusters 0 and 1, class 1 clusters 2 and 3.
POINTS = torch.tensor([[0.0], [0.1], [0.3], [0.5], [0.6], [1.0], [1.5], [3.0]])
LABELS = torch.tensor([0, 0, 0, 0, 0, 1, 1, 1])
CLUSTERS = torch.tensor([0, 0, 0, 1, 1, 2, 2, 3])


def test_squared_distances_match_cdist():
    z = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    expected = torch.cdist(z, z) ** 2
    torch.testing.assert_close(squared_distances(z), expected, atol=1e-5, rtol=1e-5)


def test_selection_on_hand_made_points():
    partners = quintuplet_selection(squared_distances(POINTS), LABELS, CLUSTERS)
    # Anchor 0: own cluster {1, 2}, class 0 in other clusters {3, 4}, class 1 {5, 6, 7}.
    assert [int(p[0]) for p in partners] == [2, 3, 4, 5]
    # Anchor 3: own cluster {4}; nearest of {0, 1, 2} is 2; farthest of class 0 is 0.
    assert [int(p[3]) for p in partners] == [4, 2, 0, 5]
    # Anchor 5: own cluster {6}, other cluster {7}; nearest class-0 sample is 4.
    assert [int(p[5]) for p in partners] == [6, 7, 7, 4]
    # Anchor 7 is alone in its cluster: no p+.
    assert [int(p[7]) for p in partners] == [-1, 6, 5, 4]


def test_hinge_values_by_hand():
    loss = QuintupletLoss(margins=(0.1, 0.2, 0.3), reduction="none")
    values = loss(POINTS, LABELS, CLUSTERS)
    # Anchor 0: D(a,p+)=0.09, D(a,p-)=0.25, D(a,p--)=0.36, D(a,n)=1.
    #   [0.1 + 0.09 - 0.25]+ + [0.2 + 0.25 - 0.36]+ + [0.3 + 0.36 - 1]+ = 0.09
    # Anchor 3: D=0.01, 0.04, 0.25, 0.25 -> 0.07 + 0 + 0.3 = 0.37
    # Anchor 7: no p+; D(a,p-)=2.25, D(a,p--)=4, D(a,n)=5.76 -> 0 + 0 = 0
    assert values[0].item() == pytest.approx(0.09, abs=1e-6)
    assert values[3].item() == pytest.approx(0.37, abs=1e-6)
    assert values[7].item() == pytest.approx(0.0, abs=1e-6)


def _reference_losses(z, labels, clusters, margins):
    """Loop implementation of the definitions (for comparison only)."""
    d = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)
    n = len(labels)
    out = np.zeros(n)
    for a in range(n):
        others = [j for j in range(n) if j != a]
        own = [j for j in others if labels[j] == labels[a] and clusters[j] == clusters[a]]
        near = [j for j in others if labels[j] == labels[a] and clusters[j] != clusters[a]]
        same = [j for j in others if labels[j] == labels[a]]
        neg = [j for j in others if labels[j] != labels[a]]
        d_pos = max(d[a, j] for j in own) if own else None
        d_near = min(d[a, j] for j in near) if near else None
        d_far = max(d[a, j] for j in same) if same else None
        d_neg = min(d[a, j] for j in neg) if neg else None
        g1, g2, g3 = margins
        if d_pos is not None and d_near is not None:
            out[a] += max(0.0, g1 + d_pos - d_near)
        if d_near is not None and d_far is not None:
            out[a] += max(0.0, g2 + d_near - d_far)
        if d_far is not None and d_neg is not None:
            out[a] += max(0.0, g3 + d_far - d_neg)
    return out


def test_matches_loop_reference_on_random_batch():
    rng = np.random.RandomState(0)
    z = rng.normal(size=(40, 4))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    labels = rng.randint(0, 3, size=40)
    clusters = rng.randint(0, 3, size=40)
    margins = (0.3, 0.4, 0.5)
    loss = QuintupletLoss(margins=margins, reduction="none")
    got = loss(torch.tensor(z), torch.tensor(labels), torch.tensor(clusters)).numpy()
    np.testing.assert_allclose(got, _reference_losses(z, labels, clusters, margins), atol=1e-9)


def test_anchor_without_partners_is_left_out_of_the_mean():
    # Sample 2 is the only one of its class: no p+, p-, p-- -> no term at all.
    z = torch.tensor([[0.0], [0.5], [0.2]])
    labels = torch.tensor([0, 0, 1])
    clusters = torch.tensor([0, 0, 1])
    loss = QuintupletLoss(margins=(0.1, 0.2, 0.3))
    per_anchor, has_term = loss.anchor_losses(z, labels, clusters)
    assert has_term.tolist() == [True, True, False]
    assert per_anchor[2].item() == 0.0
    expected = per_anchor[:2].sum() / 2
    assert loss(z, labels, clusters).item() == pytest.approx(expected.item())
    # Single-cluster classes reduce to the triplet term: [g3 + D(a,p--) - D(a,n)]+.
    assert per_anchor[0].item() == pytest.approx(0.3 + 0.25 - 0.04)


def test_batch_without_any_term_gives_zero_and_gradient():
    z = torch.randn(3, 2, requires_grad=True)
    loss = QuintupletLoss()(z, torch.tensor([0, 1, 2]), torch.tensor([0, 1, 2]))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.all(z.grad == 0)


def test_gradient_pulls_cluster_together():
    z = POINTS.clone().requires_grad_(True)
    QuintupletLoss(margins=(0.1, 0.2, 0.3), reduction="sum")(z, LABELS, CLUSTERS).backward()
    assert torch.isfinite(z.grad).all()
    assert z.grad.abs().sum() > 0


def test_reductions():
    loss = QuintupletLoss(margins=(0.1, 0.2, 0.3), reduction="none")
    per_anchor = loss(POINTS, LABELS, CLUSTERS)
    total = QuintupletLoss(margins=(0.1, 0.2, 0.3), reduction="sum")(POINTS, LABELS, CLUSTERS)
    mean = QuintupletLoss(margins=(0.1, 0.2, 0.3))(POINTS, LABELS, CLUSTERS)
    assert total.item() == pytest.approx(per_anchor.sum().item())
    assert mean.item() == pytest.approx(per_anchor.mean().item())


@pytest.mark.parametrize(
    "kwargs, message",
    [({"margins": (0.1, 0.2)}, "3 values"), ({"reduction": "max"}, "reduction")],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        QuintupletLoss(**kwargs)
