"""The estimator every skimbal method builds on.

:class:`ImbalancedNetClassifier` is a skorch ``NeuralNetClassifier`` that behaves
like a scikit-learn classifier: it validates its input, encodes labels of any
type, sizes its module from the data, computes class statistics on the split it
trains on and hands them to the loss, the sampler and the callbacks, and keeps
the whole training split in tensors on the device for a fast data path.
"""

import contextlib
import copy
import inspect
from collections import namedtuple
from functools import partial
from types import MappingProxyType

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)
from skorch import NeuralNet, NeuralNetClassifier
from skorch.callbacks import EpochScoring, EpochTimer, PassthroughScoring, PrintLog, ProgressBar
from skorch.utils import to_numpy

from ._data import TensorBatchLoader, TensorDataset
from ._validation import check_class_weight, check_sample_weight, class_counts, stratified_holdout
from .nn import MLP
from .sampling import check_sampler

__all__ = ["ImbalancedNetClassifier", "TrainValidDatasets"]

TrainValidDatasets = namedtuple("TrainValidDatasets", ["train", "valid"])
TrainValidDatasets.__doc__ = """The training and validation parts of one ``fit``.

``on_train_begin`` callbacks receive it as ``X``; ``valid`` is None when no
validation part is held out."""


def resolve_device(device):
    """Map ``'auto'`` to ``'cuda'`` when a GPU is available, else ``'cpu'``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _valid_balanced_accuracy(net, X, y):
    """Balanced accuracy on encoded labels (the validation scoring)."""
    logits = net.forward(X)
    logits = logits[0] if isinstance(logits, tuple) else logits
    return balanced_accuracy_score(to_numpy(y), to_numpy(logits.argmax(1)))


def _batch_labels(y):
    """Labels of a batch target (with sample weights the target is a dict)."""
    return to_numpy(y["y"] if isinstance(y, dict) else y)


class ImbalancedNetClassifier(NeuralNetClassifier):
    """Neural network classifier with scikit-learn semantics and class statistics.

    The base of every skimbal method, usable on its own with any criterion.
    With the defaults it trains an MLP with plain cross-entropy.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The network. None builds :class:`skimbal.nn.MLP`. A class is instantiated
        at fit time with ``module__*`` parameters; its ``n_features`` and
        ``n_classes`` arguments, when it has them, are filled in from the data.
        An instance is deep-copied at every fit, so the parameter itself is never
        trained. Modules that follow the embedding protocol of
        :class:`skimbal.nn.MLP` (``forward_features`` / ``forward_head``) work with
        the methods that need an embedding.
    criterion : torch.nn.Module class, default=torch.nn.CrossEntropyLoss
        Loss on logits. At fit time the estimator passes the training split's
        statistics to the arguments the class accepts: ``class_counts`` (a float
        tensor of per-class counts) and ``weight`` (the resolved
        ``class_weight``). Anything given as ``criterion__*`` takes precedence.
        With ``sample_weight`` the criterion is evaluated with
        ``reduction='none'`` and reduced as described in Notes.
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        Optimizer; ``optimizer__*`` parameters are routed to it.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=50
        Number of epochs of each ``fit``.
    batch_size : int, default=128
        Mini-batch size for training and prediction.
    hidden_layer_sizes : tuple of int, default=(100,)
        Hidden widths of the default MLP (ignored when ``module`` is given).
    class_weight : None, 'balanced' or dict, default=None
        Per-class loss weights. 'balanced' uses ``1 / n_j`` on the training split,
        normalised to sum to the number of classes; a dict maps original labels to
        weights.
    sampler : str or sampler object, default=None
        Index sampler for the training batches, redrawn every epoch from the
        training split only (see :mod:`skimbal.sampling`). None shuffles the
        training split. Strings name the class-aware samplers: 'instance-balanced',
        'class-balanced', 'square-root', 'progressive' and 'reversed'
        (:func:`skimbal.sampling.check_sampler`).
    augmentation : object, default=None
        Batch augmentation of the training batches, applied on the device before
        the forward pass, for example
        :class:`skimbal.augmentation.MinorityAugmentation` (stronger for rarer
        classes). It is deep-copied and set up from the training split at fit time.
    meta_reweighting : MetaReweighting or None, default=None
        Learn per-sample weights of every training batch on a class-balanced meta
        set drawn from the training split (:class:`skimbal.MetaReweighting`).
    validation_fraction : float in (0, 1), default=None
        Fraction of each class held out for validation (loss and balanced
        accuracy in the history). None, the default, trains on all the data:
        skorch's usual 20 % stratified split would take a fifth of every
        minority class away from training. When set, a class keeps at least
        ``ceil((1 - validation_fraction) * n_j)`` samples for training and a class
        too small to spare one stays whole in training.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, shuffling, sampling and the validation
        split. Two CPU fits with the same integer give identical predictions. The
        global torch random state is restored after ``fit``.
    device : {'cpu', 'cuda', 'auto'} or torch device string, default='cpu'
        Where the module and the training data live; 'auto' takes the GPU when
        there is one.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra callbacks, run after the default ones.
    verbose : int, default=0
        1 prints skorch's epoch table.
    progress_bar : bool, default=False
        Show a tqdm progress bar over the batches of each epoch.
    warm_start : bool, default=False
        Continue from the current weights on the next ``fit``.
    predict_nonlinearity : 'auto', callable or None, default='auto'
        Maps logits to ``predict_proba`` output. 'auto' applies the softmax, so
        rows sum to 1 whatever the loss.
    **kwargs
        Routed parameters (``module__*``, ``optimizer__*``, ``criterion__*``,
        ``iterator_train__*``, ``callbacks__*``) and skorch's remaining
        arguments (``iterator_train``, ``dataset``, ``compile``, ...).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Original labels, in the order of the logits.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of str
        Column names, when X was a pandas DataFrame with string columns.
    class_counts_ : ndarray of int64, shape (n_classes,)
        Samples of each class in the training split.
    class_prior_ : ndarray of float64, shape (n_classes,)
        ``class_counts_ / class_counts_.sum()``.
    class_weight_ : ndarray of float32, shape (n_classes,) or None
        The resolved ``class_weight``.
    sampler_ : object or None
        The copy of ``sampler`` used by this fit (None: plain shuffling).
    augmentation_, meta_reweighting_ : object or None
        The set-up copies of ``augmentation`` and ``meta_reweighting``.
    module_, criterion_, optimizer_, history_
        skorch's trained components.

    Notes
    -----
    **Loss reduction.** Per batch the loss is ``sum_i w_i l_i / sum_i w_i`` with
    ``w_i = weight[y_i] * sample_weight_i``, where ``weight`` is the criterion's
    ``weight`` attribute (the class weights). Without weights this is the plain
    mean; with class weights only it is PyTorch's weighted ``CrossEntropyLoss``
    with ``reduction='mean'``, which is what the criterion computes itself when
    no ``sample_weight`` is given.

    **Data path.** X is cast to float32 and, with the targets and sample weights,
    moved to ``device`` once per fit. Batches are slices of those tensors
    (:class:`skimbal.TensorBatchLoader`); there is no per-sample Python in the
    training loop.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import ImbalancedNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = ImbalancedNetClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    # skorch sets these in ``__init__``; scikit-learn wants learned attributes to
    # appear only in ``fit``, so the instance values are removed and these class
    # defaults stand in until then.
    initialized_ = False
    history_ = None
    virtual_params_ = MappingProxyType({})
    # The split is made by ``validation_fraction``; skorch's ``train_split`` is unused.
    train_split = None

    def __init__(
        self,
        module=None,
        *,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=50,
        batch_size=128,
        hidden_layer_sizes=(100,),
        class_weight=None,
        sampler=None,
        augmentation=None,
        meta_reweighting=None,
        validation_fraction=None,
        random_state=None,
        device="cpu",
        callbacks=None,
        verbose=0,
        progress_bar=False,
        warm_start=False,
        predict_nonlinearity="auto",
        **kwargs,
    ):
        train_split = kwargs.pop("train_split", None)
        kwargs.setdefault("iterator_train", TensorBatchLoader)
        kwargs.setdefault("iterator_valid", TensorBatchLoader)
        kwargs.setdefault("dataset", TensorDataset)
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            callbacks=callbacks,
            verbose=verbose,
            warm_start=warm_start,
            predict_nonlinearity=predict_nonlinearity,
            device=device,
            train_split=None,
            **kwargs,
        )
        for name in ("history_", "initialized_", "virtual_params_", "train_split", "classes"):
            vars(self).pop(name, None)
        if train_split is not None:
            vars(self)["train_split"] = train_split  # refused with a clear message at fit
        self.hidden_layer_sizes = hidden_layer_sizes
        self.class_weight = class_weight
        self.sampler = sampler
        self.augmentation = augmentation
        self.meta_reweighting = meta_reweighting
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.progress_bar = progress_bar

    def __setattr__(self, name, value):
        # skorch registers torch modules assigned outside ``initialize``; the
        # parameters ``module`` and ``criterion`` may hold instances and are
        # plain parameters (the trained copies are ``module_``/``criterion_``).
        if name in ("module", "criterion"):
            object.__setattr__(self, name, value)
            return
        super().__setattr__(name, value)

    def _get_param_names(self):
        # skorch lists every instance attribute that does not end in "_"; private
        # bookkeeping (leading "_") is not a parameter.
        return [name for name in super()._get_param_names() if not name.startswith("_")]

    # ------------------------------------------------------------------ labels
    @property
    def classes_(self):
        try:
            return vars(self)["classes_"]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__} has no attribute 'classes_' before fit."
            ) from None

    @classes_.setter
    def classes_(self, value):
        vars(self)["classes_"] = value

    def _encode_targets(self, y, reset):
        """Validate ``y`` and encode it as ``0 .. n_classes - 1``.

        Sets ``classes_`` when ``reset``. Returns an int64 array. Subclasses that
        accept other target types (multi-label indicator matrices) override this
        together with :meth:`_n_outputs`.
        """
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if reset:
            encoder = LabelEncoder().fit(y)
            if len(encoder.classes_) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes in the "
                    f"data, but the data contain only one class: {encoder.classes_[0]!r}."
                )
            self.classes_ = encoder.classes_
        unseen = np.setdiff1d(y, self.classes_)
        if len(unseen):
            raise ValueError(f"y contains labels not seen in the first fit: {unseen.tolist()!r}.")
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _n_outputs(self):
        """Number of logits the module must produce."""
        return len(self.classes_)

    # ------------------------------------------------------------------- input
    def _validate_X(self, X, reset):
        """Validate X (finite, numeric, dense), cast it to float32, check width."""
        X = validate_data(
            self,
            X,
            reset=reset,
            dtype=np.float32,
            allow_nd=True,
            ensure_min_samples=1,
        )
        return np.ascontiguousarray(X, dtype=np.float32)

    def _to_device(self, array, dtype=None):
        return torch.as_tensor(array, dtype=dtype, device=self._compute_device())

    def _compute_device(self):
        accelerator = getattr(self, "accelerator", None)
        if self.device is None and accelerator is not None:
            # skorch's AccelerateMixin: the accelerator places modules and data.
            return accelerator.device
        return resolve_device(self.device)

    @contextlib.contextmanager
    def _resolved_device(self):
        """Let skorch's internals, which read ``self.device``, see a real device."""
        requested = self.device
        vars(self)["device"] = resolve_device(requested)
        try:
            yield
        finally:
            vars(self)["device"] = requested

    def _initialize_module(self, reason=None):
        with self._resolved_device():
            return super()._initialize_module(reason=reason)

    def _initialize_criterion(self, reason=None):
        with self._resolved_device():
            return super()._initialize_criterion(reason=reason)

    def __setstate__(self, state):
        requested = state.get("device")
        if requested == "auto":
            state["device"] = resolve_device(requested)
        super().__setstate__(state)
        if requested == "auto":
            vars(self)["device"] = requested

    @contextlib.contextmanager
    def _seeded(self):
        """Seed torch for the duration of a fit and restore its state afterwards."""
        if self.random_state is None:
            yield
            return
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield

    # ---------------------------------------------------------- initialisation
    def _set_class_statistics(self, y_train):
        """Compute ``class_counts_``, ``class_prior_`` and ``class_weight_``.

        ``y_train`` are the encoded labels of the training split only.
        """
        counts = class_counts(y_train, self._n_outputs())
        self.class_counts_ = counts
        self.class_prior_ = counts / counts.sum()
        self.class_weight_ = check_class_weight(self.class_weight, self.classes_, counts)

    def _criterion_params(self):
        """Keyword arguments of the criterion that come from this estimator.

        Methods override this to route their hyper-parameters (``gamma``,
        ``beta``, ...) to their loss; ``criterion__*`` parameters still win.
        """
        return {}

    def initialize_criterion(self):
        """Build the criterion with the training split's class statistics."""
        criterion = self.criterion
        accepted = _accepted_params(criterion)
        kwargs = dict(self._criterion_params())
        if "class_counts" in accepted and hasattr(self, "class_counts_"):
            kwargs["class_counts"] = torch.as_tensor(self.class_counts_, dtype=torch.float32)
        weight = getattr(self, "class_weight_", None)
        if "weight" in accepted and weight is not None:
            kwargs["weight"] = torch.as_tensor(weight, dtype=torch.float32)
        kwargs.update(self.get_params_for("criterion"))
        if isinstance(criterion, torch.nn.Module):
            criterion = type(criterion)
        self.criterion_ = criterion(**kwargs)
        return self

    def initialize_module(self):
        """Build the module, sized from the data when it accepts the sizes."""
        kwargs = self.get_params_for("module")
        module = self.module
        if module is None:
            module = MLP
            kwargs.setdefault("hidden_layer_sizes", tuple(self.hidden_layer_sizes))
        if isinstance(module, torch.nn.Module):
            module = type(module)(**kwargs) if kwargs else copy.deepcopy(module)
        else:
            accepted = _accepted_params(module)
            if "n_features" in accepted and hasattr(self, "n_features_in_"):
                kwargs.setdefault("n_features", self.n_features_in_)
            if "n_classes" in accepted and hasattr(self, "classes_"):
                kwargs.setdefault("n_classes", self._n_outputs())
            module = module(**kwargs)
        self.module_ = module
        return self

    @property
    def _default_callbacks(self):
        callbacks = [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            (
                "valid_bacc",
                EpochScoring(
                    _valid_balanced_accuracy,
                    name="valid_bacc",
                    lower_is_better=False,
                    target_extractor=_batch_labels,
                ),
            ),
            ("print_log", PrintLog()),
        ]
        if self.progress_bar:
            callbacks.insert(-1, ("progress_bar", ProgressBar()))
        return callbacks

    # ---------------------------------------------------------------- training
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Initialise the module and train it on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Training data: numpy, pandas, lists or anything
            :func:`sklearn.utils.check_array` accepts (dense, finite).
        y : array-like of shape (n_samples,)
            Labels of any type.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative per-sample loss weights (see Notes of the class).
        **fit_params : dict
            Passed on to the module's ``forward``.

        Returns
        -------
        self : object
        """
        reset = not (self.warm_start and self.initialized_)
        return self._fit(X, y, sample_weight, reset=reset, **fit_params)

    def partial_fit(self, X, y, classes=None, sample_weight=None, **fit_params):
        """Train for ``max_epochs`` more epochs, initialising on the first call.

        Parameters
        ----------
        X, y, sample_weight, **fit_params
            As in :meth:`fit`. The class statistics are those of the first call.
        classes : ignored
            The classes are taken from the first call's ``y``.

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight, reset=not self.initialized_, **fit_params)

    def _fit(self, X, y, sample_weight, reset, **fit_params):
        self._check_params()
        with self._seeded():
            if y is None:
                raise ValueError(
                    f"{type(self).__name__} requires y to be passed, but the target y is None."
                )
            X = self._validate_X(X, reset=reset)
            check_consistent_length(X, y)
            y_encoded = self._encode_targets(y, reset=reset)
            sample_weight = check_sample_weight(sample_weight, len(X))
            train_index, valid_index = self._split_indices(y_encoded)
            if reset:
                self._set_class_statistics(y_encoded[train_index])
                self.initialize()
            full = TensorDataset(
                self._to_device(X),
                self._to_device(y_encoded),
                None if sample_weight is None else self._to_device(sample_weight),
            )
            if valid_index is None:
                datasets = TrainValidDatasets(full, None)
            else:
                datasets = TrainValidDatasets(
                    full.subset(train_index), full.subset(valid_index)
                )
            self._fresh_fit = reset
            self._set_up_batch_hooks(datasets.train)
            NeuralNet.partial_fit(self, datasets, None, **fit_params)
        return self

    def _set_up_batch_hooks(self, dataset_train):
        """Set up ``augmentation_`` and ``meta_reweighting_`` on the training split."""
        self.augmentation_ = None
        if self.augmentation is not None:
            self.augmentation_ = copy.deepcopy(self.augmentation).setup(
                dataset_train, self.class_counts_
            )
        self.meta_reweighting_ = None
        if self.meta_reweighting is not None:
            self.meta_reweighting_ = copy.deepcopy(self.meta_reweighting).setup(
                dataset_train, self.lr
            )

    def train_step_single(self, batch, **fit_params):
        """One training step; the batch is augmented first when ``augmentation`` is set."""
        augmentation = getattr(self, "augmentation_", None)
        if augmentation is not None:
            Xi, yi = batch
            labels = yi["y"] if isinstance(yi, dict) else yi
            batch = (augmentation(Xi, labels), yi)
        return super().train_step_single(batch, **fit_params)

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """Run the epochs; a fresh fit resumed from a checkpoint only runs the rest.

        When a callback such as skorch's ``LoadInitState`` restores a checkpoint
        at the start of a fresh ``fit``, the restored history says how many
        epochs are done, and training continues up to ``max_epochs`` in total.
        ``warm_start`` and ``partial_fit`` keep skorch's meaning: ``max_epochs``
        more epochs.
        """
        if epochs is None and getattr(self, "_fresh_fit", False) and len(self.history):
            epochs = max(self.max_epochs - len(self.history), 0)
        return super().fit_loop(X, y, epochs=epochs, **fit_params)

    def _check_params(self):
        if "train_split" in vars(self):
            raise ValueError(
                "skimbal estimators do not take train_split; use validation_fraction, which "
                "holds out a fraction of every class without starving minority classes."
            )

    def _split_indices(self, y_encoded):
        """Indices of the training and validation parts (valid is None without one)."""
        if self.validation_fraction is None:
            return np.arange(len(y_encoded)), None
        rng = check_random_state(self.random_state)
        strata = y_encoded if y_encoded.ndim == 1 else _multilabel_strata(y_encoded)
        return stratified_holdout(strata, self.validation_fraction, rng)

    def get_split_datasets(self, X, y=None, **fit_params):
        """Return the datasets prepared by ``fit`` (see :class:`TrainValidDatasets`)."""
        if isinstance(X, TrainValidDatasets):
            return X.train, X.valid
        raise TypeError("get_split_datasets expects the TrainValidDatasets built by fit.")

    def check_data(self, X, y=None):
        """Input is validated by ``fit``; nothing is left to check here."""

    def get_iterator(self, dataset, training=False):
        """Return the batch iterator; the training one shuffles or uses ``sampler``."""
        prefix = "iterator_train" if training else "iterator_valid"
        kwargs = self.get_params_for(prefix)
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        if training and "sampler" not in kwargs:
            self.sampler_ = self._fitted_sampler()
            if self.sampler_ is not None:
                kwargs["sampler"] = self.sampler_
            else:
                kwargs.setdefault("shuffle", True)
        return getattr(self, prefix)(dataset, **kwargs)

    def _fitted_sampler(self):
        """A fresh copy of ``sampler`` for this fit (the parameter stays untouched).

        None means plain shuffling. Methods that bring their own sampler override
        this. Strings ('class-balanced', 'square-root', ...) are resolved by
        :func:`skimbal.sampling.check_sampler`.
        """
        sampler = copy.deepcopy(check_sampler(self.sampler))
        if hasattr(sampler, "set_max_epochs"):
            sampler.set_max_epochs(self.max_epochs)
        return sampler

    def infer(self, x, **fit_params):
        """Forward one batch (already a tensor on the device in the fast path)."""
        if isinstance(x, torch.Tensor):
            return self.module_(x, **fit_params)
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Reduce the criterion's per-sample losses with class and sample weights."""
        if isinstance(y_pred, tuple):
            y_pred = y_pred[0]
        sample_weight = None
        if isinstance(y_true, dict):
            sample_weight = y_true["sample_weight"]
            y_true = y_true["y"]
        meta = getattr(self, "meta_reweighting_", None)
        if training and meta is not None and isinstance(X, torch.Tensor):
            meta_weight = meta.sample_weight(
                self.module_, partial(per_sample_loss, self.criterion_), X, y_true
            )
            sample_weight = meta_weight if sample_weight is None else meta_weight * sample_weight
        if sample_weight is None:
            return self.criterion_(y_pred, y_true)
        return weighted_mean(
            per_sample_loss(self.criterion_, y_pred, y_true), y_true, self.criterion_,
            sample_weight,
        )

    def _set_training(self, training=True):
        # skorch sets the mode before every batch; walking the module tree each
        # time is a measurable cost for small nets, so only switch on a change.
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and module.training != training:
                module.train(training)

    # -------------------------------------------------------------- prediction
    def get_dataset(self, X, y=None):
        """Wrap tensors in a :class:`TensorDataset`, anything else as skorch does."""
        if isinstance(X, torch.Tensor):
            return TensorDataset(X, y)
        return super().get_dataset(X, y)

    def decision_function(self, X):
        """Raw logits of the module.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), or (n_samples,) for two
            classes (logit of the second class minus that of the first).
        """
        scores = to_numpy(self._logits(X))
        if scores.ndim == 2 and scores.shape[1] == 2 and self._n_outputs() == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def _logits(self, X):
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        with torch.no_grad():
            logits = self.forward(self._to_device(X), device=self._compute_device())
        return logits[0] if isinstance(logits, tuple) else logits

    def _get_predict_nonlinearity(self):
        if self.predict_nonlinearity == "auto":
            return _softmax
        return super()._get_predict_nonlinearity()

    def predict_proba(self, X):
        """Class probabilities; each row sums to 1.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of float32, shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        return to_numpy(self._get_predict_nonlinearity()(self._logits(X)))

    def predict(self, X):
        """Predicted labels, in the original label type.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        index = to_numpy(self._logits(X).argmax(1))
        return self.classes_[index]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags


