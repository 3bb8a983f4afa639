"""Margin losses: LDAM, the maximum-margin loss and the multi-class hinge loss.

Each estimator fixes its criterion (:mod:`skimbal.losses._margin`) and routes its
hyper-parameters to it through :meth:`criterion_params`; the per-class margins
come from the class counts of the training split at fit time. LDAM and the
maximum-margin loss work on cosine logits: the module's head is replaced by
:class:`skimbal.nn.NormedLinear`, and the estimators report the scaled cosines.
Both train with deferred re-weighting by default (``drw=True``), as in their papers.
"""

import numbers

from sklearn.utils._param_validation import Interval

from .._core.base import ImbalancedNetClassifier
from .._core.docstrings import substitute_docstring
from ..losses import LDAMLoss, MaxMarginLoss, MultiClassHingeLoss
from ..nn import NormedLinear, replace_head
from ._reweighting import DeferredReweightingMixin

__all__ = ["CosineHeadMixin", "HingeLossClassifier", "LDAMClassifier", "MaxMarginClassifier"]

_POSITIVE = [Interval(numbers.Real, 0, None, closed="neither")]
_NON_NEGATIVE = [Interval(numbers.Real, 0, None, closed="left")]


class CosineHeadMixin:
    """Replace the module's head by :class:`NormedLinear`; report scaled cosines.

    The loss multiplies the cosines by its scale ``s`` during training, so the
    scores of ``decision_function`` and ``predict_proba`` are ``s * cos(theta)``
    (their argmax, hence ``predict``, is that of the cosines). ``s`` is the
    criterion's ``scale``, or the estimator's for a criterion without one.
    """

    def initialize_module(self):
        super().initialize_module()
        replace_head(self.module_, NormedLinear)
        return self

    def batch_scores(self, output):
        """The scaled cosines ``s * cos(theta_j)`` (the logits the loss sees, no margin)."""
        cosines = output.logits
        return getattr(self.criterion_, "scale", self.scale) * cosines


@substitute_docstring(drw_default="True")
class LDAMClassifier(CosineHeadMixin, DeferredReweightingMixin, ImbalancedNetClassifier):
    """Network with a cosine head trained with the LDAM loss, by default with DRW.

    ``L = CE(s * (cos(theta) - m_y * onehot(y)), y)`` with per-class margins
    ``m_j = K / n_j^{1/4}`` (the rarest class gets ``max_margin``) on the cosine
    logits of a :class:`skimbal.nn.NormedLinear` head, which replaces the module's
    ``head`` (:class:`skimbal.losses.LDAMLoss`). LDAM-DRW, the default, adds
    deferred re-weighting.

    Parameters
    ----------
    {embedding_module}
    max_margin : float > 0, default=0.5
        Margin of the rarest class (Cao et al., Sec. 3.2 and their code).
    scale : float > 0, default=30.0
        Scale ``s`` of the cosine logits (the authors' code).
    {drw}
    {net_params}

    Notes
    -----
    ``decision_function`` returns the scaled cosines ``s * cos(theta_j)`` (the
    logits the loss sees, without margin) and ``predict_proba`` their softmax.
    ``class_weight`` cannot be combined with ``drw=True`` (DRW sets the class
    weights); set ``drw=False`` to train LDAM with fixed class weights.

    References
    ----------
    .. [1] K. Cao, C. Wei, A. Gaidon, N. Arechiga, T. Ma, "Learning Imbalanced
       Datasets with Label-Distribution-Aware Margin Loss", NeurIPS 2019.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import LDAMClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LDAMClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> bool(abs(clf.decision_function(X)).max() <= 30.0)
    True
    """

    _parameter_constraints = {
        **ImbalancedNetClassifier._parameter_constraints,
        "max_margin": _POSITIVE,
        "scale": _POSITIVE,
        "drw": ["boolean"],
    }

    def __init__(self, module=None, *, criterion=LDAMLoss, max_margin=0.5, scale=30.0, drw=True,
                 **kwargs):
        super().__init__(module, criterion=criterion, **kwargs)
        self.max_margin = max_margin
        self.scale = scale
        self.drw = drw

    def criterion_params(self):
        return {**super().criterion_params(), "max_margin": self.max_margin, "scale": self.scale}


