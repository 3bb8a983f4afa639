"""skimbal: deep class-imbalanced learning as scikit-learn estimators."""

from ._base import ImbalancedNetClassifier, TrainValidDatasets
from ._cross_entropy import CrossEntropyClassifier, WeightedCrossEntropyClassifier
from ._data import TensorBatchLoader, TensorDataset

__version__ = "0.1.0"

__all__ = [
    "CrossEntropyClassifier",
    "ImbalancedNetClassifier",
    "TensorBatchLoader",
    "TensorDataset",
    "TrainValidDatasets",
    "WeightedCrossEntropyClassifier",
]
