"""Classifier heads that replace the linear head of an embedding module.

:class:`NormedLinear` gives cosine logits (LDAM, maximum-margin loss);
:class:`LargeMarginLinear` gives the L-Softmax target logit during training.
:func:`replace_head` puts either on any module that follows the embedding
protocol of :class:`skimbal.nn.MLP` (the head is the attribute ``head``).
:class:`LargeMarginSoftmaxNetwork` wraps such a module so that its ``forward``
takes the targets, the way skorch passes them (as a keyword of ``forward``).
"""

import math
import numbers

import torch
from torch import nn
from torch.nn import functional as F

from ..losses._large_margin_softmax import large_margin_logits
from ._mlp import has_embedding

__all__ = ["LargeMarginLinear", "LargeMarginSoftmaxNetwork", "NormedLinear", "replace_head"]


class NormedLinear(nn.Module):
    """Linear layer on L2-normalised inputs and weights: cosine logits, no bias.

    ``z_j = <x / ||x||, w_j / ||w_j||> = cos(theta_j)``, so every output lies in
    ``[-1, 1]``. The head of LDAM (Cao et al., NeurIPS 2019, Sec. 3 and the
    authors' ``NormedLinear``) and of the maximum-margin loss; the loss multiplies
    the cosines by its scale ``s``.

    Parameters
    ----------
    in_features : int
        Width of the embedding.
    out_features : int
        Number of classes.

    Attributes
    ----------
    weight : torch.nn.Parameter of shape (out_features, in_features)
        One row per class (the layout of :class:`torch.nn.Linear`, so methods that
        read ``head.weight`` work unchanged). Initialised as in the authors' code:
        uniform in ``[-1, 1]``, rows renormalised.

    Examples
    --------
    >>> import torch
    >>> from skimbal.nn import NormedLinear
    >>> head = NormedLinear(8, 3)
    >>> cosines = head(torch.randn(5, 8))
    >>> bool(cosines.abs().max() <= 1)
    True
    """

    def __init__(self, in_features, out_features):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.reset_parameters()

    def reset_parameters(self):
        """Uniform weights in [-1, 1], each row scaled to a small norm."""
        with torch.no_grad():
            self.weight.uniform_(-1, 1).renorm_(2, 0, 1e-5).mul_(1e5)

    def forward(self, x):
        return F.linear(F.normalize(x, dim=1), F.normalize(self.weight, dim=1))

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}"


class LargeMarginLinear(nn.Module):
    """Bias-free linear head with the L-Softmax target logit during training.

    At test time, or without a target, it returns the plain logits
    ``f_j = w_j^T x = ||w_j|| ||x|| cos(theta_j)``. Given the targets, the
    logit of the target class becomes (Liu et al., ICML 2016, Eq. 6 and the
    annealing of Sec. 5)::

        f_y = (mix * ||w_y|| ||x|| cos(theta_y) + ||w_y|| ||x|| psi(theta_y)) / (1 + mix)

    with ``psi(theta) = (-1)^k cos(m theta) - 2k`` on ``[k pi/m, (k+1) pi/m]``
    (:func:`skimbal.losses.large_margin_psi`). A large ``mix`` gives plain
    softmax logits; :class:`skimbal.callbacks.LargeMarginAnnealing` lowers it
    during training. The other logits are unchanged.

    Parameters
    ----------
    in_features : int
        Width of the embedding.
    out_features : int
        Number of classes.
    margin : int, default=2
        The angular margin ``m`` (an integer >= 1; ``m = 1`` is plain softmax).
        The paper uses 2, 3 and 4 (4 on CIFAR).
    mix : float, default=0.0
        The weight ``lambda`` of the plain logit in the target logit.

    Examples
    --------
    >>> import torch
    >>> from skimbal.nn import LargeMarginLinear
    >>> head = LargeMarginLinear(8, 3, margin=2)
    >>> x, y = torch.randn(4, 8), torch.tensor([0, 1, 2, 0])
    >>> bool((head(x, y) <= head(x) + 1e-6).all())  # the target logit only drops
    True
    """

    def __init__(self, in_features, out_features, margin=2, mix=0.0):
        super().__init__()
        if not isinstance(margin, numbers.Integral) or isinstance(margin, bool) or margin < 1:
            raise ValueError(f"margin must be an integer >= 1, got {margin!r}.")
        self.in_features = in_features
        self.out_features = out_features
        self.margin = int(margin)
        self.mix = mix
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def forward(self, x, target=None):
        if target is None:
            return F.linear(x, self.weight)
        return large_margin_logits(x, self.weight, target, self.margin, self.mix)

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"margin={self.margin}, mix={self.mix}"
        )