def per_sample_loss(criterion, logits, target):
    """Evaluate ``criterion`` with ``reduction='none'`` (its mode is restored)."""
    reduction = getattr(criterion, "reduction", None)
    if reduction is None:
        raise ValueError(
            f"sample_weight needs a criterion with a 'reduction' attribute; "
            f"{type(criterion).__name__} has none."
        )
    criterion.reduction = "none"
    try:
        return criterion(logits, target)
    finally:
        criterion.reduction = reduction


def weighted_mean(per_sample, target, criterion, sample_weight=None):
    """Average per-sample losses as ``sum(w * l) / sum(w)``.

    ``w_i = criterion.weight[target_i] * sample_weight_i`` (either factor may be
    missing). ``per_sample`` is assumed to already contain the class weight, as
    PyTorch's losses with ``reduction='none'`` do.
    """
    class_weight = getattr(criterion, "weight", None)
    norm = None if class_weight is None else class_weight[target]
    if sample_weight is not None:
        per_sample = per_sample * sample_weight
        norm = sample_weight if norm is None else norm * sample_weight
    if norm is None:
        return per_sample.mean()
    return per_sample.sum() / norm.sum().clamp_min(torch.finfo(per_sample.dtype).tiny)


def _softmax(logits):
    return torch.softmax(logits, dim=-1)


def _accepted_params(factory):
    """Names of the keyword arguments a class or callable accepts."""
    target = factory if not isinstance(factory, torch.nn.Module) else type(factory)
    try:
        return set(inspect.signature(target).parameters)
    except (TypeError, ValueError):
        return set()


def _multilabel_strata(y_encoded):
    """One stratum per distinct row of a label matrix (rare rows merged)."""
    _, strata = np.unique(y_encoded, axis=0, return_inverse=True)
    return strata.ravel()


def is_multilabel(y):
    """Whether ``y`` is a multi-label indicator matrix."""
    return type_of_target(y) == "multilabel-indicator"
