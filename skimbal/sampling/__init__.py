"""Samplers that re-draw the training rows of every epoch.

A sampler is passed as the ``sampler`` parameter of any skimbal estimator (or as
one of the names :func:`check_sampler` knows). It sees only the training split of
the fit, is deep-copied at every fit and is called once per epoch with the epoch's
index in the net's history; see :mod:`skimbal.sampling._base` and the Samplers
contract in ``docs/design.rst``.
"""

from ._base import BaseSampler, check_sampler
from ._bilateral import BilateralBatchLoader
from ._class_aware import ClassAwareSampler, ProgressiveSampler, ReversedSampler
from ._deferred import DeferredResampling
from ._imblearn import ImbalancedLearnSampler
from ._meta_sampler import MetaClassSampler

__all__ = [
    "BaseSampler",
    "BilateralBatchLoader",
    "ClassAwareSampler",
    "DeferredResampling",
    "ImbalancedLearnSampler",
    "MetaClassSampler",
    "ProgressiveSampler",
    "ReversedSampler",
    "check_sampler",
]
