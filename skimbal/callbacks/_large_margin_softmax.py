"""Annealing of the plain-logit mix of the L-Softmax head."""

import numbers

from sklearn.utils._param_validation import Interval
from skorch.callbacks import Callback

from .._core.validation import validate_constraints
from ..nn import LargeMarginLinear

__all__ = ["LargeMarginAnnealing"]


class LargeMarginAnnealing(Callback):
    """Lower the plain-logit weight ``lambda`` of L-Softmax heads during training.

    Before every training batch ``t`` (counted over the whole run: the training
    batches of the epochs in the net's history, then those of the current epoch, so
    ``warm_start``, ``partial_fit`` and a resumed run continue the schedule) the ``mix``
    of every :class:`skimbal.nn.LargeMarginLinear` in the module is set to

    .. math::

        \\lambda_t = \\max\\left(\\lambda_{min},\\
        \\text{base}\\,(1 + \\gamma t)^{-\\text{power}}\\right),

    the schedule of the authors' Caffe layer (Liu et al., ICML 2016, Sec. 5: the
    target logit starts as the plain softmax logit and the margin takes over
    gradually, which makes the loss trainable).

    Parameters
    ----------
    base : float >= 0, default=1000.0
        ``lambda_0``.
    gamma : float >= 0, default=0.12
        Decay rate per iteration.
    power : float >= 0, default=1.0
        Decay exponent.
    minimum : float >= 0, default=0.0
        Floor ``lambda_min``; 0 ends in the pure L-Softmax logit.

    Notes
    -----
    [unsure] The paper gives the schedule's form but not its constants for every
    data set; the defaults are those commonly used with the authors' Caffe layer
    (``base=1000, gamma=0.12, power=1, lambda_min=0``). With few iterations (small
    data) ``lambda`` stays large and the model is close to plain softmax; raise
    ``gamma`` or the number of epochs to reach the margin regime.

    Examples
    --------
    >>> from skimbal.callbacks import LargeMarginAnnealing
    >>> schedule = LargeMarginAnnealing(base=100.0, gamma=1.0, power=1.0, minimum=5.0)
    >>> [schedule.mix_at(t) for t in (0, 1, 9, 99)]
    [100.0, 50.0, 10.0, 5.0]
    """

    _parameter_constraints = {
        name: [Interval(numbers.Real, 0, None, closed="left")]
        for name in ("base", "gamma", "power", "minimum")
    }

    def __init__(self, base=1000.0, gamma=0.12, power=1.0, minimum=0.0):
        self.base = base
        self.gamma = gamma
        self.power = power
        self.minimum = minimum

    def initialize(self):
        validate_constraints(self, self.get_params())
        return self

    def mix_at(self, iteration):
        """``lambda`` at training iteration ``iteration`` (0-based)."""
        mix = self.base * (1.0 + self.gamma * iteration) ** (-self.power)
        return float(max(self.minimum, mix))

    def on_epoch_begin(self, net, **kwargs):
        self.heads_ = [m for m in net.module_.modules() if isinstance(m, LargeMarginLinear)]
        if not self.heads_:
            raise ValueError(
                "LargeMarginAnnealing found no LargeMarginLinear head in the module; "
                "use skimbal.nn.replace_head(module, LargeMarginLinear)."
            )
        done = [row.get("train_batch_count", 0) for row in net.history[:-1]]
        self.iteration_ = int(sum(done))

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        mix = self.mix_at(self.iteration_)
        for head in self.heads_:
            head.mix = mix
        self.iteration_ += 1

    def on_train_end(self, net, **kwargs):
        # The heads belong to the module; keep no second reference in the pickle.
        self.heads_ = []
