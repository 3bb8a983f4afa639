"""Large-margin softmax (L-Softmax, Liu et al. 2016).

The target logit needs the norms and the angle, so the margin logits come from
the module: :class:`skimbal.nn.LargeMarginSoftmaxNetwork` wraps the network and
takes the batch's labels as the keyword ``target`` of ``forward``, which skorch's
own training step passes on. The plain-logit weight ``lambda`` is annealed by the
callback :class:`skimbal.callbacks.LargeMarginAnnealing`.
"""

import numbers

import torch
from sklearn.utils._param_validation import Interval
from skorch.dataset import unpack_data

from .._core.base import ImbalancedNetClassifier
from .._core.batch import as_target
from .._core.docstrings import substitute_docstring
from ..callbacks import LargeMarginAnnealing
from ..nn import LargeMarginSoftmaxNetwork

__all__ = ["LargeMarginSoftmaxClassifier"]


@substitute_docstring
class LargeMarginSoftmaxClassifier(ImbalancedNetClassifier):
    """Network trained with the large-margin softmax (L-Softmax) loss.

    The module's head becomes a :class:`skimbal.nn.LargeMarginLinear` (no bias)
    and the module is wrapped in a :class:`skimbal.nn.LargeMarginSoftmaxNetwork`.
    During training the target logit ``||w_y|| ||x|| cos(theta_y)`` becomes
    ``(lambda ||w_y|| ||x|| cos(theta_y) + ||w_y|| ||x|| psi(theta_y)) / (1 + lambda)``
    with ``psi(theta) = (-1)^k cos(m theta) - 2k`` on ``[k pi/m, (k+1) pi/m]``
    (:func:`skimbal.losses.large_margin_psi`), and the criterion (default
    cross-entropy) is applied to these logits. Prediction and validation use the
    plain logits ``W x``.

    ``lambda`` is annealed from 1000 towards 0 by the callback
    :class:`skimbal.callbacks.LargeMarginAnnealing` (named
    ``'large_margin_annealing'``), ``lambda_t = max(minimum, base * (1 + gamma *
    t)^(-power))`` at training iteration ``t`` counted over the whole run (so
    ``partial_fit``, ``warm_start`` and a resumed fit continue it). Configure it
    through that callback alone, e.g. ``callbacks__large_margin_annealing__gamma=1.0``.

    Parameters
    ----------
    {embedding_module}
    margin : int >= 1, default=2
        Angular margin ``m`` (Liu et al. use 2 to 4; ``m = 1`` is softmax).
    {net_params}

    References
    ----------
    .. [1] W. Liu, Y. Wen, Z. Yu, M. Yang, "Large-Margin Softmax Loss for
       Convolutional Neural Networks", ICML 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import LargeMarginSoftmaxClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LargeMarginSoftmaxClassifier(margin=3, max_epochs=5, random_state=0).fit(X, y)
    >>> clf.module_.head.margin
    3
    """

    _parameter_constraints = {
        **ImbalancedNetClassifier._parameter_constraints,
        "margin": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, module=None, *, criterion=torch.nn.CrossEntropyLoss, margin=2, **kwargs):
        super().__init__(module, criterion=criterion, **kwargs)
        self.margin = margin

    @property
    def _default_callbacks(self):
        callbacks = list(super()._default_callbacks)
        callbacks.insert(len(callbacks) - 1, ("large_margin_annealing", LargeMarginAnnealing()))
        return callbacks

    def initialize_module(self):
        super().initialize_module()
        self.module_ = LargeMarginSoftmaxNetwork(self.module_, margin=self.margin)
        return self

    def train_step_single(self, batch, **fit_params):
        """skorch's step, with the batch's labels passed to the module as ``target``."""
        _, target = unpack_data(batch)
        return super().train_step_single(batch, target=as_target(target).y, **fit_params)
