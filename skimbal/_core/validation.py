"""Validation of inputs and of parameters, shared by estimators, samplers and callbacks.

Parameters are declared the scikit-learn way, in a class attribute
``_parameter_constraints`` (see :mod:`sklearn.utils._param_validation`), and
checked when they are used: at ``fit`` for estimators, when a sampler draws, when
a callback is initialised. :func:`validate_constraints` is the one entry point.
"""

import inspect

import numpy as np
from sklearn.utils._param_validation import validate_parameter_constraints
from sklearn.utils.validation import _check_sample_weight

__all__ = ["check_non_negative", "check_sample_weight", "init_params", "validate_constraints"]


def init_params(obj):
    """``{name: value}`` of the constructor arguments of a plain object."""
    signature = inspect.signature(type(obj).__init__)
    return {
        name: getattr(obj, name)
        for name, parameter in signature.parameters.items()
        if name != "self" and hasattr(obj, name)
        and parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)
    }


def validate_constraints(obj, params=None):
    """Check ``params`` (default: the constructor arguments) against ``obj._parameter_constraints``.

    Raises scikit-learn's ``InvalidParameterError`` (a ``ValueError`` and a
    ``TypeError``) naming the class and the parameter.
    """
    params = init_params(obj) if params is None else params
    validate_parameter_constraints(
        type(obj)._parameter_constraints, params, caller_name=type(obj).__name__
    )


def check_sample_weight(sample_weight, n_samples):
    """Validate ``sample_weight``: right length, finite, non-negative, not all zero.

    Returns float32 weights or None.
    """
    if sample_weight is None:
        return None
    weights = _check_sample_weight(
        sample_weight, np.empty((n_samples, 0)), dtype=np.float64, ensure_non_negative=True
    )
    return weights.astype(np.float32)


def check_non_negative(value, name):
    """Raise a ``ValueError`` naming ``name`` unless ``value`` is a real number >= 0.

    For plain functions; estimators, samplers and callbacks declare constraints.
    """
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}.")
