"""Shared docstring fragments, substituted into the estimators' docstrings.

Write ``{name}`` in a docstring where a fragment of :data:`FRAGMENTS` belongs and
decorate the class with ``@substitute_docstring``; every estimator then documents
a shared parameter with the same words (as imbalanced-learn's ``Substitution``).
"""

__all__ = ["FRAGMENTS", "substitute_docstring"]

FRAGMENTS = {
    "class_weighted_loss": """weight : array-like or tensor of shape (n_classes,), default=None
        Class weights ``w_j``, stored as the buffer ``weight``.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        'none' returns ``w_{y_i} l_i``; 'mean' is ``sum_i w_{y_i} l_i / sum_i w_{y_i}``.""",
    "module": """module : torch.nn.Module class or instance, default=None
        The network; None is :class:`skimbal.nn.MLP` sized from the data. A class is
        built at fit time with the ``module__*`` parameters (its ``n_features`` and
        ``n_classes`` arguments filled in from the data); an instance is used as it
        is, deep-copied at every fit.""",
    "embedding_module": """module : torch.nn.Module class or instance, default=None
        The network (None is :class:`skimbal.nn.MLP`), following the embedding
        protocol (``forward_features``, ``forward_head`` and a ``head`` attribute).""",
    "drw": """drw : bool, default={drw_default}
        Deferred re-weighting (Cao et al., NeurIPS 2019, Sec. 3.3): add the callback
        :class:`skimbal.callbacks.DeferredReweighting` (named
        ``'deferred_reweighting'``), which trains with the plain loss until 80 % of
        the epochs and with effective-number class weights afterwards. Configure it
        through that callback alone, e.g.
        ``callbacks__deferred_reweighting__start=0.5``.""",
    "net_params": """optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        Optimizer; ``optimizer__*`` parameters are routed to it.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int or 'auto', default='auto'
        Epochs of each ``fit`` (and of each ``partial_fit`` call). 'auto' trains a
        fixed number of optimizer steps, whatever the size of the data:
        ``clip(ceil(4000 / steps_per_epoch), 50, 500)`` epochs with
        ``steps_per_epoch = ceil(n_train / batch_size)`` on the rows of that fit
        (or ``partial_fit`` call); ``max_epochs_`` holds the result, which epochs
        given as fractions refer to (see the user guide, "Training length").
    batch_size : int, default=128
        Rows per training and prediction batch (-1: the whole data).
    hidden_layer_sizes : tuple of int, default=(100,)
        Hidden widths of the default MLP (ignored when ``module`` is given).
    class_weight : None, 'balanced' or dict, default=None
        Per-class loss weights. 'balanced' uses ``1 / n_j`` on the training split,
        normalised to sum to the number of classes; a dict maps original labels to
        weights.
    sampler : str or sampler object, default=None
        Sampler of the training rows, redrawn every epoch from the training split
        only (:mod:`skimbal.sampling`); None shuffles. Strings name the class-aware
        samplers ('instance-balanced', 'class-balanced', 'square-root',
        'progressive', 'reversed').
    validation_fraction : float in (0, 1), default=None
        Fraction of each class held out for validation (``valid_loss`` and
        ``valid_bacc`` in the history). None trains on all the data: skorch's 20 %
        split would take a fifth of every minority class away. A class keeps at
        least ``ceil((1 - validation_fraction) * n_j)`` training samples.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the batch order, the sampling and the validation split;
        two CPU fits with the same int give identical predictions, in one process,
        in threads or in several processes. None takes the seed from torch's
        global generator (``torch.manual_seed`` makes the fit reproducible).
    device : {'cpu', 'cuda', 'auto'} or torch device, default='cpu'
        Where the module and the training data live; 'auto' takes the GPU when
        there is one.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra callbacks, run after the default ones.
    classes : array-like, default=None
        All class labels, when ``y`` of a fit (or of the first ``partial_fit``)
        may lack some of them.
    verbose : int, default=0
        1 prints skorch's epoch table.
    progress_bar : bool, default=False
        Show a tqdm progress bar over the batches of each epoch.
    warm_start : bool, default=False
        Continue from the current weights on the next ``fit``; the class statistics
        are those of the new data.
    predict_nonlinearity : 'auto', callable or None, default='auto'
        Maps the module's output to ``predict_proba``. 'auto': softmax (sigmoid per
        attribute for multi-label targets; identity with ``NLLLoss``, whose module
        outputs probabilities).
    train_split : None, default=None
        Refused: use ``validation_fraction``, which never starves a minority class.
    **kwargs
        Routed parameters (``module__*``, ``optimizer__*``, ``criterion__*``,
        ``iterator_train__*``, ``dataset__*``, ``callbacks__*``) and skorch's other
        arguments (``iterator_train``, ``dataset``, ``compile``, ``history``, ...).""",
    "net_attributes": """classes_ : ndarray of shape (n_classes,)
        Original labels in the order of the logits (``arange(n_attributes)`` for a
        multi-label ``y``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of str
        Column names, when X was a DataFrame with string columns.
    class_counts_ : ndarray of int64, shape (n_classes,) or (n_attributes, 2)
        Samples of each class (each attribute's low and high value) in the training
        split; accumulated over ``partial_fit`` calls.
    class_prior_ : ndarray of float64
        ``class_counts_`` normalised per task.
    class_weight_ : ndarray of float32 or None
        The resolved ``class_weight``.
    multilabel_ : bool
        Whether ``y`` was an indicator matrix; ``label_values_`` then holds its two
        values.
    seed_ : int
        The seed every random stream of the fit derives from.
    max_epochs_ : int
        Planned epochs of one run (``max_epochs``, or its resolution from the
        training rows for 'auto'), which fractional schedules refer to.
    sampler_ : object or None
        The copy of ``sampler`` used by this fit.
    module_, criterion_, optimizer_, history_
        skorch's trained components.""",
}


def substitute_docstring(cls=None, **values):
    """Fill the ``{name}`` placeholders of a class docstring from :data:`FRAGMENTS`.

    Keyword arguments fill placeholders inside the fragments (``drw_default``).
    """

    def decorate(klass):
        doc = klass.__doc__
        for name, text in FRAGMENTS.items():
            for key, value in values.items():
                text = text.replace("{" + key + "}", value)
            doc = doc.replace("{" + name + "}", text)
        klass.__doc__ = doc
        return klass

    return decorate if cls is None else decorate(cls)
