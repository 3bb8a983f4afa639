"""Balanced Meta-Softmax: balanced softmax with a meta-learned class sampler."""

from ._base import ImbalancedNetClassifier
from .callbacks import MetaSamplerUpdate
from .losses import BalancedSoftmaxLoss
from .sampling import MetaClassSampler

__all__ = ["BalancedMetaSoftmaxClassifier"]


class BalancedMetaSoftmaxClassifier(ImbalancedNetClassifier):
    """Balanced softmax trained on batches from a meta-learned class sampler (BALMS).

    Balanced Meta-Softmax (Ren et al., "Balanced Meta-Softmax for Long-Tailed
    Visual Recognition", NeurIPS 2020) combines the balanced softmax loss
    ``CE(z + log(prior), y)`` with a sampler whose class distribution
    ``softmax(phi)`` is meta-learned: ``phi`` is updated by differentiating, through
    one look-ahead SGD step of the classifier on a Gumbel-softmax-relaxed batch,
    the cross-entropy on a class-balanced meta set drawn from the training split
    (:class:`skimbal.callbacks.MetaSamplerUpdate`). The look-ahead uses
    :func:`torch.func.functional_call`, not hand-written parameter copies.

    Parameters
    ----------
    meta_lr : float, default=0.01
        Adam step size of the class logits.
    meta_samples_per_class : int, default=10
        Meta-set rows per class, from the training split only.
    gumbel_temperature : float, default=1.0
        Temperature of the relaxation.
    meta_interval : int, default=1
        Update the sampler every ``meta_interval`` batches (each update costs about
        two extra forward/backward passes of a batch).
    init_q : float, default=1.0
        Initial sampling exponent (1 instance-balanced, 0 class-balanced).
    **kwargs
        Parameters of :class:`skimbal.ImbalancedNetClassifier`.

    Attributes
    ----------
    sampler_ : MetaClassSampler
        The trained sampler; ``sampler_.class_probabilities()`` is the learned
        distribution, also recorded per epoch in the history as
        ``meta_class_probabilities``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skimbal import BalancedMetaSoftmaxClassifier
    >>> X, y = make_classification(n_samples=200, weights=[0.9, 0.1], random_state=0)
    >>> clf = BalancedMetaSoftmaxClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> len(clf.history[-1, "meta_class_probabilities"])
    2
    """

    def __init__(
        self,
        module=None,
        *,
        meta_lr=0.01,
        meta_samples_per_class=10,
        gumbel_temperature=1.0,
        meta_interval=1,
        init_q=1.0,
        **kwargs,
    ):
        kwargs.setdefault("criterion", BalancedSoftmaxLoss)
        super().__init__(module, **kwargs)
        self.meta_lr = meta_lr
        self.meta_samples_per_class = meta_samples_per_class
        self.gumbel_temperature = gumbel_temperature
        self.meta_interval = meta_interval
        self.init_q = init_q

    def _fitted_sampler(self):
        if self.sampler is not None:
            raise ValueError(
                "BalancedMetaSoftmaxClassifier learns its own sampler; leave sampler=None."
            )
        return MetaClassSampler(init_q=self.init_q)

    @property
    def _default_callbacks(self):
        callbacks = super()._default_callbacks
        update = MetaSamplerUpdate(
            meta_lr=self.meta_lr,
            meta_samples_per_class=self.meta_samples_per_class,
            temperature=self.gumbel_temperature,
            interval=self.meta_interval,
        )
        return callbacks[:-1] + [("meta_sampler", update)] + callbacks[-1:]
