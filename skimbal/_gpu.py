"""Opt-in fast training path on CUDA: no per-batch sync, CUDA-graph captured steps.

skorch runs one Python training step per batch and reads the loss back to the
host after each one (``loss.item()`` in ``run_single_epoch``). For a small
network such as ResNet-32 at batch 128 the GPU then waits on the CPU: the step
is bound by kernel launches and by that synchronisation. :class:`GPUFastPathMixin`
removes both without changing what is computed:

- losses stay on the device during an epoch and are read back with one
  synchronisation at its end;
- after a few eager warm-up steps, the whole training step (``zero_grad``, the
  estimator's ``train_step_single``, ``optimizer.step``) is captured once in a
  CUDA graph per batch shape and replayed for every later batch of that shape;
- optionally, channels-last memory format and bfloat16 autocast.

Nothing changes off CUDA: on the CPU the mixin calls the estimator's own methods.
"""

import numbers
import warnings
import weakref

import torch
from skorch.callbacks import Callback
from skorch.dataset import get_len, unpack_data

__all__ = ["GPUFastPathMixin", "with_gpu_fast_path"]

# Per-estimator graph state, kept outside the instance so that get_params,
# clone, pickling and deep copies never see CUDA graphs.
_GRAPH_STEPS = weakref.WeakKeyDictionary()

# At most this many fingerprint changes (re-captures) within one epoch: more
# means the step depends on state that changes every batch.
_MAX_CHANGES_PER_EPOCH = 2
# At most this many distinct batch shapes get a graph (full and last batch).
_MAX_GRAPHS = 4


