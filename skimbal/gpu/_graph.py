"""CUDA-graph capture and replay of one estimator's training step, and what invalidates it.

:class:`_GraphedTrainStep` warms a step up eagerly, captures it once per batch
shape on static copies of the batch, and replays it for later batches of that
shape. :func:`state_fingerprint` is what a captured step depends on besides its
batch; a change of it means a new capture. The backend (:class:`_CudaGraphBackend`)
is the only part that touches ``torch.cuda``, so the tests replace it with a
stand-in and run all of this on the CPU.
"""

import numbers
import warnings

import torch
from skorch.callbacks import Callback
from skorch.dataset import unpack_data

from .._core.batch import Target

__all__ = ["state_fingerprint"]

# At most this many fingerprint changes (re-captures) within one epoch: more
# means the step depends on state that changes every batch.
_MAX_CHANGES_PER_EPOCH = 2
# At most this many distinct batch shapes get a graph (full and last batch).
_MAX_GRAPHS = 4


class _CudaGraphBackend:
    """Capture and replay with ``torch.cuda`` (replaced by a stand-in in tests)."""

    @staticmethod
    def capture(fn):
        graph = torch.cuda.CUDAGraph()
        stream = torch.cuda.current_stream()
        try:
            with torch.cuda.graph(graph):
                outputs = fn()
        except BaseException:
            # When ending a failed capture raises, torch.cuda.graph leaves its
            # capture stream current: restore the caller's stream.
            torch.cuda.set_stream(stream)
            raise
        return graph, outputs

    @staticmethod
    def replay(graph):
        graph.replay()

    @staticmethod
    def run_warmup(fn):
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            outputs = fn()
        torch.cuda.current_stream().wait_stream(side)
        return outputs


class _Capture:
    __slots__ = ("graph", "static_X", "static_y", "outputs")

    def __init__(self, graph, static_X, static_y, outputs):
        self.graph = graph
        self.static_X = static_X
        self.static_y = static_y
        self.outputs = outputs


class _GraphedTrainStep:
    """Warm-up, capture, fingerprinting and replay of one estimator's training step.

    Holds no reference to the estimator (it is the value of a weak mapping keyed
    by it); the estimator is passed to every call.
    """

    backend = _CudaGraphBackend

    def __init__(self, net):
        self.captures = {}
        self.seen = {}
        self.fingerprint = None
        self.held = ()
        self.changes = 0
        self.module_state = None
        self.disabled = None
        self.n_captures = 0
        self.n_replays = 0
        blockers = [
            name
            for name, callback in getattr(net, "callbacks_", [])
            if type(callback).on_grad_computed is not Callback.on_grad_computed
        ]
        if blockers:
            self.disable(f"callbacks {blockers} implement on_grad_computed")
        for optimizer in _optimizers(net):
            # Optimizers with a step counter (Adam, ...) need it on the device.
            if not optimizer.state:
                for group in optimizer.param_groups:
                    if group.get("capturable") is False:
                        group["capturable"] = True

    def disable(self, reason):
        if self.disabled is None:
            self.disabled = reason
            self.captures.clear()
            warnings.warn(
                f"CUDA graph capture disabled for this fit, training eagerly: {reason}.",
                RuntimeWarning,
                stacklevel=3,
            )

    def new_epoch(self, net):
        """Reset the per-epoch change count and scan the modules (once per epoch)."""
        self.changes = 0
        self.module_state = state_fingerprint(net, modules=True, criteria=False)

    def __call__(self, net, batch):
        """Return the step's outputs, or None to let the caller run it eagerly."""
        if self.disabled is not None:
            return None
        X, y = unpack_data(batch)
        signature = _batch_signature(X, y)
        if signature is None:
            return None
        if self.module_state is None:
            self.new_epoch(net)
        fingerprint, held = state_fingerprint(net, modules=False, criteria=True)
        fingerprint = (self.module_state[0], fingerprint)
        held = (self.module_state[1], held)
        if fingerprint != self.fingerprint:
            if self.fingerprint is not None and self.captures:
                self.changes += 1
                if self.changes > _MAX_CHANGES_PER_EPOCH:
                    self.disable("the step's state changes within epochs")
                    return None
            self.captures.clear()
            self.fingerprint, self.held = fingerprint, held
        capture = self.captures.get(signature)
        if capture is None:
            seen = self.seen.get(signature, 0)
            if seen < net.graph_warmup_steps or len(self.captures) >= _MAX_GRAPHS:
                self.seen[signature] = seen + 1
                return self.backend.run_warmup(lambda: net._eager_train_step(batch))
            capture = self._capture(net, X, y)
            if capture is None:
                return None
            self.captures[signature] = capture
            # The capture recorded the step without running it: run it now.
        else:
            capture.static_X.copy_(X)
            _copy_into(capture.static_y, y)
        # What the eager step would do (the graph itself runs in training mode).
        net._set_training(True)
        self.backend.replay(capture.graph)
        self.n_replays += 1
        return _map_tensors(capture.outputs, torch.clone)

    def _capture(self, net, X, y):
        static_X = X.clone()
        static_y = _map_tensors(y, torch.clone)
        # Gradients allocated inside the capture live in the graph's memory pool.
        net._zero_grad_optimizer(set_to_none=True)
        try:
            graph, outputs = self.backend.capture(
                lambda: net._eager_train_step((static_X, static_y))
            )
        except Exception as exc:  # noqa: BLE001 - any capture failure means eager
            self.disable(f"capture failed with {type(exc).__name__}: {exc}")
            return None
        self.n_captures += 1
        outputs = _map_tensors(outputs, torch.Tensor.detach)
        return _Capture(graph, static_X, static_y, outputs)



