"""The estimator every skimbal method builds on, and its fit pipeline.

``fit(X, y)`` validates the input, encodes the labels, splits off the validation
part, computes the class statistics of the training part, builds the module and
the criterion from them, and hands the validated arrays to skorch's training loop,
whose hooks (``get_split_datasets``, ``get_iterator``, ``train_step_single``,
``get_loss``, ``infer``) this class fills in. Methods extend it through the same
hooks and through :meth:`criterion_params`; schedules are callbacks.
"""

import copy
import inspect
import numbers
import warnings
from types import MappingProxyType

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, Options, StrOptions
from skorch import NeuralNet, NeuralNetClassifier

from ..nn import MLP
from ..sampling import check_sampler
from . import components
from .compat import SkorchCompatMixin
from .data import TensorBatchLoader, TensorDataset
from .docstrings import substitute_docstring
from .inputs import check_encoded_fit_input, check_fit_input, validate_features
from .prediction import PredictionMixin, default_callbacks, score_in_original_labels
from .random import draw_seed, epoch_seed, preserved_torch_rng, seeded_torch
from .schedule import planned_epochs, resolve_max_epochs
from .targets import (
    LabelEncoding,
    class_statistics,
    count_classes,
    split_strata,
    stratified_holdout,
)
from .training import FitCall, TrainingHooksMixin
from .validation import check_sample_weight

__all__ = ["ImbalancedNetClassifier"]