class GPUFastPathMixin:
    """Mix-in that speeds up training of any skimbal estimator on a CUDA device.

    Put it first among the bases (``class Fast(GPUFastPathMixin, Estimator)``),
    or let :func:`with_gpu_fast_path` build the class. On a device other than
    CUDA every method defers to the estimator, so CPU results are unchanged.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        As in the estimator.
    cuda_graph : bool, default=True
        Capture the training step in a CUDA graph (see Notes).
    channels_last : bool, default=False
        Convert the module and 4-d inputs to the channels-last memory format
        (faster convolutions with bfloat16).
    bf16 : bool, default=False
        Run the module's forward under ``torch.autocast`` with bfloat16; the
        outputs are cast back to float32 before the loss.
    graph_warmup_steps : int, default=3
        Eager steps per batch shape before the capture (CUDA graphs need the
        optimizer state, cuDNN algorithms and lazy initialisations to exist).
    **kwargs
        Parameters of the estimator.

    Notes
    -----
    **Loss recording.** On CUDA the per-batch losses are kept as device tensors
    in the history during an epoch (callbacks see 0-d tensors in
    ``on_batch_end``) and converted to floats with one synchronisation at the
    end of the epoch, before the ``on_epoch_end`` callbacks run.

    **What is captured.** For a training batch whose inputs are CUDA tensors,
    the estimator's ``train_step`` (``zero_grad``, ``train_step_single``, i.e.
    forward, loss and backward, and ``optimizer.step``) is captured on static
    copies of the batch with ``torch.cuda.graph``, after ``graph_warmup_steps``
    eager steps on a side stream. Later batches of the same shape are copied
    into the static tensors and the graph is replayed; the returned ``loss`` and
    ``y_pred`` are copies. Random numbers drawn on the device (augmentation,
    dropout) are fresh at every replay. Batches of another shape (the last,
    smaller batch of an epoch) get their own graph; beyond 4 shapes they run
    eagerly.

    **Re-capture.** Python values are frozen into a graph. Before every replay
    the mixin computes a fingerprint of what the step can read: the identity
    of the criterion and optimizers, every scalar hyper-parameter of the
    optimizers' parameter groups (the learning rate), the scalar attributes and
    the identity of every tensor, parameter (with ``requires_grad``) and buffer
    of every sub-module of the criterion, and the public learned attributes
    (``name_``) of the estimator and of its callbacks (skorch's own timing,
    scoring and logging callbacks excepted). The same scan of the module's
    sub-modules, which costs milliseconds for a ResNet, is made once per epoch,
    after the ``on_epoch_begin`` callbacks. When the fingerprint changes (a
    learning-rate schedule, deferred re-weighting replacing
    ``criterion.weight``, a head re-initialised between epochs), the graphs are
    captured again. In-place updates of tensors need nothing: the graph reads
    their memory.

    **Fallback.** The eager step is used, for the whole fit and with a
    ``RuntimeWarning`` saying why, when the capture fails (the step
    synchronises with the host, for example through ``.item()``, or has
    data-dependent shapes), when the fingerprint changes more than twice
    within an epoch, or when a callback implements ``on_grad_computed``
    (its Python code would run at capture time only). Steps with fit
    parameters or non-tensor batches are always eager.

    **Not detected.** Python state outside that fingerprint read by the step
    (a global, ``len(net.history)``, host random numbers drawn in the loss,
    a module attribute changed within an epoch) is frozen at capture time; use
    ``cuda_graph=False`` for such estimators.

    Examples
    --------
    >>> import numpy as np
    >>> from skimbal import CrossEntropyClassifier, GPUFastPathMixin
    >>> class FastCrossEntropy(GPUFastPathMixin, CrossEntropyClassifier):
    ...     pass
    >>> X = np.random.default_rng(0).random((20, 3))
    >>> y = np.arange(20) % 2
    >>> clf = FastCrossEntropy(max_epochs=2, bf16=True, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape  # on the CPU, exactly CrossEntropyClassifier
    (3,)
    """

    # Device types on which the fast path is active (tests widen it).
    _fast_path_devices = ("cuda",)

    def __init__(
        self,
        module=None,
        *,
        cuda_graph=True,
        channels_last=False,
        bf16=False,
        graph_warmup_steps=3,
        **kwargs,
    ):
        super().__init__(module, **kwargs)
        self.cuda_graph = cuda_graph
        self.channels_last = channels_last
        self.bf16 = bf16
        self.graph_warmup_steps = graph_warmup_steps

    def _check_params(self):
        super()._check_params()
        steps = self.graph_warmup_steps
        if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
            raise ValueError(f"graph_warmup_steps must be an int >= 1; got {steps!r}.")

    # ------------------------------------------------------------ activation
    def _fast_path_active(self):
        return torch.device(self._compute_device()).type in self._fast_path_devices

    def _graph_step(self):
        return _GRAPH_STEPS.get(self)

    # -------------------------------------------------------------- module
    def _initialize_module(self, reason=None):
        result = super()._initialize_module(reason=reason)
        if self.channels_last and self._fast_path_active():
            self.module_.to(memory_format=torch.channels_last)
        return result

    def infer(self, x, **fit_params):
        """Forward one batch, in channels-last format and under autocast when asked."""
        if not self._fast_path_active() or not isinstance(x, torch.Tensor):
            return super().infer(x, **fit_params)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        if not self.bf16:
            return super().infer(x, **fit_params)
        # The autocast cache must be off inside CUDA graph capture.
        with torch.autocast(x.device.type, dtype=torch.bfloat16, cache_enabled=False):
            y_pred = super().infer(x, **fit_params)
        return _map_tensors(y_pred, _to_float32)

    # ------------------------------------------------------------- training
    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        _GRAPH_STEPS.pop(self, None)
        if self.cuda_graph and self._fast_path_active():
            _GRAPH_STEPS[self] = _GraphedTrainStep(self)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        # Release the graphs and their memory pools.
        _GRAPH_STEPS.pop(self, None)
        super().on_train_end(net, X=X, y=y, **kwargs)

    def train_step(self, batch, **fit_params):
        """One optimisation step, replayed from a CUDA graph when possible."""
        graph_step = self._graph_step()
        if graph_step is not None and not fit_params:
            step = graph_step(self, batch)
            if step is not None:
                return step
        return super().train_step(batch, **fit_params)

    def _eager_train_step(self, batch):
        return super().train_step(batch)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """Run one epoch; on CUDA the losses are read back once, at its end."""
        if iterator is None or not self._fast_path_active():
            return super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
        graph_step = self._graph_step()
        if training and graph_step is not None:
            graph_step.new_epoch(self)
        pending = []
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            loss = step["loss"].detach()
            self.history.record_batch(prefix + "_loss", loss)
            pending.append((self.history[-1]["batches"][-1], loss))
            batch_size = get_len(batch[0]) if isinstance(batch, (tuple, list)) else get_len(batch)
            self.history.record_batch(prefix + "_batch_size", batch_size)
            self.notify("on_batch_end", batch=batch, training=training, **step)
        if pending:
            values = torch.stack([loss.float().reshape(()) for _, loss in pending]).tolist()
            for (record, _), value in zip(pending, values, strict=True):
                record[prefix + "_loss"] = value
        self.history.record(prefix + "_batch_count", len(pending))


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
        outputs = {
            key: value.detach() if isinstance(value, torch.Tensor) else value
            for key, value in outputs.items()
        }
        return _Capture(graph, static_X, static_y, outputs)


