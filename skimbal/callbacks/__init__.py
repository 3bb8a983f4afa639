"""skorch callbacks: training schedules such as deferred re-weighting."""

from ._deferred import DeferredResampling, DeferredReweighting, deferred_switch_epoch
from ._large_margin import LargeMarginAnnealing
from ._lr_schedule import WarmupMultiStepLR, warmup_multistep_factor
from ._meta_sampler import MetaSamplerUpdate
from ._reclustering import PeriodicReclustering

__all__ = [
    "DeferredResampling",
    "DeferredReweighting",
    "LargeMarginAnnealing",
    "MetaSamplerUpdate",
    "PeriodicReclustering",
    "WarmupMultiStepLR",
    "deferred_switch_epoch",
    "warmup_multistep_factor",
]
