"""Shared docstring fragments, substituted into the estimators' docstrings.

Write ``{name}`` in a docstring where a fragment of :data:`FRAGMENTS` belongs and
decorate the class with ``@substitute_docstring``; every estimator then documents
a shared parameter with the same words (as imbalanced-learn's ``Substitution``).
"""

__all__ = ["FRAGMENTS", "substitute_docstring"]

FRAGMENTS = {
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
    "net_params": """**kwargs
        Every parameter of :class:`skimbal.ImbalancedNetClassifier` (``lr``,
        ``max_epochs``, ``batch_size``, ``hidden_layer_sizes``, ``class_weight``,
        ``sampler``, ``validation_fraction``, ``random_state``, ``device``,
        ``callbacks``, ...) and skorch's routed ``module__*``, ``optimizer__*``,
        ``criterion__*``, ``iterator_train__*`` and ``callbacks__*`` parameters.""",
}


def substitute_docstring(cls=None, **values):
    """Fill the ``{name}`` placeholders of a class docstring from :data:`FRAGMENTS`.

    Extra keyword arguments fill placeholders inside the fragments (``drw_default``).
    """

    def decorate(klass):
        fragments = {name: text.format(**values) if values else text
                     for name, text in FRAGMENTS.items() if "{" not in text or values}
        doc = klass.__doc__
        for name, text in fragments.items():
            doc = doc.replace("{" + name + "}", text)
        klass.__doc__ = doc
        return klass

    return decorate if cls is None else decorate(cls)
