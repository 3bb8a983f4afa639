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

import inspect
import numbers
import weakref

import torch
from sklearn.utils._param_validation import Interval
from skorch.dataset import get_len

from ._graph import _GraphedTrainStep, _map_tensors, _to_float32

__all__ = ["GPUFastPathMixin", "with_gpu_fast_path"]

# Per-estimator graph state, kept outside the instance so that get_params,
# clone, pickling and deep copies never see CUDA graphs.
_GRAPH_STEPS = weakref.WeakKeyDictionary()

# The parameters the mixin adds to the estimator's.
_FAST_PATH_CONSTRAINTS = {
    "cuda_graph": ["boolean"],
    "channels_last": ["boolean"],
    "bf16": ["boolean"],
    "graph_warmup_steps": [Interval(numbers.Integral, 1, None, closed="left")],
}


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
    learning-rate schedule, a callback putting a new tensor in
    ``criterion.weight``, a head re-initialised between epochs), the graphs are
    captured again. In-place updates of tensors need nothing: the graph reads
    their memory (:class:`skimbal.callbacks.DeferredReweighting` writes its
    weights in place).

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
    >>> from skimbal import CrossEntropyClassifier
    >>> from skimbal.gpu import GPUFastPathMixin
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

    def __init_subclass__(cls, **kwargs):
        # The estimator's constraints and signature, and the mixin's: a class mixing
        # it in first would otherwise show only one of the two.
        super().__init_subclass__(**kwargs)
        constraints = dict(getattr(cls, "_parameter_constraints", {}))
        for name, constraint in _FAST_PATH_CONSTRAINTS.items():
            constraints.setdefault(name, constraint)
        cls._parameter_constraints = constraints
        if "__init__" not in vars(cls):
            cls.__init__ = _init_with_estimator_signature(cls)

    # ------------------------------------------------------------ activation
    def _fast_path_active(self):
        return torch.device(self._device()).type in self._fast_path_devices

    def _graph_step(self):
        return _GRAPH_STEPS.get(self)

    # -------------------------------------------------------------- module
    def initialize_module(self):
        """Build the estimator's module, in channels-last format when asked (on CUDA)."""
        result = super().initialize_module()
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



def _init_with_estimator_signature(cls):
    """The mixin's ``__init__``, with the signature of the estimator's parameters and its own.

    The base estimator reads parameter defaults (the default criterion) from
    ``inspect.signature(type(self).__init__)``, as scikit-learn's introspection does.
    """
    own = inspect.signature(GPUFastPathMixin.__init__).parameters.values()
    added = [p for p in own if p.kind is p.KEYWORD_ONLY]
    names = {p.name for p in added}
    estimator = inspect.signature(super(GPUFastPathMixin, cls).__init__).parameters.values()
    kept = [p for p in estimator if p.kind is not p.VAR_KEYWORD and p.name not in names]
    parameters = kept + added + [p for p in estimator if p.kind is p.VAR_KEYWORD]

    def __init__(self, module=None, **kwargs):
        GPUFastPathMixin.__init__(self, module, **kwargs)

    __init__.__signature__ = inspect.Signature(parameters)
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__module__ = cls.__module__
    return __init__


def with_gpu_fast_path(estimator_class):
    """Return ``estimator_class`` with :class:`GPUFastPathMixin` mixed in.

    The class is created once per estimator class and cached; instances pickle
    and clone like the original estimator.

    Parameters
    ----------
    estimator_class : type
        A skimbal estimator class (a subclass of
        :class:`skimbal._core.base.ImbalancedNetClassifier`).

    Returns
    -------
    fast_class : type
        A subclass named ``GPU<estimator name>`` with the extra parameters
        ``cuda_graph``, ``channels_last``, ``bf16`` and ``graph_warmup_steps``.

    Examples
    --------
    >>> from skimbal import CrossEntropyClassifier
    >>> from skimbal.gpu import with_gpu_fast_path
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

