"""``--save-models DIR``: keep the fitted models through the weights-only format.

Every fitted skimbal network is written with
:func:`skimbal.persistence.save_model` (a safetensors file, no pickle) to
``DIR/<data set>/<method>/repeat<r>-fold<k>.safetensors``; for an
imbalanced-learn pipeline, its final network (the sampler acts in ``fit``
only). The models take the *preprocessed* features of their fold (imputed,
standardised, one-hot encoded); the preprocessing is not saved. Estimators the
weights-only format does not cover (scikit-learn and imbalanced-learn models,
the threshold-tuned CE, per-attribute copies) are not saved: the result row says
why.
"""

import os
import re

__all__ = ["save_fitted"]


def save_fitted(estimator, folder, dataset, method, fold):
    """Write ``estimator``; returns the file's path or ``'not saved: <reason>'``."""
    from skimbal.persistence import WeightsOnlyError, save_model

    network = estimator
    if hasattr(estimator, "steps"):  # a Pipeline: the samplers act in fit only
        network = estimator.steps[-1][1]
    if not type(network).__module__.startswith("skimbal."):
        return (f"not saved: {type(estimator).__name__} is not a skimbal estimator "
                "(the weights-only format stores skimbal estimators only)")
    path = os.path.join(folder, _safe(dataset), _safe(method),
                        f"repeat{fold.repeat + 1}-fold{fold.fold + 1}.safetensors")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        save_model(network, path)
    except WeightsOnlyError as exc:
        return f"not saved: {exc}"
    except Exception as exc:  # a saving problem must not fail the fit's scores
        return f"not saved: {type(exc).__name__}: {exc}"
    return path


def _safe(name):
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)
