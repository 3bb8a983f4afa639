"""Meta re-weighting of samples: learning to re-weight on a balanced meta set.

Ren, Zeng, Yang and Urtasun, "Learning to Reweight Examples for Robust Deep
Learning", ICML 2018. For every training batch the weights of its samples are the
negative gradient of a balanced meta loss after one look-ahead SGD step on the
weighted batch loss, clipped at 0 and normalised.
"""

import numbers

import torch
from torch.func import functional_call

__all__ = [
    "MetaReweighting",
    "class_balanced_subset",
    "lookahead_meta_loss",
    "meta_weight_gradient",
]


def class_balanced_subset(y, per_class, generator=None):
    """Indices of at most ``per_class`` random samples of every class in ``y``.

    Parameters
    ----------
    y : torch.LongTensor of shape (n_samples,)
        Encoded labels.
    per_class : int
        Samples kept per class; smaller classes are kept whole.
    generator : torch.Generator, default=None
        Source of randomness (on ``y.device``).

    Returns
    -------
    index : torch.LongTensor
        Sorted row indices into ``y``.
    """
    # A random key per sample; sorting by (class, key) shuffles within classes.
    key = torch.rand(len(y), generator=generator, device=y.device)
    order = torch.argsort(y.to(torch.float64) * 2 + key.to(torch.float64))
    sorted_y = y[order]
    first = torch.searchsorted(sorted_y, sorted_y, right=False)
    rank = torch.arange(len(y), device=y.device) - first
    return torch.sort(order[rank < per_class]).values


def lookahead_meta_loss(module, per_sample_loss, X, y, weight, X_meta, y_meta, inner_lr):
    """Meta loss after one look-ahead SGD step on a weighted batch loss.

    With parameters ``theta`` and per-sample losses ``l_i``, one SGD step on
    ``sum_i weight_i l_i(theta)`` gives ``theta'``; the result is the mean
    cross-entropy of ``module`` with parameters ``theta'`` on
    ``(X_meta, y_meta)``, differentiable with respect to ``weight``.

    Parameters
    ----------
    module : torch.nn.Module
        The network; its parameters are not modified (the look-ahead runs through
        :func:`torch.func.functional_call`, on copies of its buffers).
    per_sample_loss : callable
        ``per_sample_loss(logits, y)`` returning one loss per sample.
    X, y : torch.Tensor
        The training batch.
    weight : torch.Tensor of shape (len(X),)
        Sample weights of the inner loss (requires grad for meta-gradients).
    X_meta, y_meta : torch.Tensor
        The balanced meta batch.
    inner_lr : float
        Step size of the look-ahead step.

    Returns
    -------
    meta_loss : torch.Tensor (scalar)
    """
    params = {name: p for name, p in module.named_parameters() if p.requires_grad}
    buffers = {name: b.clone() for name, b in module.named_buffers()}
    losses = per_sample_loss(functional_call(module, (params, buffers), (X,)), y)
    inner = (weight * losses).sum()
    grads = torch.autograd.grad(inner, tuple(params.values()), create_graph=True)
    stepped = {name: p - inner_lr * g for (name, p), g in zip(params.items(), grads, strict=True)}
    meta_logits = functional_call(module, (stepped, buffers), (X_meta,))
    return torch.nn.functional.cross_entropy(meta_logits, y_meta)


def meta_weight_gradient(module, per_sample_loss, X, y, X_meta, y_meta, inner_lr):
    """Gradient of the look-ahead meta loss with respect to the sample weights at 0.

    ``d/d eps lookahead_meta_loss(..., weight=eps, ...)`` at ``eps = 0``
    (Ren et al. 2018, Algorithm 1, lines 4-10); see :func:`lookahead_meta_loss`.

    Returns
    -------
    grad : torch.Tensor of shape (len(X),)
    """
    dtype = X.dtype if X.is_floating_point() else torch.float32
    eps = torch.zeros(len(X), device=X.device, dtype=dtype, requires_grad=True)
    meta_loss = lookahead_meta_loss(
        module, per_sample_loss, X, y, eps, X_meta, y_meta, inner_lr
    )
    (grad,) = torch.autograd.grad(meta_loss, eps)
    return grad


class MetaReweighting:
    """Per-batch sample weights learned on a class-balanced meta set.

    Use it as the ``meta_reweighting`` parameter of any skimbal estimator; the
    loss of each training batch is then ``sum_i w_i l_i / sum_i w_i`` with

    .. math::

        w_i \\propto \\max\\left(0, -\\frac{\\partial}{\\partial \\epsilon_i}
        L_{meta}\\big(\\theta - \\alpha \\nabla_\\theta \\textstyle\\sum_j
        \\epsilon_j l_j(\\theta)\\big)\\Big|_{\\epsilon = 0}\\right)

    (Ren et al. 2018, Algorithm 1). The meta set holds ``meta_samples_per_class``
    random samples of every class of the *training split* (never the validation
    part), drawn once per fit; every step uses all of it, so keep it small.

    Parameters
    ----------
    meta_samples_per_class : int, default=10
        Size of the meta set per class (smaller classes are taken whole).
    inner_lr : float or None, default=None
        Step size of the look-ahead; None uses the estimator's ``lr``.

    Notes
    -----
    One step costs about three forward and backward passes of the batch (the
    look-ahead, its second-order backward and the real step). The meta loss is
    plain cross-entropy on the balanced meta set. When every weight is clipped to
    0 the batch falls back to uniform weights, as a batch with no signal.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skimbal import CrossEntropyClassifier, MetaReweighting
    >>> X, y = make_classification(n_samples=200, weights=[0.9, 0.1], random_state=0)
    >>> clf = CrossEntropyClassifier(meta_reweighting=MetaReweighting(5), max_epochs=3,
    ...                              random_state=0).fit(X, y)
    >>> len(clf.meta_reweighting_.meta_index_)
    10
    """

    def __init__(self, meta_samples_per_class=10, inner_lr=None):
        self.meta_samples_per_class = meta_samples_per_class
        self.inner_lr = inner_lr

    def setup(self, dataset_train, lr):
        """Draw the meta set from the training split (called by ``fit``)."""
        k = self.meta_samples_per_class
        if not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"meta_samples_per_class must be a positive integer, got {k!r}.")
        if dataset_train.y is None or dataset_train.y.ndim != 1:
            raise ValueError("MetaReweighting needs single-label (multi-class) targets.")
        self.meta_index_ = class_balanced_subset(dataset_train.y, k)
        self.X_meta_ = dataset_train.X.index_select(0, self.meta_index_)
        self.y_meta_ = dataset_train.y.index_select(0, self.meta_index_)
        self.inner_lr_ = lr if self.inner_lr is None else self.inner_lr
        return self

    def sample_weight(self, module, per_sample_loss, X, y):
        """Weights of one training batch, summing to 1 (detached)."""
        grad = meta_weight_gradient(
            module, per_sample_loss, X, y, self.X_meta_, self.y_meta_, self.inner_lr_
        )
        weight = torch.clamp(-grad, min=0).detach()
        total = weight.sum()
        if total <= 0:
            return torch.full_like(weight, 1.0 / len(weight))
        return weight / total