@substitute_docstring
class ImbalancedNetClassifier(
    SkorchCompatMixin, PredictionMixin, TrainingHooksMixin, NeuralNetClassifier
):
    """Neural network classifier with scikit-learn semantics and class statistics.

    The base of every skimbal method, usable on its own with any criterion. With
    the defaults it trains an MLP with plain cross-entropy.

    Parameters
    ----------
    {module}
    criterion : torch.nn.Module class or instance, default=torch.nn.CrossEntropyLoss
        Loss on logits. A class gets, when its constructor accepts them, the
        training split's ``class_counts`` (float tensor) and ``weight`` (the
        resolved ``class_weight``), then the ``criterion__*`` parameters. An instance
        is used as it is (deep-copied at every fit).
    {net_params}

    Attributes
    ----------
    {net_attributes}

    Notes
    -----
    **Loss reduction.** Per batch the loss is ``sum_i w_i l_i / sum_i w_i`` with
    ``w_i = weight[y_i] * sample_weight_i`` (either factor may be missing);
    :func:`skimbal._core.reduction.weighted_mean`.

    **Data path.** X is cast to float32 and moved with the targets to ``device`` once
    per fit; batches are slices of those tensors. There is no per-sample Python in
    the training loop.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import ImbalancedNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = ImbalancedNetClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints = {
        "module": [None, callable],
        "criterion": [callable],
        "optimizer": [type, callable],
        "lr": [Interval(numbers.Real, 0, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left"), Options(int, {-1})],
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "class_weight": [None, StrOptions({"balanced"}), dict],
        "sampler": [None, str, HasMethods(["epoch_indices"]), HasMethods(["epoch_data"])],
        "validation_fraction": [None, Interval(numbers.Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
        "device": [None, str, torch.device],
        "classes": [None, "array-like"],
        "verbose": ["verbose"],
        "progress_bar": ["boolean"],
        "warm_start": ["boolean"],
        "predict_nonlinearity": [None, StrOptions({"auto"}), callable],
    }
    #: Whether ``fit`` accepts a multi-label indicator matrix as ``y``.
    accepts_multilabel = False
    #: Criterion class used instead of the default ``criterion`` for a multi-label ``y``.
    multilabel_criterion = None

    # skorch sets these in ``__init__``; scikit-learn wants learned attributes to
    # appear only in ``fit``, so these class defaults stand in until then.
    initialized_ = False
    history_ = None
    virtual_params_ = MappingProxyType({})

    def __init__(
        self, module=None, *, criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam,
        lr=1e-3, max_epochs="auto", batch_size=128, hidden_layer_sizes=(100,), class_weight=None,
        sampler=None, validation_fraction=None, random_state=None, device="cpu",
        callbacks=None, classes=None, verbose=0, progress_bar=False, warm_start=False,
        predict_nonlinearity="auto", train_split=None, iterator_train=TensorBatchLoader,
        iterator_valid=TensorBatchLoader, dataset=TensorDataset, compile=False,
        use_caching="auto", torch_load_kwargs=None, **kwargs,
    ):
        learned = ("initialized_", "virtual_params_")
        if kwargs.get("history") is None:
            learned += ("history_",)
        super().__init__(
            module, criterion=criterion, optimizer=optimizer, lr=lr, max_epochs=max_epochs,
            batch_size=batch_size, callbacks=callbacks, verbose=verbose, warm_start=warm_start,
            predict_nonlinearity=predict_nonlinearity, device=device, train_split=train_split,
            classes=classes, iterator_train=iterator_train, iterator_valid=iterator_valid,
            dataset=dataset, compile=compile, use_caching=use_caching,
            torch_load_kwargs=torch_load_kwargs, **kwargs,
        )
        for name in learned:
            vars(self).pop(name, None)
        self.hidden_layer_sizes = hidden_layer_sizes
        self.class_weight = class_weight
        self.sampler = sampler
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.progress_bar = progress_bar

    # ------------------------------------------------------------ initialisation
    def initialize(self):
        """Build callbacks, module, criterion and optimizer.

        skorch's ``net.initialize()`` without data works when the module's sizes are
        given (``module__*`` or a module instance); ``classes`` then sets the labels.
        """
        if getattr(self, "label_encoding_", None) is None and self.classes is not None:
            self.label_encoding_ = LabelEncoding.fit(self.classes, name=type(self).__name__)
            self.classes_ = self.label_encoding_.classes
        return super().initialize()

    def initialize_module(self):
        """Build the module, sized from the data when it accepts the sizes."""
        module, routed = self.module, self.get_params_for("module")
        if module is None:
            module = MLP
            routed.setdefault("hidden_layer_sizes", tuple(np.atleast_1d(self.hidden_layer_sizes)))
        sizes = {}
        if hasattr(self, "n_features_in_"):
            sizes["n_features"] = self.n_features_in_
        if getattr(self, "label_encoding_", None) is not None:
            sizes["n_classes"] = self.label_encoding_.n_outputs
        self.module_ = components.build_module(module, routed, sizes)
        return self

    def criterion_params(self):
        """Arguments of the criterion that come from the estimator.

        The training split's statistics (``class_counts``, ``weight``); methods add
        their hyper-parameters (``gamma``, ``max_margin``, ...). Only the arguments
        the criterion's constructor accepts are passed.
        """
        params = {}
        for name, value in (("class_counts", getattr(self, "class_counts_", None)),
                            ("weight", getattr(self, "class_weight_", None))):
            if value is not None:
                params[name] = torch.as_tensor(value, dtype=torch.float32)
        return params

    def initialize_criterion(self):
        """Build the criterion with the training split's class statistics.

        For a multi-label ``y`` the estimator's ``multilabel_criterion`` replaces
        the default criterion (a criterion the user chose is used as it is).
        """
        criterion = self.criterion
        if getattr(self, "multilabel_", False) and self.multilabel_criterion is not None:
            default = inspect.signature(type(self).__init__).parameters["criterion"].default
            if criterion is default:
                criterion = self.multilabel_criterion
        self.criterion_ = components.restore_optional_buffers(components.build_criterion(
            criterion, self.get_params_for("criterion"), self.criterion_params()
        ))
        return self

    def initialize_callbacks(self):
        """skorch's callbacks; scoring callbacks with skorch's default extractor score
        in the original labels (:class:`~skimbal._core.prediction.OriginalLabels`)."""
        super().initialize_callbacks()
        score_in_original_labels(self.callbacks_, getattr(self, "label_encoding_", None))
        return self

    @property
    def _default_callbacks(self):
        # get_params reads this property: an invalid progress_bar must not raise here.
        return default_callbacks(self.progress_bar is True, self.holds_out_validation())

    def holds_out_validation(self):
        """Whether fit holds out a validation part (the ``valid_*`` scores need one)."""
        return self.validation_fraction is not None

    # ------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Initialise the net (unless ``warm_start``) and train it on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Training data: anything :func:`sklearn.utils.check_array` accepts (dense,
            finite), or a torch tensor.
        y : array-like of shape (n_samples,) or (n_samples, n_attributes)
            Labels of any type, or an indicator matrix when the method accepts
            multi-label targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative per-sample loss weights.
        **fit_params : dict
            Passed on to the module's ``forward``.

        Returns
        -------
        self : object
        """
        fresh = not (self.warm_start and self.initialized_)
        return self._fit(X, y, sample_weight, fresh=fresh, routing="fit", **fit_params)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None, **fit_params):
        """Train ``max_epochs`` more epochs ('auto': the step budget on this call's rows).

        Parameters
        ----------
        X, y, sample_weight, **fit_params
            As in :meth:`fit`. The class counts accumulate over the calls.
        classes : array-like, default=None
            All labels, on the first call, when its ``y`` may lack some (as in
            scikit-learn's ``partial_fit``); later calls may repeat them.

        Returns
        -------
        self : object
        """
        encoding = getattr(self, "label_encoding_", None)
        if classes is not None and encoding is not None:
            encoding.check_classes(classes)
        # The first call of a run: also after initialize() alone, which knows the
        # classes but has counted no samples yet.
        first = encoding is None or not self.initialized_ or not hasattr(self, "class_counts_")
        return self._fit(X, y, sample_weight, fresh=not self.initialized_, routing="partial_fit",
                         classes=classes, accumulate=not first, **fit_params)

    def _fit(self, X, y, sample_weight, *, fresh, routing, classes=None, accumulate=False,
             **fit_params):
        X, y = check_fit_input(self, X, y, sample_weight, reset=fresh)
        encoding = getattr(self, "label_encoding_", None)
        if fresh or encoding is None:
            encoding = LabelEncoding.fit(
                y, classes=self.classes if classes is None else classes,
                allow_multilabel=self.accepts_multilabel, name=type(self).__name__,
            )
        y_encoded = encoding.encode(y)
        check_encoded_fit_input(X, y_encoded, encoding)
        sample_weight = check_sample_weight(sample_weight, len(y_encoded))
        self.label_encoding_ = encoding
        self.classes_, self.multilabel_ = encoding.classes, encoding.multilabel
        if encoding.multilabel:
            self.label_values_ = encoding.label_values
        if fresh or not hasattr(self, "seed_"):
            self.seed_ = draw_seed(self.random_state)
        train_index, valid_index = self._split(y_encoded)
        counts = count_classes(y_encoded[train_index], encoding)
        if accumulate:
            counts = counts + self.class_counts_
        self.class_counts_, self.class_prior_, self.class_weight_ = class_statistics(
            counts, encoding, self.class_weight
        )
        self.max_epochs_ = resolve_max_epochs(self.max_epochs, len(train_index), self.batch_size)
        if self.max_epochs == 0:
            warnings.warn(f"{type(self).__name__}: max_epochs=0, fit trains nothing.", UserWarning)
        if fresh or not self.initialized_:
            with seeded_torch(self.seed_):
                self.initialize()
        else:
            # New statistics (warm start, a further partial_fit): rebuild the criterion.
            self.initialize_criterion()
            self.criterion_.to(self._device())
        if fresh or getattr(self, "sampler_", None) is None:
            self.sampler_ = copy.deepcopy(check_sampler(self.sampler))
            if hasattr(self.sampler_, "set_max_epochs"):
                self.sampler_.set_max_epochs(self.max_epochs_)
        self._fit_call = FitCall(sample_weight, train_index, valid_index, fresh)
        try:
            with preserved_torch_rng():
                NeuralNet.partial_fit(self, X, y_encoded, _routing_method=routing, **fit_params)
        finally:
            del self._fit_call
        return self

    def _validate_X(self, X, reset):
        return validate_features(self, X, reset)

    def _split(self, y_encoded):
        """Indices of the training and validation parts (validation None without one)."""
        if self.validation_fraction is None:
            return np.arange(len(y_encoded)), None
        rng = np.random.RandomState(epoch_seed(self.seed_, 0, "validation split") % 2**32)
        return stratified_holdout(split_strata(y_encoded), self.validation_fraction, rng)

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """Run ``max_epochs_`` epochs; a fit restored from a checkpoint runs only the rest.

        When a callback such as skorch's ``LoadInitState`` restores a checkpoint at
        the start of a fresh ``fit``, the restored history says how many epochs are
        done, and scoring callbacks continue from its best scores. ``warm_start`` and
        ``partial_fit`` run ``max_epochs_`` more epochs.
        """
        if epochs is None:
            epochs = planned_epochs(self, None if y is None else len(y))
            call = self._fit_call
            if call is not None and call.fresh and len(self.history):
                epochs = max(epochs - len(self.history), 0)
        components.restore_best_scores(self)
        return super().fit_loop(X, y, epochs=epochs, **fit_params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        # Samplers draw by class: they need one label per sample.
        tags.classifier_tags.multi_label = self.accepts_multilabel and self.sampler is None
        return tags
