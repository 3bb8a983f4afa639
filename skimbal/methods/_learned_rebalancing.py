"""Learned re-balancing: Balanced Meta-Softmax, a balanced softmax with a meta-learned sampler.

The estimator wires together the balanced softmax loss
(:class:`skimbal.losses.BalancedSoftmaxLoss`), the sampler whose class
distribution is learned (:class:`skimbal.sampling.MetaClassSampler`) and the
callback that learns it (:class:`skimbal.callbacks.MetaSamplerUpdate`). Learned
per-sample weights (:class:`skimbal.callbacks.MetaReweighting`) and minority
augmentation (:class:`skimbal.callbacks.MinorityAugmentation`) are batch
transforms that combine with any estimator through ``callbacks``.
"""

import numbers

from sklearn.utils._param_validation import Interval

from .._core.base import ImbalancedNetClassifier
from .._core.docstrings import substitute_docstring
from ..callbacks import MetaSamplerUpdate
from ..losses import BalancedSoftmaxLoss
from ..sampling import MetaClassSampler

__all__ = ["BalancedMetaSoftmaxClassifier"]

#: Estimator parameter -> parameter of the 'meta_sampler_update' callback.
_CALLBACK_PARAMS = {
    "meta_lr": "meta_lr",
    "meta_samples_per_class": "meta_samples_per_class",
    "gumbel_temperature": "temperature",
    "meta_interval": "interval",
}


@substitute_docstring
class BalancedMetaSoftmaxClassifier(ImbalancedNetClassifier):
    """Balanced softmax trained on batches from a meta-learned class sampler (BALMS).

    Balanced Meta-Softmax (Ren et al., NeurIPS 2020) combines the balanced softmax
    loss ``CE(z + log(prior), y)`` with a sampler whose class distribution
    ``softmax(phi)`` is meta-learned: after every ``meta_interval``-th batch,
    ``phi`` moves down the gradient, through one look-ahead SGD step of the
    network on a Gumbel-softmax-relaxed batch, of the cross-entropy on a
    class-balanced meta set drawn from the training split
    (:class:`skimbal.callbacks.MetaSamplerUpdate`, the default callback
    ``'meta_sampler_update'``). Every epoch draws its rows with the current
    distribution (:class:`skimbal.sampling.MetaClassSampler`).

    ``phi`` is kept in the buffer ``module_.meta_sampler_logits``: skorch's
    ``Checkpoint`` saves it with the network and ``LoadInitState`` restores it, and
    ``warm_start`` and ``partial_fit`` continue from it (Adam's moments for ``phi``
    restart with every ``fit`` call).

    Parameters
    ----------
    {module}
    criterion : torch.nn.Module class or instance, default=BalancedSoftmaxLoss
        The loss; built with the training split's ``class_counts``.
    meta_lr : float > 0, default=0.01
        Adam step size of the class logits.
    meta_samples_per_class : int >= 1, default=10
        Meta-set rows per class, from the training split only.
    gumbel_temperature : float > 0, default=1.0
        Temperature of the relaxation.
    meta_interval : int >= 1, default=1
        Update the sampler after every ``meta_interval``-th batch of an epoch (each
        update costs about two extra forward and backward passes of a batch).
    init_q : float, default=1.0
        Initial sampling exponent, ``phi_j = init_q * log(n_j)`` (1
        instance-balanced, 0 class-balanced).
    {net_params}
        ``sampler`` must stay None: the sampler is the learned one. The four meta
        parameters above are set on the estimator, not through
        ``callbacks__meta_sampler_update__*``.

    Attributes
    ----------
    sampler_ : MetaClassSampler
        The trained sampler; ``sampler_.class_probabilities()`` is the learned
        distribution, also recorded per epoch in the history as
        ``meta_class_probabilities``.

    References
    ----------
    .. [1] J. Ren, C. Yu, S. Sheng, X. Ma, H. Zhao, S. Yi, H. Li, "Balanced
       Meta-Softmax for Long-Tailed Visual Recognition", NeurIPS 2020.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skimbal import BalancedMetaSoftmaxClassifier
    >>> X, y = make_classification(n_samples=200, weights=[0.9, 0.1], random_state=0)
    >>> clf = BalancedMetaSoftmaxClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> len(clf.history[-1, "meta_class_probabilities"])
    2
    """

    _parameter_constraints = {
        **ImbalancedNetClassifier._parameter_constraints,
        "meta_lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "meta_samples_per_class": [Interval(numbers.Integral, 1, None, closed="left")],
        "gumbel_temperature": [Interval(numbers.Real, 0, None, closed="neither")],
        "meta_interval": [Interval(numbers.Integral, 1, None, closed="left")],
        "init_q": [numbers.Real],
    }

    def __init__(
        self, module=None, *, criterion=BalancedSoftmaxLoss, meta_lr=0.01,
        meta_samples_per_class=10, gumbel_temperature=1.0, meta_interval=1, init_q=1.0,
        **kwargs,
    ):
        super().__init__(module, criterion=criterion, **kwargs)
        self.meta_lr = meta_lr
        self.meta_samples_per_class = meta_samples_per_class
        self.gumbel_temperature = gumbel_temperature
        self.meta_interval = meta_interval
        self.init_q = init_q

    def _validate_params(self):
        super()._validate_params()
        if self.sampler is not None:
            raise ValueError(
                "BalancedMetaSoftmaxClassifier learns its own sampler (a MetaClassSampler); "
                f"leave sampler=None, got sampler={self.sampler!r}."
            )

    @property
    def _default_callbacks(self):
        callbacks = list(super()._default_callbacks)
        update = MetaSamplerUpdate(**{
            name: getattr(self, param, None) for param, name in _CALLBACK_PARAMS.items()
        })
        callbacks.insert(len(callbacks) - 1, ("meta_sampler_update", update))
        return callbacks

    def initialize_callbacks(self):
        """skorch's callbacks; the meta parameters must come from the estimator."""
        super().initialize_callbacks()
        update = dict(self.callbacks_).get("meta_sampler_update")
        for param, name in _CALLBACK_PARAMS.items():
            if update is not None and getattr(update, name) != getattr(self, param):
                raise ValueError(
                    f"callbacks__meta_sampler_update__{name} conflicts with the estimator's "
                    f"{param}={getattr(self, param)!r}; set {param} instead."
                )
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """A fresh fit gets a new :class:`MetaClassSampler`; a warm one keeps its own."""
        if getattr(self, "sampler_", None) is None:
            self.sampler_ = MetaClassSampler(init_q=self.init_q)
        super().on_train_begin(net, X=X, y=y, **kwargs)
