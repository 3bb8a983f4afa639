"""skimbal: deep class-imbalanced learning as scikit-learn estimators.

The package root exports the estimators. The parts they are built from live in
public subpackages: :mod:`skimbal.losses`, :mod:`skimbal.sampling`,
:mod:`skimbal.callbacks`, :mod:`skimbal.nn`, :mod:`skimbal.metrics`,
:mod:`skimbal.datasets`, :mod:`skimbal.gpu` and :mod:`skimbal.compare`;
:mod:`skimbal.persistence` saves and loads fitted estimators without pickle.

Estimators are imported on first access, so ``import skimbal`` (and the
``skimbal`` command's ``--help``) does not load torch.
"""

import importlib

__version__ = "0.2.0.dev0"

#: Public estimator -> private module that defines it.
_ESTIMATORS = {
    "ImbalancedNetClassifier": "._core.base",
    "CrossEntropyClassifier": ".methods._reweighting",
    "WeightedCrossEntropyClassifier": ".methods._reweighting",
    "FocalLossClassifier": ".methods._reweighting",
    "ClassBalancedClassifier": ".methods._reweighting",
    "LDAMClassifier": ".methods._margin",
    "MaxMarginClassifier": ".methods._margin",
    "HingeLossClassifier": ".methods._margin",
    "LargeMarginSoftmaxClassifier": ".methods._large_margin_softmax",
    "LogitAdjustedClassifier": ".methods._logit_adjustment",
    "BalancedSoftmaxClassifier": ".methods._logit_adjustment",
    "PostHocLogitAdjustedClassifier": ".methods._logit_adjustment",
    "CRLClassifier": ".methods._crl",
    "LMLEClassifier": ".methods._lmle",
    "ClusterKNNClassifier": ".methods._cluster_knn",
    "DecoupledClassifier": ".methods._two_stage",
    "BBNClassifier": ".methods._bbn",
    "BalancedMetaSoftmaxClassifier": ".methods._learned_rebalancing",
}

#: Public subpackages, importable as attributes (``skimbal.losses``) too.
_SUBPACKAGES = (
    "callbacks", "compare", "datasets", "gpu", "losses", "metrics", "nn", "persistence",
    "sampling",
)

__all__ = sorted(_ESTIMATORS)


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    module = _ESTIMATORS.get(name)
    if module is None:
        raise AttributeError(f"module 'skimbal' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
