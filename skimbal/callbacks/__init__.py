"""skorch callbacks: the schedules and batch transforms of skimbal's methods.

Every schedule reads the epoch from ``net.history`` (:class:`EpochSchedule`), so
``fit``, ``warm_start``, ``partial_fit`` and a resumed run follow the same
schedule. Callbacks that transform training batches implement
``transform_batch(net, X, target) -> (X, target)``; the estimator calls it on every
training batch before the forward pass.

One module per method family, as in :mod:`skimbal.losses` and :mod:`skimbal.methods`:

- ``_deferred_reweighting``: :class:`DeferredReweighting` (DRW);
- ``_lr_schedule``: :class:`WarmupMultiStepLR`;
- ``_large_margin_softmax``: :class:`LargeMarginAnnealing`;
- ``_crl``: :class:`CRLStatistics`;
- ``_lmle``: :class:`PeriodicReclustering`;
- ``_bbn``: :class:`CumulativeLearning`;
- ``_meta_learning``: :class:`MetaSamplerUpdate`, :class:`MetaReweighting`;
- ``_minority_augmentation``: :class:`MinorityAugmentation`.
"""

from ._bbn import CumulativeLearning
from ._crl import CRLStatistics
from ._deferred_reweighting import DeferredReweighting
from ._large_margin_softmax import LargeMarginAnnealing
from ._lmle import PeriodicReclustering
from ._lr_schedule import WarmupMultiStepLR, warmup_multistep_factor
from ._meta_learning import MetaReweighting, MetaSamplerUpdate
from ._minority_augmentation import MinorityAugmentation
from ._schedule import EpochSchedule, deferred_switch_epoch

__all__ = [
    "CRLStatistics",
    "CumulativeLearning",
    "DeferredReweighting",
    "EpochSchedule",
    "LargeMarginAnnealing",
    "MetaReweighting",
    "MetaSamplerUpdate",
    "MinorityAugmentation",
    "PeriodicReclustering",
    "WarmupMultiStepLR",
    "deferred_switch_epoch",
    "warmup_multistep_factor",
]