def with_gpu_fast_path(estimator_class):
    """Return ``estimator_class`` with :class:`GPUFastPathMixin` mixed in.

    The class is created once per estimator class and cached; instances pickle
    and clone like the original estimator.

    Parameters
    ----------
    estimator_class : type
        A skimbal estimator class (a subclass of ``ImbalancedNetClassifier``).

    Returns
    -------
    fast_class : type
        A subclass named ``GPU<estimator name>`` with the extra parameters
        ``cuda_graph``, ``channels_last``, ``bf16`` and ``graph_warmup_steps``.

    Examples
    --------
    >>> from skimbal import CrossEntropyClassifier, with_gpu_fast_path
    >>> FastCE = with_gpu_fast_path(CrossEntropyClassifier)
    >>> FastCE.__name__, FastCE(bf16=True).bf16
    ('GPUCrossEntropyClassifier', True)
    """
    if issubclass(estimator_class, GPUFastPathMixin):
        return estimator_class
    cached = _FAST_CLASSES.get(estimator_class)
    if cached is None:
        name = "GPU" + estimator_class.__name__
        cached = type(
            name,
            (GPUFastPathMixin, estimator_class),
            {
                "__module__": __name__,
                "__qualname__": name,
                "__doc__": f"{estimator_class.__name__} with :class:`GPUFastPathMixin`.",
                "__reduce_ex__": _reduce_fast_instance,
                "_fast_path_base": estimator_class,
            },
        )
        _FAST_CLASSES[estimator_class] = cached
    return cached


_FAST_CLASSES = {}


def _reduce_fast_instance(self, protocol):
    # The class is built at run time: pickle a recipe to rebuild it.
    return (_new_fast_instance, (type(self)._fast_path_base,), self.__getstate__())


def _new_fast_instance(estimator_class):
    cls = with_gpu_fast_path(estimator_class)
    return cls.__new__(cls)


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
    """Shapes and dtypes of a tensor batch, or None when it cannot be graphed."""
    if not isinstance(X, torch.Tensor):
        return None
    parts = [(tuple(X.shape), X.dtype, X.device, X.is_contiguous())]
    if isinstance(y, torch.Tensor):
        parts.append((tuple(y.shape), y.dtype))
    elif isinstance(y, dict) and all(isinstance(v, torch.Tensor) for v in y.values()):
        parts.extend((key, tuple(v.shape), v.dtype) for key, v in sorted(y.items()))
    elif y is not None:
        return None
    return tuple(parts)


def _copy_into(static, value):
    if isinstance(static, torch.Tensor):
        static.copy_(value)
    elif isinstance(static, dict):
        for key, tensor in static.items():
            tensor.copy_(value[key])


def _map_tensors(value, fn):
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, dict):
        return {key: _map_tensors(v, fn) for key, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_map_tensors(v, fn) for v in value)
    return value


def _to_float32(tensor):
    return tensor.float() if tensor.is_floating_point() else tensor
