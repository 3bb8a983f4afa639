"""Losses on logits (and embeddings), as plain ``torch.nn.Module`` objects.

Every loss takes logits of shape ``(n_samples, n_classes)`` and int64 targets,
follows PyTorch's ``reduction`` convention ('none' returns per-sample losses
multiplied by ``weight[target]``, 'mean' divides their sum by
``sum_i weight[y_i]``) and keeps its class weights in the buffer ``weight``
(possibly None), which schedules such as deferred re-weighting may replace.
Class statistics (``class_counts``) are the training counts per class. No loss
imports skorch: they work in any PyTorch training loop.

One module per method family:

- re-weighting (``_reweighting``): :func:`effective_number_weights`,
  :func:`inverse_frequency_weights`, :class:`FocalLoss`, :class:`ClassBalancedLoss`;
  for multi-label targets (``_reweighting_multilabel``) :class:`AttributeBCELoss`,
  :class:`AttributeFocalLoss`, :class:`AttributeClassBalancedLoss`;
- margins (``_margin``): :func:`ldam_margins`, :class:`LDAMLoss`,
  :class:`MaxMarginLoss`, :class:`MultiClassHingeLoss`;
- large-margin softmax (``_large_margin_softmax``): the margin function and logits;
- logit adjustment (``_logit_adjustment``): :class:`LogitAdjustedLoss`,
  :class:`BalancedSoftmaxLoss`;
- CRL (``_crl``): :class:`ClassRectificationLoss`;
- LMLE (``_lmle``): :class:`QuintupletLoss`.
"""

from ._crl import ClassRectificationLoss, histogram_loss, minority_class_mask
from ._large_margin_softmax import large_margin_logits, large_margin_psi
from ._lmle import QuintupletLoss, Quintuplets, quintuplet_selection
from ._logit_adjustment import BalancedSoftmaxLoss, LogitAdjustedLoss
from ._margin import LDAMLoss, MaxMarginLoss, MultiClassHingeLoss, ldam_margins
from ._reweighting import (
    ClassBalancedLoss,
    FocalLoss,
    effective_number_weights,
    inverse_frequency_weights,
    sigmoid_prior_bias,
)
from ._reweighting_multilabel import (
    AttributeBCELoss,
    AttributeClassBalancedLoss,
    AttributeFocalLoss,
)

__all__ = [
    "AttributeBCELoss",
    "AttributeClassBalancedLoss",
    "AttributeFocalLoss",
    "BalancedSoftmaxLoss",
    "ClassBalancedLoss",
    "ClassRectificationLoss",
    "FocalLoss",
    "LDAMLoss",
    "LogitAdjustedLoss",
    "MaxMarginLoss",
    "MultiClassHingeLoss",
    "QuintupletLoss",
    "Quintuplets",
    "effective_number_weights",
    "histogram_loss",
    "inverse_frequency_weights",
    "large_margin_logits",
    "large_margin_psi",
    "ldam_margins",
    "minority_class_mask",
    "quintuplet_selection",
    "sigmoid_prior_bias",
]
