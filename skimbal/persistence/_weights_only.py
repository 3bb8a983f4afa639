"""Save and load any skimbal estimator without pickle: :func:`save_model`, :func:`load_model`.

The file format and the writer of the skorch-based estimators are in
:mod:`skimbal._core.persistence`; this module adds the allow-list of names a file
may use and the writers of the two estimators that are no skorch net,
:class:`~skimbal.ClusterKNNClassifier` and :class:`~skimbal.DecoupledClassifier`.
"""

import copy
import functools
import importlib

import skorch.callbacks
import skorch.utils
import torch

from .. import __all__ as _estimator_names
from .._core import persistence as _format
from .._core.data import TensorBatchLoader, TensorDataset
from .._core.prediction import batch_labels
from ..methods._cluster_knn import ClusterKNNClassifier
from ..methods._two_stage import DecoupledClassifier, LearnableWeightScaling

__all__ = ["WeightsOnlyError", "allowed_names", "load_model", "save_model"]

WeightsOnlyError = _format.WeightsOnlyError

_PUBLIC_MODULES = ("skimbal.losses", "skimbal.nn", "skimbal.sampling", "skimbal.callbacks")
_THIRD_PARTY_MODULES = (
    "imblearn.over_sampling", "imblearn.under_sampling", "imblearn.combine",
)


# skorch's callbacks that write files or talk to services when training goes on:
# a file naming them could make a later fit write where its author chose.
_EXCLUDED = {
    "skorch.callbacks.Checkpoint", "skorch.callbacks.TrainEndCheckpoint",
    "skorch.callbacks.LoadInitState", "skorch.callbacks.TensorBoard",
    "skorch.callbacks.WandbLogger", "skorch.callbacks.NeptuneLogger",
    "skorch.callbacks.SacredLogger", "skorch.callbacks.MlflowLogger",
}


def allowed_names():
    """The classes and functions a weights-only file may name, by their public name.

    The skimbal estimators (``skimbal.<Name>``), the public classes of
    :mod:`skimbal.losses`, :mod:`skimbal.nn`, :mod:`skimbal.sampling` and
    :mod:`skimbal.callbacks`, the modules of :mod:`torch.nn`, the optimizers and
    learning-rate schedulers of :mod:`torch.optim`, skorch's callbacks (but those
    that write files or report to services: checkpoints, loggers) and
    imbalanced-learn's samplers, and a few functions that are default values of
    those classes' parameters (``print``, ``skorch.utils.noop``, ...).

    Returns
    -------
    names : dict of str to class or function

    Examples
    --------
    >>> from skimbal.persistence import allowed_names
    >>> allowed_names()["skimbal.losses.LDAMLoss"].__name__
    'LDAMLoss'
    """
    return dict(_allowed_names())


@functools.cache
def _allowed_names():
    skimbal = importlib.import_module("skimbal")
    names = {f"skimbal.{name}": getattr(skimbal, name) for name in _estimator_names}
    public = [(module, importlib.import_module(module)) for module in _PUBLIC_MODULES]
    public += [("torch.nn", torch.nn), ("torch.optim", torch.optim),
               ("torch.optim.lr_scheduler", torch.optim.lr_scheduler),
               ("skorch.callbacks", skorch.callbacks)]
    for module in _THIRD_PARTY_MODULES:
        try:
            public.append((module, importlib.import_module(module)))
        except ImportError:  # pragma: no cover - imbalanced-learn is a dependency
            pass
    for prefix, module in public:
        exported = module.modules.__all__ if module is torch.nn else module.__all__
        for name in exported:
            obj = getattr(module, name, None)
            if isinstance(obj, type) and f"{prefix}.{name}" not in _EXCLUDED:
                names[f"{prefix}.{name}"] = obj
    names.update({
        "skimbal._core.data.TensorBatchLoader": TensorBatchLoader,
        "skimbal._core.data.TensorDataset": TensorDataset,
        "skimbal._core.prediction.batch_labels": batch_labels,
        "skimbal.gpu.with_gpu_fast_path": importlib.import_module("skimbal.gpu").with_gpu_fast_path,
        "torch.utils.data.DataLoader": torch.utils.data.DataLoader,
        "builtins.print": print,
        "skorch.utils.noop": skorch.utils.noop,
        "skorch.utils.to_numpy": skorch.utils.to_numpy,
    })
    return names


def _names(trusted_classes):
    names = dict(_allowed_names())
    for cls in trusted_classes:
        names.setdefault(f"{cls.__module__}.{cls.__qualname__}", cls)
    return names