# ---------------------------------------------------------------- fingerprints
def _is_scalar(value):
    return value is None or isinstance(value, (numbers.Number, str))


def _freeze(value, held):
    """A hashable stand-in for ``value``, or None when it is not tracked."""
    if _is_scalar(value):
        return ("v", value)
    if isinstance(value, torch.Tensor):
        held.append(value)
        return ("t", id(value), value.requires_grad)
    if isinstance(value, (tuple, list)) and all(_is_scalar(v) for v in value):
        return ("v", tuple(value))
    return None


def _module_fingerprint(module, held):
    items = []
    for name, sub in module.named_modules():
        held.append(sub)
        entry = [name, id(sub)]
        for key, value in vars(sub).items():
            if key == "training":
                continue
            if key in ("_parameters", "_buffers"):
                entry.extend((key, k, _freeze(v, held)) for k, v in value.items())
                continue
            frozen = _freeze(value, held)
            if frozen is not None:
                entry.append((key, frozen))
        items.append(tuple(entry))
    return tuple(items)


def _learned_attributes(obj, held):
    return tuple(
        (key, frozen)
        for key, value in vars(obj).items()
        if key.endswith("_") and not key.startswith("_")
        and (frozen := _freeze(value, held)) is not None
    )


def _optimizers(net):
    return [
        getattr(net, name + "_")
        for name in getattr(net, "_optimizers", [])
        if isinstance(getattr(net, name + "_", None), torch.optim.Optimizer)
    ]


def state_fingerprint(net, modules=True, criteria=True):
    """What a captured training step of ``net`` depends on besides its batch.

    Parameters
    ----------
    net : estimator
        An initialised skimbal estimator.
    modules, criteria : bool, default=True
        Include the modules (``module_``, ...) and the criteria. Scanning every
        sub-module of a ResNet takes milliseconds, so the graph runner scans the
        modules once per epoch and the rest before every batch.

    Returns
    -------
    fingerprint : tuple
        Hashable; equal fingerprints mean a captured step is still valid.
    held : tuple
        The objects whose ``id`` the fingerprint contains, to be kept alive so
        that no new object can reuse one of those ids while it is in use.
    """
    held = []
    parts = []
    names = list(getattr(net, "_modules", [])) if modules else []
    names += list(getattr(net, "_criteria", [])) if criteria else []
    for name in names:
        module = getattr(net, name + "_", None)
        if isinstance(module, torch.nn.Module):
            parts.append((name, _module_fingerprint(module, held)))
    for optimizer in _optimizers(net):
        held.append(optimizer)
        groups = []
        for group in optimizer.param_groups:
            held.extend(group["params"])
            groups.append((
                tuple(id(p) for p in group["params"]),
                tuple(
                    (key, frozen)
                    for key, value in sorted(group.items())
                    if key != "params" and (frozen := _freeze(value, held)) is not None
                ),
            ))
        parts.append(("optimizer", id(optimizer), tuple(groups)))
    parts.append(("net", _learned_attributes(net, held)))
    for name, callback in getattr(net, "callbacks_", []):
        # skorch's own callbacks (timers, scoring, logging) never feed the step.
        if not type(callback).__module__.startswith("skorch."):
            parts.append((name, _learned_attributes(callback, held)))
    return tuple(parts), tuple(held)


# ---------------------------------------------------------------- helpers
def _batch_signature(X, y):
    """Shapes and dtypes of a tensor batch, or None when it cannot be graphed.

    ``y`` is a label tensor, a :class:`~skimbal._core.batch.Target` (its labels,
    sample weights and extras, each a tensor or None) or None.
    """
    if not isinstance(X, torch.Tensor):
        return None
    target = _target_signature(y)
    if target is None:
        return None
    return (tuple(X.shape), X.dtype, X.device, X.is_contiguous()), target


def _target_signature(y):
    if y is None:
        return ("none",)
    if isinstance(y, torch.Tensor):
        return ("tensor", tuple(y.shape), y.dtype, y.device)
    if isinstance(y, Target):
        fields = [("y", y.y), ("sample_weight", y.sample_weight), *sorted(y.extras.items())]
        parts = tuple((name, _target_signature(value)) for name, value in fields)
        if any(signature is None for _, signature in parts):
            return None
        return ("target", parts)
    return None


def _copy_into(static, value):
    """Copy the tensors of a batch target into the static target of the same signature."""
    if isinstance(static, torch.Tensor):
        static.copy_(value)
    elif isinstance(static, Target):
        _copy_into(static.y, value.y)
        _copy_into(static.sample_weight, value.sample_weight)
        for name, tensor in static.extras.items():
            _copy_into(tensor, value.extras[name])


def _map_tensors(value, fn):
    """``value`` with ``fn`` applied to every tensor in it (targets, outputs, step dicts)."""
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, Target):
        extras = {name: _map_tensors(extra, fn) for name, extra in value.extras.items()}
        return Target(_map_tensors(value.y, fn), _map_tensors(value.sample_weight, fn), **extras)
    if isinstance(value, dict):  # the outputs of a step, {'loss': ..., 'y_pred': ...}
        return {key: _map_tensors(v, fn) for key, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # ModelOutput
        return type(value)(*(_map_tensors(v, fn) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(_map_tensors(v, fn) for v in value)
    return value


def _to_float32(tensor):
    return tensor.float() if tensor.is_floating_point() else tensor
