"""skimbal: deep class-imbalanced learning as scikit-learn estimators."""

from ._augmentation import MinorityAugmentation
from ._balms import BalancedMetaSoftmaxClassifier
from ._base import ImbalancedNetClassifier, TrainValidDatasets
from ._bbn import BBNClassifier
from ._cluster_knn import ClusterKNNClassifier
from ._crl import CRLClassifier, crl_imbalance_alpha
from ._cross_entropy import CrossEntropyClassifier, WeightedCrossEntropyClassifier
from ._data import TensorBatchLoader, TensorDataset
from ._decoupling import DecoupledClassifier
from ._gpu import GPUFastPathMixin, with_gpu_fast_path
from ._lmle import LMLEClassifier
from ._loss_based import (
    BalancedSoftmaxClassifier,
    ClassBalancedClassifier,
    FocalLossClassifier,
    HingeLossClassifier,
    LargeMarginSoftmaxClassifier,
    LDAMClassifier,
    LogitAdjustedClassifier,
    MaxMarginClassifier,
)
from ._meta_reweighting import MetaReweighting
from ._post_hoc import PostHocLogitAdjustedClassifier

__version__ = "0.1.0"

__all__ = [
    "BBNClassifier",
    "DecoupledClassifier",
    "BalancedMetaSoftmaxClassifier",
    "MetaReweighting",
    "MinorityAugmentation",
    "BalancedSoftmaxClassifier",
    "CRLClassifier",
    "ClassBalancedClassifier",
    "ClusterKNNClassifier",
    "CrossEntropyClassifier",
    "FocalLossClassifier",
    "GPUFastPathMixin",
    "HingeLossClassifier",
    "ImbalancedNetClassifier",
    "LDAMClassifier",
    "LMLEClassifier",
    "LargeMarginSoftmaxClassifier",
    "LogitAdjustedClassifier",
    "MaxMarginClassifier",
    "PostHocLogitAdjustedClassifier",
    "TensorBatchLoader",
    "TensorDataset",
    "TrainValidDatasets",
    "WeightedCrossEntropyClassifier",
    "crl_imbalance_alpha",
    "with_gpu_fast_path",
]