def save_model(estimator, path, *, trusted_classes=()):
    """Write a fitted skimbal estimator to a weights-only file.

    The file is a `safetensors <https://huggingface.co/docs/safetensors>`_ file: the
    network's parameters and buffers and the numeric fitted arrays are its tensors;
    the estimator's class, its constructor parameters and its fitted scikit-learn
    attributes (``classes_``, ``class_counts_``, ``class_prior_``, ``n_features_in_``,
    ``tau_``, cluster centres, ...) are a JSON document in its metadata. Reading it
    back (:func:`load_model`) executes no code from the file, unlike a pickle.

    What is left out is training machinery that the next ``fit`` builds again: the
    optimizer's state, the callbacks' state, the history and the samplers (a
    learned sampler keeps what it learned in the module). To resume an interrupted
    training, use skorch's ``Checkpoint`` and ``LoadInitState`` instead.

    Parameters
    ----------
    estimator : fitted skimbal estimator
        Any of the estimators of :mod:`skimbal` (also with the GPU fast path of
        :mod:`skimbal.gpu`).
    path : str or path-like
        File to write (by convention ``*.safetensors``).
    trusted_classes : sequence of classes, default=()
        Classes beyond :func:`allowed_names` that the parameters may name, such as
        your own module class; the file stores their import path, and
        :func:`load_model` needs them in its own ``trusted_classes``.

    Raises
    ------
    WeightsOnlyError
        If a parameter or fitted attribute cannot be written by value: a
        ``torch.nn.Module`` instance as ``module``, a class or function that is
        not allowed, an object of an unknown kind.

    See Also
    --------
    load_model : read the file back.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import LDAMClassifier
    >>> from skimbal.persistence import load_model, save_model
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LDAMClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "ldam.safetensors")
    >>> save_model(clf, path)
    >>> loaded = load_model(path)
    >>> bool((loaded.predict_proba(X) == clf.predict_proba(X)).all())
    True
    """
    _format.save_file(estimator, path, _names(trusted_classes))


def load_model(path, *, device=None, trusted_classes=()):
    """Read an estimator written by :func:`save_model`, ready to predict.

    The JSON document is parsed, every class it names is looked up in
    :func:`allowed_names` (and ``trusted_classes``), the estimator is built from its
    parameters, its fitted attributes are set and its tensors loaded. No pickle is
    read and nothing is imported, and no fit is needed before: the loaded
    estimator predicts exactly as the saved one (on the same device), and can be
    trained further (``warm_start``, ``partial_fit``) with a new optimizer.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_model`.
    device : str or torch.device, default=None
        Device of the loaded networks (their ``device`` parameter). None keeps the
        saved one, except that a CUDA device becomes 'cpu', with a warning, on a
        machine without CUDA.
    trusted_classes : sequence of classes, default=()
        Classes beyond :func:`allowed_names` that the file may name (matched by
        their import path).

    Returns
    -------
    estimator : fitted skimbal estimator

    Raises
    ------
    WeightsOnlyError
        If the file is no skimbal weights-only file, or names something not allowed.

    See Also
    --------
    save_model : write the file.

    Examples
    --------
    See :func:`save_model`.
    """
    return _format.load_file(path, _names(trusted_classes), device=device)


# ------------------------------------------------------- cluster-wise kNN
def _write_cluster_knn(clf, codec):
    fitted = {"classes_": clf.classes_, "cluster_centers_": clf.cluster_centers_,
              "center_classes": clf._center_codes, "train_clusters_": clf.train_clusters_}
    if hasattr(clf, "feature_names_in_"):
        fitted["feature_names_in_"] = clf.feature_names_in_
    return {"params": _format.encode_params(clf, codec),
            "fitted": {name: codec.encode(value, f"ClusterKNNClassifier {name!r}")
                       for name, value in fitted.items()}}


def _read_cluster_knn(cls, document, codec):
    params = {name: codec.decode(value) for name, value in document["params"].items()}
    fitted = {name: codec.decode(value) for name, value in document["fitted"].items()}
    clf = cls.from_clusters(
        fitted["cluster_centers_"], fitted["center_classes"], classes=fitted["classes_"],
        train_clusters=fitted["train_clusters_"], **params,
    )
    if "feature_names_in_" in fitted:
        clf.feature_names_in_ = fitted["feature_names_in_"]
    return clf


# ------------------------------------------------------ decoupled training
def _write_decoupled(clf, codec):
    document = {"params": _format.encode_params(clf, codec),
                "fitted": _format.encode_fitted(clf, codec, skip={"head_estimator_"})}
    head = getattr(clf, "head_estimator_", None)
    if head is not None:
        # Its module parameter is the head instance; it is rebuilt from stage one.
        document["head_estimator"] = _format.write_net(head, codec, exclude_params={"module"})
    return document


def _read_decoupled(cls, document, codec):
    params = {name: codec.decode(value) for name, value in document["params"].items()}
    clf = cls(**params)
    _format.set_fitted(clf, document["fitted"], codec)
    if "head_estimator" in document:
        head = copy.deepcopy(clf.estimator_.module_.head).cpu()
        if clf.method == "lws":
            head = LearnableWeightScaling(head, len(clf.classes_))
        clf.head_estimator_ = _format.read_net(
            _format.ImbalancedNetClassifier, document["head_estimator"], codec, module=head
        )
        clf.stage2_sampler_ = clf.head_estimator_.sampler
    return clf


_format.register(ClusterKNNClassifier, _write_cluster_knn, _read_cluster_knn)
_format.register(DecoupledClassifier, _write_decoupled, _read_decoupled)
