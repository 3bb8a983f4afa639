"""Losses on logits (and embeddings), as plain ``torch.nn.Module``s.

Every loss takes logits of shape ``(n_samples, n_classes)`` and int64 targets,
follows PyTorch's ``reduction`` convention ('none' returns per-sample losses
multiplied by ``weight[target]``, 'mean' divides their sum by
``sum_i weight[y_i]``) and keeps its class weights in the buffer ``weight``
(possibly None), which schedules such as deferred re-weighting may replace.
Class statistics (``class_counts``) are the training counts per class.

- Re-weighting: :func:`effective_number_weights`, :func:`inverse_frequency_weights`,
  :class:`FocalLoss`, :class:`ClassBalancedLoss`.
- Margins: :func:`ldam_margins`, :class:`LDAMLoss`, :class:`MaxMarginLoss`,
  :class:`MultiClassHingeLoss`, the L-Softmax margin function.
- Logit adjustment: :class:`LogitAdjustedLoss`, :class:`BalancedSoftmaxLoss`.
- Metric learning: :class:`ClassRectificationLoss`, :class:`QuintupletLoss` (on
  embeddings, labels and cluster ids).
"""

from ._class_balanced import ClassBalancedLoss, sigmoid_prior_bias
from ._crl import ClassRectificationLoss, histogram_loss, minority_class_mask
from ._focal import FocalLoss
from ._hinge import MultiClassHingeLoss
from ._large_margin_softmax import large_margin_logits, large_margin_psi
from ._ldam import LDAMLoss
from ._logit_adjusted import BalancedSoftmaxLoss, LogitAdjustedLoss
from ._max_margin import MaxMarginLoss
from ._quintuplet import QuintupletLoss, Quintuplets, quintuplet_selection
from ._weights import effective_number_weights, inverse_frequency_weights, ldam_margins

__all__ = [
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