class LargeMarginSoftmaxNetwork(nn.Module):
    """An embedding module with an L-Softmax head whose ``forward`` takes the targets.

    The backbone's head is replaced by a :class:`LargeMarginLinear` (with
    :func:`replace_head`). ``forward(x)`` returns the plain logits ``W f(x)``;
    ``forward(x, target)`` returns them with the L-Softmax target logit, the logits
    the loss is computed on during training. skorch passes keyword arguments of
    ``fit`` (and of ``train_step_single``) to the module's ``forward``, so the
    estimator hands the batch's labels over as ``target`` without a training step
    of its own. The network follows the embedding protocol itself.

    Parameters
    ----------
    backbone : torch.nn.Module
        A module following the embedding protocol (``forward_features``,
        ``forward_head`` and a ``head`` with ``in_features`` and ``out_features``);
        its head is replaced in place.
    margin : int >= 1, default=2
        The angular margin ``m`` of the head.

    Attributes
    ----------
    backbone : torch.nn.Module
        The wrapped module, with its new head.

    Examples
    --------
    >>> import torch
    >>> from skimbal.nn import MLP, LargeMarginSoftmaxNetwork
    >>> net = LargeMarginSoftmaxNetwork(MLP(4, 3, hidden_layer_sizes=(8,)), margin=2)
    >>> x, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1])
    >>> bool((net(x, target=y) <= net(x) + 1e-6).all())  # only the target logit drops
    True
    """

    def __init__(self, backbone, margin=2):
        super().__init__()
        self.backbone = replace_head(backbone, LargeMarginLinear, margin=margin)

    @property
    def head(self):
        """The :class:`LargeMarginLinear` head of the backbone."""
        return self.backbone.head

    def forward_features(self, x):
        """The backbone's embedding of ``x``."""
        return self.backbone.forward_features(x)

    def forward_head(self, features, target=None):
        """Plain logits of embeddings, or with the L-Softmax target logit given ``target``."""
        if target is not None and len(target) != len(features):
            raise ValueError(
                f"target has {len(target)} rows but the batch has {len(features)}; the "
                "L-Softmax logits need the label of every row."
            )
        return self.head(features, target)

    def forward(self, x, target=None):
        return self.forward_head(self.forward_features(x), target)


def replace_head(module, head, **kwargs):
    """Replace the ``head`` of an embedding module by a new head class.

    Parameters
    ----------
    module : torch.nn.Module
        A module following the embedding protocol (``forward_features``,
        ``forward_head`` and the attribute ``head``, see :class:`skimbal.nn.MLP`),
        whose head exposes ``in_features`` and ``out_features`` (as
        :class:`torch.nn.Linear` does).
    head : type
        Head class called as ``head(in_features, out_features, **kwargs)``, for
        instance :class:`NormedLinear`.
    **kwargs
        Further arguments of ``head``.

    Returns
    -------
    module : torch.nn.Module
        The same module, changed in place.

    Examples
    --------
    >>> from skimbal.nn import MLP, NormedLinear, replace_head
    >>> net = replace_head(MLP(4, 3, hidden_layer_sizes=(8,)), NormedLinear)
    >>> net.head
    NormedLinear(in_features=8, out_features=3)
    """
    if not has_embedding(module) or not isinstance(getattr(module, "head", None), nn.Module):
        raise ValueError(
            f"{type(module).__name__} does not follow the embedding protocol "
            "(forward_features, forward_head and a 'head' attribute), so its head "
            "cannot be replaced."
        )
    old = module.head
    try:
        in_features, out_features = old.in_features, old.out_features
    except AttributeError:
        raise ValueError(
            f"The head of {type(module).__name__} ({type(old).__name__}) has no "
            "in_features/out_features to size a new head from."
        ) from None
    new = head(in_features, out_features, **kwargs)
    parameter = next(old.parameters(), None)
    if parameter is not None:
        new = new.to(device=parameter.device, dtype=parameter.dtype)
    module.head = new
    return module