@substitute_docstring(drw_default="True")
class MaxMarginClassifier(CosineHeadMixin, DeferredReweightingMixin, ImbalancedNetClassifier):
    """Network with a cosine head trained with the maximum-margin (MM) loss.

    With ``p = z_y`` and ``q = max_{j != y} z_j`` on the cosine logits, the target
    logit is lowered by ``exp(-(p - q) - gamma M)`` when ``p > q`` and by
    ``exp(-(q - p) - M)`` otherwise (no gradient through the shift), then
    ``L = CE(s * z_shifted, y)`` (:class:`skimbal.losses.MaxMarginLoss`, which
    documents the fixes of the authors' code). Trained with DRW by default, as in
    the paper.

    Parameters
    ----------
    {embedding_module}
    scale : float > 0, default=30.0
        Scale ``s`` (authors' default; their CIFAR-100 IR100 run uses 19).
    max_margin : float >= 0, default=0.5
        The margin ``M`` (authors' default; 1.29 in their CIFAR-100 IR100 run).
    gamma : float >= 0, default=1.528
        Multiplier of ``M`` for correctly ranked samples (their CIFAR-100 IR100 run).
    ldam_offset : bool or float > 0, default=False
        Use ``M - m_y`` with the LDAM margins ``m_y`` of the training split (the
        paper's variant); True takes the authors' largest LDAM margin 0.5, a float
        sets it.
    {drw}
    {net_params}

    Notes
    -----
    ``decision_function`` returns the scaled cosines ``s * cos(theta_j)``.

    References
    ----------
    .. [1] H. Kang, T. Vu, C. D. Yoo, "Learning Imbalanced Datasets with Maximum
       Margin Loss", ICIP 2021.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import MaxMarginClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MaxMarginClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> type(clf.module_.head).__name__
    'NormedLinear'
    """

    _parameter_constraints = {
        **ImbalancedNetClassifier._parameter_constraints,
        "scale": _POSITIVE,
        "max_margin": _NON_NEGATIVE,
        "gamma": _NON_NEGATIVE,
        "ldam_offset": ["boolean", Interval(numbers.Real, 0, None, closed="neither")],
        "drw": ["boolean"],
    }

    def __init__(self, module=None, *, criterion=MaxMarginLoss, scale=30.0, max_margin=0.5,
                 gamma=1.528, ldam_offset=False, drw=True, **kwargs):
        super().__init__(module, criterion=criterion, **kwargs)
        self.scale = scale
        self.max_margin = max_margin
        self.gamma = gamma
        self.ldam_offset = ldam_offset
        self.drw = drw

    def criterion_params(self):
        return {
            **super().criterion_params(),
            "scale": self.scale,
            "max_margin": self.max_margin,
            "gamma": self.gamma,
            "ldam_offset": self.ldam_offset,
        }


@substitute_docstring(drw_default="False")
class HingeLossClassifier(DeferredReweightingMixin, ImbalancedNetClassifier):
    """Network trained with the multi-class hinge loss (max form).

    ``L = max(0, Delta_y + max_{j != y} z_j - z_y)`` (Crammer and Singer 2001), with
    ``Delta_y = margin`` or the LDAM margins ``m_y = K / n_y^{1/4}`` of the training
    split (:class:`skimbal.losses.MultiClassHingeLoss`). ``predict_proba`` is the
    softmax of the logits, which the hinge loss does not calibrate.

    Parameters
    ----------
    {module}
    margin : float >= 0, default=1.0
        Margin of every class (not used with ``ldam_margins=True``).
    ldam_margins : bool, default=False
        Use the per-class LDAM margins of the training split instead of ``margin``.
    max_margin : float > 0, default=0.5
        Margin of the rarest class with ``ldam_margins=True`` (Cao et al. 2019
        compare the hinge loss with LDAM margins as an ablation); not used otherwise.
    {drw}
    {net_params}

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import HingeLossClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = HingeLossClassifier(ldam_margins=True, max_epochs=5, random_state=0).fit(X, y)
    >>> clf.criterion_.margins.shape
    torch.Size([3])
    """

    _parameter_constraints = {
        **ImbalancedNetClassifier._parameter_constraints,
        "margin": _NON_NEGATIVE,
        "ldam_margins": ["boolean"],
        "max_margin": _POSITIVE,
        "drw": ["boolean"],
    }

    def __init__(self, module=None, *, criterion=MultiClassHingeLoss, margin=1.0,
                 ldam_margins=False, max_margin=0.5, drw=False, **kwargs):
        super().__init__(module, criterion=criterion, **kwargs)
        self.margin = margin
        self.ldam_margins = ldam_margins
        self.max_margin = max_margin
        self.drw = drw

    def criterion_params(self):
        return {
            **super().criterion_params(),
            "margin": self.margin,
            "ldam_margins": self.ldam_margins,
            "max_margin": self.max_margin,
        }
