"""Meta-learned re-balancing: learning to re-weight samples and to sample classes.

Both methods take one look-ahead SGD step of the network on a weighted batch loss
and differentiate the cross-entropy on a class-balanced meta set through it:
:class:`MetaReweighting` (Ren et al., ICML 2018) with respect to the weights of
the batch's samples, :class:`MetaSamplerUpdate` (Ren et al., NeurIPS 2020,
Balanced Meta-Softmax) with respect to the class logits of a
:class:`skimbal.sampling.MetaClassSampler`. The look-ahead runs through
:func:`torch.func.functional_call`, so the network itself is never modified.

The meta set is drawn from the training split (never the validation part) at the
start of every epoch, from the generator of ``(net.seed_, epoch, 'meta set')``:
a resumed run, ``warm_start`` and ``partial_fit`` draw the same meta sets as an
uninterrupted run. The callbacks hold their state (meta set, relaxed-batch
generator, Adam) from ``on_train_begin`` to ``on_train_end`` only, then forget it:
no training data outlive a fit, and a fit leaves the ``callbacks`` parameter as it
was.
"""

import numbers
from functools import partial

import torch
from sklearn.utils._param_validation import Interval
from skorch.callbacks import Callback
from torch.func import functional_call

from .._core.batch import Target, as_model_output, as_target
from .._core.data import TensorDataset
from .._core.random import epoch_generator
from .._core.reduction import per_sample_loss, weighted_mean
from .._core.schedule import current_epoch
from .._core.validation import validate_constraints

__all__ = [
    "MetaReweighting",
    "MetaSamplerUpdate",
    "class_balanced_subset",
    "lookahead_meta_loss",
    "meta_sample_weights",
    "meta_weight_gradient",
]

_PER_CLASS = Interval(numbers.Integral, 1, None, closed="left")


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

    Examples
    --------
    >>> import torch
    >>> from skimbal.callbacks._meta_learning import class_balanced_subset
    >>> y = torch.tensor([0, 0, 0, 1, 1, 2])
    >>> torch.bincount(y[class_balanced_subset(y, 2)]).tolist()
    [2, 2, 1]
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
    cross-entropy of ``module`` with parameters ``theta'`` on ``(X_meta, y_meta)``,
    differentiable with respect to ``weight``.

    Parameters
    ----------
    module : torch.nn.Module
        The network; neither its parameters nor its buffers are modified (the
        look-ahead runs through :func:`torch.func.functional_call`, on copies of
        its buffers).
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
    buffers = {name: b.detach().clone() for name, b in module.named_buffers()}
    logits = as_model_output(functional_call(module, (params, buffers), (X,))).logits
    inner = (weight * per_sample_loss(logits, y)).sum()
    grads = torch.autograd.grad(inner, tuple(params.values()), create_graph=True,
                                allow_unused=True)
    stepped = {
        name: p if g is None else p - inner_lr * g
        for (name, p), g in zip(params.items(), grads, strict=True)
    }
    meta_logits = as_model_output(functional_call(module, (stepped, buffers), (X_meta,))).logits
    return weighted_mean(torch.nn.functional.cross_entropy(meta_logits, y_meta, reduction="none"))


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
    meta_loss = lookahead_meta_loss(module, per_sample_loss, X, y, eps, X_meta, y_meta, inner_lr)
    (grad,) = torch.autograd.grad(meta_loss, eps)
    return grad


def meta_sample_weights(module, per_sample_loss, X, y, X_meta, y_meta, inner_lr):
    """Weights of one batch: the clipped negative meta-gradient, normalised to sum 1.

    ``w_i = max(0, -g_i) / sum_j max(0, -g_j)`` with ``g`` from
    :func:`meta_weight_gradient`; uniform when every ``w_i`` is clipped to 0 (a
    batch with no signal). Detached; no host synchronisation.
    """
    grad = meta_weight_gradient(module, per_sample_loss, X, y, X_meta, y_meta, inner_lr)
    weight = torch.clamp(-grad, min=0).detach()
    total = weight.sum()
    uniform = torch.full_like(weight, 1.0 / len(weight))
    return torch.where(total > 0, weight / total.clamp_min(torch.finfo(total.dtype).tiny), uniform)


def _draw_meta_set(owner, net, dataset_train, per_class):
    """``(X_meta, y_meta, index)``: a class-balanced draw of the epoch's training split."""
    y = getattr(dataset_train, "y", None)
    if not isinstance(dataset_train, TensorDataset) or y is None or y.ndim != 1:
        raise ValueError(
            f"{type(owner).__name__} needs single-label targets in skimbal's in-memory "
            f"training data; got a {type(dataset_train).__name__}"
            + ("" if y is None else f" with targets of shape {tuple(y.shape)}") + "."
        )
    generator = epoch_generator(net.seed_, current_epoch(net), "meta set", y.device)
    index = class_balanced_subset(y, per_class, generator)
    return dataset_train.X.index_select(0, index), y.index_select(0, index), index


