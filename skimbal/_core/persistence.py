"""Weights-only files: the tensors in safetensors, the rest in JSON, never pickle.

A weights-only file is one safetensors file. Its tensors are the ``state_dict``
entries of the estimator's torch components (``module_``, ``criterion_``) and the
numeric arrays of its fitted state; its metadata holds one JSON document: the
estimator's class, its constructor parameters and its fitted scikit-learn
attributes (``classes_``, ``class_counts_``, ``tau_``, ...). Classes and functions
appear in the JSON by name, and loading looks every name up in an allow-list given
by the caller (:mod:`skimbal.persistence`): nothing is imported and no pickle is
read, so loading a file runs no code of the file's author.

This module knows no method: how an estimator is written and rebuilt is a pair of
functions registered per class (:func:`register`); the one of the skorch-based
estimators is here, the others are registered by :mod:`skimbal.persistence`.
"""

import inspect
import json
import numbers
import warnings

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from . import components
from .base import ImbalancedNetClassifier
from .random import seeded_torch
from .targets import LabelEncoding

__all__ = ["Codec", "WeightsOnlyError", "load_file", "register", "save_file"]

FORMAT = "skimbal weights-only"
VERSION = 1

#: Attributes of a fitted net that are training machinery, not fitted state: the
#: optimizer, callbacks, history and skorch's bookkeeping (a new ``fit`` rebuilds them).
_NET_MACHINERY = {
    "callbacks_", "history_", "initialized_", "virtual_params_", "prefixes_",
    "cuda_dependent_attributes_", "init_context_", "label_encoding_",
}


class WeightsOnlyError(ValueError):
    """An estimator cannot be written to, or read from, a weights-only file."""


def _is_sampler(value):
    return hasattr(value, "epoch_indices") or hasattr(value, "epoch_data")


class Codec:
    """Encode values as JSON plus tensors, and decode them, with an allow-list of names.

    Parameters
    ----------
    names : dict of str to class or function
        The classes and functions a file may name. Nothing else can be written or
        read.
    tensors : dict of str to torch.Tensor, default=None
        The tensors of a file being read; empty for one being written.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skimbal._core.persistence import Codec
    >>> codec = Codec({"torch.nn.CrossEntropyLoss": torch.nn.CrossEntropyLoss})
    >>> document = codec.encode({"sizes": (16,), "loss": torch.nn.CrossEntropyLoss,
    ...                          "prior": np.array([0.9, 0.1])}, "example")
    >>> sorted(codec.tensors)
    ['t0']
    >>> codec.decode(document)["sizes"], codec.decode(document)["loss"].__name__
    ((16,), 'CrossEntropyLoss')
    """

    #: Device of the nets read (None: each net's own ``device`` parameter).
    device = None

    def __init__(self, names, tensors=None):
        self.objects = dict(names)
        self.names = {}
        for name, obj in names.items():
            self.names.setdefault(obj, name)
        self.tensors = {} if tensors is None else tensors

    # ---------------------------------------------------------------- names
    def name_of(self, obj, where):
        try:
            return self.names[obj]
        except (KeyError, TypeError):
            raise WeightsOnlyError(
                f"{where} is {obj!r}, which a weights-only file cannot name: files name only "
                "the public classes of skimbal, torch.nn, torch.optim and skorch.callbacks "
                "(and the trusted_classes given to save_model and load_model), so that "
                "loading never imports code."
            ) from None

    def lookup(self, name):
        try:
            return self.objects[name]
        except (KeyError, TypeError):
            raise WeightsOnlyError(
                f"The file names {name!r}, which is not on the allow-list of classes a "
                "weights-only file may use; pass it in trusted_classes if you trust it."
            ) from None

    # --------------------------------------------------------------- values
    def add_tensor(self, tensor):
        key = f"t{len(self.tensors)}"
        self.tensors[key] = tensor.detach().to("cpu").contiguous().clone()
        return key

    def encode(self, value, where, fitted=False):
        """``value`` as JSON; arrays and tensors go to :attr:`tensors`.

        With ``fitted``, a fitted estimator with a registered writer (a nested model,
        such as LMLE's ``cluster_knn_``) is written whole.
        """
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real):
            value = float(value)
            return value if np.isfinite(value) else {"__float__": repr(value)}
        if isinstance(value, (list, tuple)):
            items = [self.encode(v, f"{where}[{i}]", fitted) for i, v in enumerate(value)]
            return items if isinstance(value, list) else {"__tuple__": items}
        if isinstance(value, dict):
            return {"__dict__": [[self.encode(k, where), self.encode(v, f"{where}[{k!r}]", fitted)]
                                 for k, v in value.items()]}
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "biuf":
                native = np.array(value, dtype=value.dtype.newbyteorder("="))
                return {"__array__": self.add_tensor(torch.from_numpy(native))}
            if value.dtype.kind in "OUS":
                return {"__array_list__": self.encode(value.tolist(), where),
                        "dtype": value.dtype.str}
        if isinstance(value, torch.Tensor):
            return {"__tensor__": self.add_tensor(value)}
        if isinstance(value, torch.device):
            return {"__device__": str(value)}
        if isinstance(value, torch.dtype):
            return {"__torch_dtype__": str(value).removeprefix("torch.")}
        if isinstance(value, torch.nn.Module):
            raise WeightsOnlyError(
                f"{where} is a {type(value).__name__} instance: a weights-only file cannot "
                "tell how to build it again. Pass the module's class and its module__* "
                "(or criterion__*) parameters instead of an instance."
            )
        if isinstance(value, type) or callable(value) and not hasattr(value, "get_params"):
            return {"__name__": self.name_of(value, where)}
        if fitted and writer_of(type(value)) is not None:
            return {"__model__": write_model(value, self)}
        name = self.name_of(type(value), f"the class of {where}")
        params = {k: self.encode(v, f"{where}.{k}") for k, v in _init_params(value).items()}
        return {"__object__": name, "params": params}

    def decode(self, value):
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "__tuple__" in value:
            return tuple(self.decode(v) for v in value["__tuple__"])
        if "__dict__" in value:
            return {self.decode(k): self.decode(v) for k, v in value["__dict__"]}
        if "__float__" in value:
            return float(value["__float__"])
        if "__array__" in value:
            return self.tensors[value["__array__"]].numpy()
        if "__array_list__" in value:
            return np.array(self.decode(value["__array_list__"]), dtype=np.dtype(value["dtype"]))
        if "__tensor__" in value:
            return self.tensors[value["__tensor__"]]
        if "__device__" in value:
            return torch.device(value["__device__"])
        if "__torch_dtype__" in value:
            dtype = getattr(torch, value["__torch_dtype__"], None)
            if not isinstance(dtype, torch.dtype):
                raise WeightsOnlyError(f"Unknown torch dtype {value['__torch_dtype__']!r}.")
            return dtype
        if "__name__" in value:
            return self.lookup(value["__name__"])
        if "__model__" in value:
            return read_model(value["__model__"], self)
        if "__object__" in value:
            cls = self.lookup(value["__object__"])
            if not isinstance(cls, type):
                raise WeightsOnlyError(f"{value['__object__']!r} is no class.")
            return cls(**{k: self.decode(v) for k, v in value["params"].items()})
        raise WeightsOnlyError(f"Unknown entry in a weights-only file: {sorted(value)}.")


