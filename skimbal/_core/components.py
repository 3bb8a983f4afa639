"""Building the parts of a net: module, criterion, device and output nonlinearity.

Helpers of :class:`skimbal._core.base.ImbalancedNetClassifier`, kept apart so that
the estimator reads as its fit pipeline.
"""

import contextlib
import copy
import inspect
import math

import numpy as np
import torch
from skorch.exceptions import SkorchException

__all__ = [
    "DivergenceError",
    "accepted_params",
    "build_criterion",
    "build_module",
    "check_finite_outputs",
    "check_finite_parameters",
    "predict_nonlinearity",
    "restore_best_scores",
    "restore_optional_buffers",
    "resolve_device",
    "resolved_device",
]


class DivergenceError(FloatingPointError, SkorchException):
    """Training produced a loss or weights that are not finite numbers."""


def resolve_device(device):
    """Map ``'auto'`` to ``'cuda'`` when a GPU is available, else ``'cpu'``."""
    if isinstance(device, str) and device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


@contextlib.contextmanager
def resolved_device(net):
    """Let skorch's internals, which read ``net.device``, see a real device.

    ``device='auto'`` stays the parameter; inside the block it is the device it
    resolves to. A device set inside the block (``set_params(device=...)``) stays.
    """
    requested = net.device
    resolved = resolve_device(requested)
    vars(net)["device"] = resolved
    try:
        yield
    finally:
        if vars(net).get("device") is resolved:
            vars(net)["device"] = requested


def accepted_params(factory):
    """Names of the keyword arguments a class or callable accepts."""
    target = type(factory) if isinstance(factory, torch.nn.Module) else factory
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return set()
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return {p.name for p in parameters} | {"**"}
    return {p.name for p in parameters}


def _check_no_routed_params(component, name, routed):
    if routed:
        raise ValueError(
            f"{name} is a {type(component).__name__} instance, which is used as it is "
            f"(copied); the {name}__* parameters {sorted(routed)} cannot reach it. Pass "
            f"the class with {name}__* parameters, or configure the instance itself."
        )


def build_module(module, routed, sizes):
    """The module of a fit.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        An instance is deep-copied, as it is; a class is called with ``routed``
        (the ``module__*`` parameters) and, for the arguments it accepts and the
        user did not route, ``sizes`` (``n_features``, ``n_classes``).
    routed : dict
    sizes : dict
        Sizes known from the data (missing ones are left out).
    """
    if isinstance(module, torch.nn.Module):
        _check_no_routed_params(module, "module", routed)
        return copy.deepcopy(module)
    accepted = accepted_params(module)
    kwargs = {name: value for name, value in sizes.items() if name in accepted}
    kwargs.update(routed)
    missing = [
        name for name, parameter in _required(module).items()
        if name not in kwargs and name in ("n_features", "n_classes")
    ]
    if missing:
        raise ValueError(
            f"{getattr(module, '__name__', module)} needs {missing}, which are known once "
            "the net has seen data: call fit, or pass "
            + ", ".join(f"module__{name}" for name in missing) + "."
        )
    return module(**kwargs)