def _forget_training_state(callback):
    """Delete the state a callback keeps during training (its attributes ending in ``_``)."""
    for name in [name for name in vars(callback) if name.endswith("_")]:
        delattr(callback, name)


def _current_lr(net):
    """Learning rate of the optimizer's first parameter group, as a float."""
    return float(net.optimizer_.param_groups[0]["lr"])


class MetaReweighting(Callback):
    """Per-batch sample weights learned on a class-balanced meta set.

    A batch transform (``transform_batch``): the estimator calls it on every
    training batch, and the batch's sample weights are multiplied by

    .. math::

        w_i \\propto \\max\\left(0, -\\frac{\\partial}{\\partial \\epsilon_i}
        L_{meta}\\big(\\theta - \\alpha \\nabla_\\theta \\textstyle\\sum_j
        \\epsilon_j l_j(\\theta)\\big)\\Big|_{\\epsilon = 0}\\right),
        \\qquad \\sum_i w_i = 1

    (Ren et al. 2018, Algorithm 1; :func:`meta_sample_weights`), with ``l_j`` the
    estimator's criterion per sample (class weights included). The loss of the
    batch is then ``sum_i w_i s_i c_i l_i / sum_i w_i s_i c_i`` (``s`` the sample
    weights, ``c`` the class weights). Works with any estimator:
    ``CrossEntropyClassifier(callbacks=[MetaReweighting(10)])``.

    At the start of every epoch the meta set is drawn afresh: at most
    ``meta_samples_per_class`` random rows of every class of the *training split*
    (never the validation part), from the epoch's generator (Ren et al. sample a
    meta mini-batch per step from a fixed clean set; the balanced draw stands in
    for it). Every step uses all of it, so keep it small.

    Parameters
    ----------
    meta_samples_per_class : int >= 1, default=10
        Size of the meta set per class (smaller classes are taken whole).
    inner_lr : float > 0 or None, default=None
        Step size ``alpha`` of the look-ahead; None uses the optimizer's current
        learning rate (first parameter group), so it follows LR schedules.

    Attributes
    ----------
    meta_index_ : torch.LongTensor
        Rows of the training split in the epoch's meta set, and ``X_meta_``,
        ``y_meta_`` the rows themselves; set during training only (from the first
        epoch to ``on_train_end``).

    Notes
    -----
    One step costs about three forward and backward passes of the batch (the
    look-ahead, its second-order backward and the real step). The meta loss is
    plain cross-entropy on the balanced meta set, with the network in training
    mode. Needs single-label targets and a criterion with a ``reduction``
    attribute.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skimbal import CrossEntropyClassifier
    >>> from skimbal.callbacks import MetaReweighting
    >>> X, y = make_classification(n_samples=200, weights=[0.9, 0.1], random_state=0)
    >>> clf = CrossEntropyClassifier(callbacks=[MetaReweighting(5)], max_epochs=3,
    ...                              random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints = {
        "meta_samples_per_class": [_PER_CLASS],
        "inner_lr": [None, Interval(numbers.Real, 0, None, closed="neither")],
    }

    def __init__(self, meta_samples_per_class=10, inner_lr=None):
        self.meta_samples_per_class = meta_samples_per_class
        self.inner_lr = inner_lr

    def initialize(self):
        validate_constraints(self, self.get_params())
        return self

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        self.X_meta_, self.y_meta_, self.meta_index_ = _draw_meta_set(
            self, net, dataset_train, self.meta_samples_per_class
        )

    def transform_batch(self, net, X, target):
        """The batch with its sample weights multiplied by the meta weights."""
        target = as_target(target)
        net.module_.train()  # the look-ahead sees the network as the real step does
        inner_lr = _current_lr(net) if self.inner_lr is None else self.inner_lr
        weight = meta_sample_weights(
            net.module_, partial(per_sample_loss, net.criterion_), X, target.y,
            self.X_meta_, self.y_meta_, inner_lr,
        )
        if target.sample_weight is not None:
            weight = weight * target.sample_weight.to(weight.dtype)
        return X, Target(target.y, weight, **target.extras)

    def on_train_end(self, net, **kwargs):
        _forget_training_state(self)


class MetaSamplerUpdate(Callback):
    """Train the class logits of a :class:`~skimbal.sampling.MetaClassSampler`.

    After every ``interval``-th training batch of an epoch: draw ``batch_size``
    rows of the training split through the sampler's Gumbel-softmax relaxation,
    take one look-ahead SGD step of the network on the mean weighted loss of that
    batch (the net's own criterion, times the rows' sample weights), evaluate
    cross-entropy on a class-balanced meta set, and move the class logits down its
    gradient with Adam (Ren et al., NeurIPS 2020, Algorithm 1). The meta set holds
    ``meta_samples_per_class`` rows of every class of the *training split*, drawn
    afresh at the start of every epoch; the relaxed batches come from the epoch's
    generator. The learned distribution is recorded per epoch in the history as
    ``meta_class_probabilities``.

    The logits live in the buffer ``meta_sampler_logits`` of ``net.module_``
    (:meth:`MetaClassSampler.attach_to`), and so do Adam's step count and moment
    estimates (:meth:`MetaClassSampler.adam`): a checkpoint holds them, and a
    resumed run (identical to an uninterrupted one), ``warm_start`` and
    ``partial_fit`` continue from them. With an estimator other than
    :class:`~skimbal.BalancedMetaSoftmaxClassifier`, list this callback before
    skorch's ``LoadInitState``, which restores the buffer it creates.

    Parameters
    ----------
    meta_lr : float > 0, default=0.01
        Adam step size of the class logits.
    meta_samples_per_class : int >= 1, default=10
        Size of the balanced meta set per class.
    batch_size : int >= 1 or None, default=None
        Size of the relaxed batch; None uses the net's ``batch_size``.
    temperature : float > 0, default=1.0
        Gumbel-softmax temperature.
    interval : int >= 1, default=1
        Update after every ``interval``-th training batch of an epoch.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skimbal import CrossEntropyClassifier
    >>> from skimbal.callbacks import MetaSamplerUpdate
    >>> from skimbal.sampling import MetaClassSampler
    >>> X, y = make_classification(n_samples=200, weights=[0.9, 0.1], random_state=0)
    >>> clf = CrossEntropyClassifier(sampler=MetaClassSampler(), max_epochs=2,
    ...                              callbacks=[MetaSamplerUpdate()], random_state=0).fit(X, y)
    >>> len(clf.history[-1, "meta_class_probabilities"])
    2
    """

    _parameter_constraints = {
        "meta_lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "meta_samples_per_class": [_PER_CLASS],
        "batch_size": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "temperature": [Interval(numbers.Real, 0, None, closed="neither")],
        "interval": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self, meta_lr=0.01, meta_samples_per_class=10, batch_size=None, temperature=1.0, interval=1
    ):
        self.meta_lr = meta_lr
        self.meta_samples_per_class = meta_samples_per_class
        self.batch_size = batch_size
        self.temperature = temperature
        self.interval = interval

    def initialize(self):
        validate_constraints(self, self.get_params())
        return self

    def on_train_begin(self, net, **kwargs):
        sampler = getattr(net, "sampler_", None)
        if not hasattr(sampler, "attach_to"):
            raise ValueError(
                "MetaSamplerUpdate trains the class logits of a MetaClassSampler, but the "
                f"estimator's sampler is {sampler!r}; pass sampler=MetaClassSampler() (or use "
                "BalancedMetaSoftmaxClassifier)."
            )
        sampler.attach_to(net.module_, net.class_counts_)
        self.optimizer_ = sampler.adam(net.module_, self.meta_lr)

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        self.X_meta_, self.y_meta_, _ = _draw_meta_set(
            self, net, dataset_train, self.meta_samples_per_class
        )
        self.dataset_ = dataset_train
        device = dataset_train.y.device
        self.generator_ = epoch_generator(net.seed_, current_epoch(net), "meta sampler", device)

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        # Training batches come first in an epoch's history row: this is their count.
        if not training or len(net.history[-1, "batches"]) % self.interval:
            return
        sampler, train = net.sampler_, self.dataset_
        size = self.batch_size
        if size is None:
            size = len(train) if net.batch_size == -1 else net.batch_size
        index, weight = sampler.relaxed_batch(train.y, size, self.temperature, self.generator_)
        if train.sample_weight is not None:
            weight = weight * train.sample_weight.index_select(0, index)
        net.module_.train()
        meta_loss = lookahead_meta_loss(
            net.module_, partial(per_sample_loss, net.criterion_),
            train.X.index_select(0, index), train.y.index_select(0, index), weight / size,
            self.X_meta_, self.y_meta_, _current_lr(net),
        )
        self.optimizer_.zero_grad()
        (grad,) = torch.autograd.grad(meta_loss, sampler.logits_)
        sampler.logits_.grad = torch.nan_to_num(grad)
        self.optimizer_.step()

    def on_epoch_end(self, net, **kwargs):
        probabilities = net.sampler_.class_probabilities()
        net.history.record("meta_class_probabilities", probabilities.tolist())

    def on_train_end(self, net, **kwargs):
        sampler = getattr(net, "sampler_", None)
        if hasattr(sampler, "detach_from"):
            sampler.detach_from(net.module_)
        _forget_training_state(self)