def _init_params(obj):
    """The constructor parameters of an allow-listed object, the scikit-learn way."""
    if hasattr(obj, "get_params"):
        return obj.get_params(deep=False)
    parameters = inspect.signature(type(obj)).parameters.values()
    names = [p.name for p in parameters if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    missing = [name for name in names if not hasattr(obj, name)]
    if missing:
        raise WeightsOnlyError(
            f"A {type(obj).__name__} keeps no attribute for its parameters {missing}, so a "
            "weights-only file cannot rebuild it."
        )
    return {name: getattr(obj, name) for name in names}


# ------------------------------------------------------------------ registry
_HANDLERS = {}


def register(cls, write, read):
    """Register how instances of ``cls`` (and subclasses) are written and rebuilt.

    ``write(estimator, codec) -> dict`` describes a fitted estimator as JSON (its
    tensors added to the codec); ``read(cls, document, codec) -> estimator``
    rebuilds it.
    """
    _HANDLERS[cls] = (write, read)


def writer_of(cls):
    for base in cls.__mro__:
        if base in _HANDLERS:
            return _HANDLERS[base]
    return None


def write_model(estimator, codec):
    """The JSON document of a fitted estimator (its tensors added to ``codec``)."""
    cls = type(estimator)
    handler = writer_of(cls)
    if handler is None:
        raise WeightsOnlyError(f"{cls.__name__} has no weights-only format.")
    check_is_fitted(estimator)
    fast_path = getattr(cls, "_fast_path_base", None)
    name = codec.name_of(fast_path or cls, "the estimator's class")
    return {"estimator": name, "gpu_fast_path": fast_path is not None,
            **handler[0](estimator, codec)}


def read_model(document, codec):
    """Rebuild the estimator a :func:`write_model` document describes."""
    cls = codec.lookup(document["estimator"])
    if document.get("gpu_fast_path"):
        cls = codec.lookup("skimbal.gpu.with_gpu_fast_path")(cls)
    handler = writer_of(cls) if isinstance(cls, type) else None
    if handler is None:
        raise WeightsOnlyError(f"{document['estimator']!r} names no estimator.")
    return handler[1](cls, document, codec)


def encode_params(estimator, codec, exclude=()):
    """The constructor parameters of ``estimator`` (``get_params(deep=False)``) as JSON."""
    kind = type(estimator).__name__
    return {name: codec.encode(value, f"{kind} parameter {name!r}")
            for name, value in estimator.get_params(deep=False).items() if name not in exclude}


def encode_fitted(estimator, codec, skip=()):
    """Fitted attributes (public, ending in ``_``) as JSON; samplers are left out.

    A sampler is training machinery that the next ``fit`` builds again from the
    ``sampler`` parameter; what a learned sampler learns lives in the module.
    """
    kind = type(estimator).__name__
    return {
        name: codec.encode(value, f"{kind} attribute {name!r}", fitted=True)
        for name, value in vars(estimator).items()
        if name.endswith("_") and not name.startswith("_") and name not in skip
        and not _is_sampler(value)
    }


def set_fitted(estimator, fitted, codec):
    for name, value in fitted.items():
        setattr(estimator, name, codec.decode(value))


# ------------------------------------------------------------- skorch nets
def _component_names(net):
    return [f"{name}_" for name in [*net._modules, *net._criteria]]


def write_net(net, codec, exclude_params=()):
    """Parameters, fitted attributes and component tensors of a fitted skimbal net."""
    components_ = _component_names(net)
    skip = {*_NET_MACHINERY, *components_, *(f"{name}_" for name in net._optimizers)}
    entries = {}
    for attr in components_:
        module = getattr(net, attr)
        buffers = {name for name, _ in module.named_buffers()}
        entries[attr] = {
            "tensors": {key: codec.add_tensor(value) for key, value in
                        module.state_dict().items()},
            "buffers": sorted(key for key in module.state_dict() if key in buffers),
        }
    return {"params": encode_params(net, codec, exclude_params),
            "fitted": encode_fitted(net, codec, skip), "components": entries}


def read_net(cls, document, codec, **params):
    """A fitted net from :func:`write_net`'s document; ``params`` replace stored ones."""
    stored = {name: codec.decode(value) for name, value in document["params"].items()}
    stored["device"] = _load_device(stored.get("device"), codec.device)
    net = cls(**{**stored, **params})
    set_fitted(net, document["fitted"], codec)
    label_values = getattr(net, "label_values_", None) if net.multilabel_ else None
    net.label_encoding_ = LabelEncoding(net.classes_, label_values)
    with seeded_torch(net.seed_):  # the weights are overwritten; keep global RNGs untouched
        net.initialize()
    device = torch.device(components.resolve_device(net.device) or "cpu")
    for attr, entry in document["components"].items():
        module = getattr(net, attr)
        state = {key: codec.tensors[ref] for key, ref in entry["tensors"].items()}
        for key in entry["buffers"]:
            owner, _, leaf = key.rpartition(".")
            submodule = module.get_submodule(owner)
            if submodule._buffers.get(leaf) is None:
                # A buffer created during training (deferred re-weighting's class
                # weights, a learned sampler's logits): create it before loading.
                submodule.register_buffer(leaf, torch.empty_like(state[key], device=device))
        module.load_state_dict(state)
    return net


def _load_device(stored, requested):
    """``requested``, else the stored device; 'cpu' for CUDA on a machine without one."""
    if requested is not None:
        return requested
    resolved = components.resolve_device(stored)
    if resolved is not None and torch.device(resolved).type == "cuda" and (
        not torch.cuda.is_available()
    ):
        warnings.warn(
            f"The model was saved with device={stored!r}, but CUDA is not available: it is "
            "loaded with device='cpu' (pass device= to load_model to choose).", UserWarning
        )
        return "cpu"
    return stored


register(ImbalancedNetClassifier, write_net, read_net)


# ----------------------------------------------------------------- the file
def save_file(estimator, path, names):
    """Write ``estimator`` to ``path`` (see :func:`skimbal.persistence.save_model`)."""
    from safetensors.torch import save_file as write_safetensors

    codec = Codec(names)
    document = {"format": FORMAT, "version": VERSION, "model": write_model(estimator, codec)}
    write_safetensors(codec.tensors, str(path), metadata={"skimbal": json.dumps(document)})


def load_file(path, names, device=None):
    """Read an estimator from ``path`` (see :func:`skimbal.persistence.load_model`)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as file:
        metadata = file.metadata() or {}
        tensors = {key: file.get_tensor(key) for key in file.keys()}
    try:
        document = json.loads(metadata["skimbal"])
    except (KeyError, ValueError):
        raise WeightsOnlyError(f"{path!s} is not a skimbal weights-only file.") from None
    if document.get("format") != FORMAT or document.get("version") != VERSION:
        raise WeightsOnlyError(
            f"{path!s} is a weights-only file of format {document.get('format')!r} version "
            f"{document.get('version')!r}; this skimbal reads {FORMAT!r} version {VERSION}."
        )
    codec = Codec(names, tensors)
    codec.device = device
    return read_model(document["model"], codec)