def _required(factory):
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return {}
    return {name: p for name, p in parameters.items() if p.default is p.empty
            and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def build_criterion(criterion, routed, from_estimator):
    """The criterion of a fit.

    Parameters
    ----------
    criterion : torch.nn.Module class or instance
        An instance is deep-copied, as it is. A class gets the arguments it
        accepts from ``from_estimator`` (class statistics and the estimator's own
        hyper-parameters) and ``routed`` (the ``criterion__*`` parameters).
    routed : dict
    from_estimator : dict
        Arguments the estimator provides; a ``criterion__*`` parameter naming one of
        them is refused rather than silently winning or losing.
    """
    if isinstance(criterion, torch.nn.Module):
        _check_no_routed_params(criterion, "criterion", routed)
        return copy.deepcopy(criterion)
    accepted = accepted_params(criterion)
    kwargs = {
        name: value for name, value in from_estimator.items()
        if value is not None and (name in accepted or "**" in accepted)
    }
    clash = sorted(set(routed) & set(kwargs))
    if clash:
        raise ValueError(
            f"criterion__{clash[0]} conflicts with the value the estimator derives for "
            f"{clash[0]!r}; set it through the estimator's own parameter instead."
        )
    kwargs.update(routed)
    return criterion(**kwargs)


def predict_nonlinearity(net):
    """The map from the module's output to ``predict_proba`` for ``net``.

    ``predict_nonlinearity='auto'``: the sigmoid of every attribute for multi-label
    targets, the identity when the criterion is ``NLLLoss`` (skorch's rule: the
    module outputs probabilities) or when the net has several criteria (skorch's
    rule too), else the softmax, whatever the loss on logits.
    """
    nonlinearity = net.predict_nonlinearity
    if nonlinearity is None:
        return _identity
    if nonlinearity != "auto":
        if not callable(nonlinearity):
            raise TypeError("predict_nonlinearity has to be a callable, 'auto' or None")
        return nonlinearity
    if len(net._criteria) != 1:
        return _identity  # skorch's rule: with several criteria, no guess
    if getattr(net, "multilabel_", False):
        return torch.sigmoid
    if isinstance(getattr(net, "criterion_", None), torch.nn.NLLLoss):
        return _identity
    return _softmax


def _identity(x):
    return x


def _softmax(logits):
    return torch.softmax(logits, dim=-1)


def check_finite_loss(loss, epoch, batch, part="training"):
    """Raise :class:`DivergenceError` when a training (or validation) loss is not finite."""
    if not math.isfinite(loss):
        raise DivergenceError(
            f"The {part} loss became {loss} in epoch {epoch + 1}, batch {batch + 1}; "
            "training stopped. The usual causes are a learning rate that is too high "
            "and features on very different scales (standardise X, e.g. with "
            "sklearn.preprocessing.StandardScaler)."
        )


def check_finite_parameters(module, epoch):
    """Raise :class:`DivergenceError` when a parameter of ``module`` is not finite."""
    for name, parameter in module.named_parameters():
        if not torch.isfinite(parameter).all():
            raise DivergenceError(
                f"The module's parameter {name!r} is not finite after epoch {epoch + 1}; "
                "training stopped. Lower the learning rate and standardise the features."
            )


def check_finite_outputs(values, what="the network's outputs"):
    """Return ``values`` (a tensor or array); raise :class:`DivergenceError` if not finite.

    Examples
    --------
    >>> import torch
    >>> from skimbal._core.components import check_finite_outputs
    >>> check_finite_outputs(torch.tensor([float("nan")]), "the embedding")
    Traceback (most recent call last):
    ...
    skimbal._core.components.DivergenceError: NaN or infinite values in the embedding: ...
    """
    if isinstance(values, torch.Tensor):
        finite = bool(torch.isfinite(values).all())
    else:
        finite = not np.issubdtype(values.dtype, np.floating) or bool(np.isfinite(values).all())
    if not finite:
        raise DivergenceError(
            f"NaN or infinite values in {what}: the fit diverged (lower the learning rate "
            "and standardise the features, e.g. with sklearn.preprocessing.StandardScaler) "
            "or X holds values far outside the training range."
        )
    return values


def cuda_devices():
    """Indices of the CUDA devices (none without CUDA), for ``torch.random.fork_rng``."""
    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []


def restore_optional_buffers(module):
    """Let ``module.load_state_dict`` fill buffers registered as None.

    A loss keeps optional state, such as its class weights, in a buffer that is
    None until something sets it (deferred re-weighting sets ``weight`` when training
    starts). A checkpoint written after that holds the tensor; loading it into a
    fresh criterion whose buffer is still None would fail with "unexpected key".
    This pre-hook of ``load_state_dict`` gives every such buffer the stored tensor's
    shape and dtype first, so the load restores it whatever the order of the
    callbacks that set and load it. Unknown keys still fail.

    Examples
    --------
    >>> import torch
    >>> from skimbal._core.components import restore_optional_buffers
    >>> source = torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 3.0]))
    >>> target = restore_optional_buffers(torch.nn.CrossEntropyLoss())
    >>> target.load_state_dict(source.state_dict())
    <All keys matched successfully>
    >>> target.weight
    tensor([1., 3.])
    """
    if not isinstance(module, torch.nn.Module):  # a plain callable criterion
        return module
    register = getattr(module, "register_load_state_dict_pre_hook", None)
    if register is not None:
        register(_fill_optional_buffers)
    else:  # torch < 2.5
        module._register_load_state_dict_pre_hook(_fill_optional_buffers, with_module=True)
    return module


def _fill_optional_buffers(module, state_dict, prefix, *args):
    for name, submodule in module.named_modules(prefix=prefix.rstrip(".")):
        for buffer_name, buffer in list(submodule._buffers.items()):
            key = f"{name}.{buffer_name}" if name else buffer_name
            stored = state_dict.get(key)
            if buffer is None and isinstance(stored, torch.Tensor):
                submodule._buffers[buffer_name] = torch.empty_like(stored)


def restore_best_scores(net):
    """Give scoring callbacks the best score recorded in a restored history.

    skorch's scoring callbacks keep their best score in ``best_score_``, which a
    fresh net starts at infinity; after ``LoadInitState`` restored the history of an
    interrupted run, the first new epoch would count as the best so far. Called once
    the callbacks' ``on_train_begin`` (and with it the restore) has run, this sets
    ``best_score_`` to the score of the last epoch flagged ``<name>_best``, as skorch's
    ``EpochScoring`` does when it finds a history, for every scoring callback.
    """
    history = net.history
    for _, callback in net.callbacks_:
        name = getattr(callback, "name_", None) or getattr(callback, "name", None)
        if not isinstance(name, str) or not hasattr(callback, "best_score_"):
            continue
        flagged = [i for i, row in enumerate(history) if row.get(f"{name}_best") is True]
        if flagged and name in history[flagged[-1]]:
            callback.best_score_ = history[flagged[-1], name]
