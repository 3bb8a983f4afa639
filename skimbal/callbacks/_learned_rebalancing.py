"""The callback that meta-learns the class distribution of a MetaClassSampler."""

from functools import partial

import torch
from skorch.callbacks import Callback

from .._core.reduction import per_sample_loss
from ._meta_reweighting_old import MetaReweighting, class_balanced_subset, lookahead_meta_loss
from ._minority_augmentation_old import MinorityAugmentation

__all__ = ["MetaReweighting", "MetaSamplerUpdate", "MinorityAugmentation"]


class MetaSamplerUpdate(Callback):
    """Train the class logits of a :class:`~skimbal.sampling.MetaClassSampler`.

    After every ``interval``-th training batch: draw a batch of ``batch_size``
    rows of the training split through the sampler's Gumbel-softmax relaxation,
    take one look-ahead SGD step of the network on the weighted loss of that batch
    (the net's own criterion), evaluate cross-entropy on the class-balanced meta
    set, and move the class logits down its gradient with Adam
    (Ren et al., NeurIPS 2020, Algorithm 1). The meta set holds
    ``meta_samples_per_class`` rows of every class of the *training split*, drawn
    once per fit.

    Parameters
    ----------
    meta_lr : float, default=0.01
        Adam step size of the class logits.
    meta_samples_per_class : int, default=10
        Size of the balanced meta set per class.
    batch_size : int or None, default=None
        Size of the relaxed batch; None uses the net's ``batch_size``.
    temperature : float, default=1.0
        Gumbel-softmax temperature.
    interval : int, default=1
        Update every ``interval`` training batches.
    """

    def __init__(
        self, meta_lr=0.01, meta_samples_per_class=10, batch_size=None, temperature=1.0, interval=1
    ):
        self.meta_lr = meta_lr
        self.meta_samples_per_class = meta_samples_per_class
        self.batch_size = batch_size
        self.temperature = temperature
        self.interval = interval

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        train = X.train
        self.train_ = train
        self.meta_index_ = class_balanced_subset(train.y, self.meta_samples_per_class)
        self.optimizer_ = None
        self.step_ = 0
        self.updates_ = 0

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        self.step_ += 1
        if self.step_ % self.interval:
            return
        sampler = net.sampler_
        if not hasattr(sampler, "logits_"):
            return
        if self.optimizer_ is None:
            self.optimizer_ = torch.optim.Adam([sampler.logits_], lr=self.meta_lr)
        train = self.train_
        size = self.batch_size or net.batch_size
        index, weight = sampler.relaxed_batch(train.y, size, self.temperature)
        meta_loss = lookahead_meta_loss(
            net.module_,
            partial(per_sample_loss, net.criterion_),
            train.X.index_select(0, index),
            train.y.index_select(0, index),
            weight / size,
            train.X.index_select(0, self.meta_index_),
            train.y.index_select(0, self.meta_index_),
            net.lr,
        )
        self.optimizer_.zero_grad()
        (grad,) = torch.autograd.grad(meta_loss, sampler.logits_)
        sampler.logits_.grad = torch.nan_to_num(grad)
        self.optimizer_.step()
        self.updates_ += 1

    def on_epoch_end(self, net, **kwargs):
        sampler = getattr(net, "sampler_", None)
        if sampler is not None and hasattr(sampler, "logits_"):
            net.history.record("meta_class_probabilities", sampler.class_probabilities().tolist())
