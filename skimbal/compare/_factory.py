"""What every method factory shares: the task tags and the network setting.

A factory is called as ``factory(*, random_state, device, max_epochs)`` and
returns an unfitted classifier. Its ``tasks`` attribute (set by :func:`supports`)
says which targets it can fit: ``'binary'``, ``'multiclass'`` and
``'multilabel'`` (an indicator matrix of attributes). A factory tagged
``per_attribute`` fits a multi-label target through
:class:`sklearn.multioutput.MultiOutputClassifier` (one copy per attribute);
the runner adds that wrapper, so the factory itself stays single-label.
"""

__all__ = ["SINGLE_LABEL", "TASKS", "by_class_name", "net_params", "supports", "tasks_of"]

#: Every kind of target a comparison knows.
TASKS = ("binary", "multiclass", "multilabel")
#: The tasks of a factory without tags.
SINGLE_LABEL = frozenset({"binary", "multiclass"})


def supports(*tasks, per_attribute=False):
    """Tag a factory with the tasks it can fit.

    Parameters
    ----------
    *tasks : str
        Some of :data:`TASKS`.
    per_attribute : bool, default=False
        The factory's estimator is single-label; on a multi-label target the
        runner fits one copy per attribute. Implies ``'multilabel'``.
    """
    unknown = set(tasks) - set(TASKS)
    if unknown:
        raise ValueError(f"unknown task(s) {sorted(unknown)}; known: {TASKS}.")

    def tag(factory):
        factory.tasks = frozenset(tasks) | ({"multilabel"} if per_attribute else set())
        factory.per_attribute = per_attribute
        return factory

    return tag


def tasks_of(factory):
    """The tasks a factory can fit (single-label when it has no tag)."""
    return getattr(factory, "tasks", SINGLE_LABEL)


def net_params(*, random_state, device, max_epochs):
    """Shared setting of the neural methods in a comparison.

    A one-hidden-layer MLP of width 128 trained with Adam (learning rate 3e-3,
    batch 64) for ``max_epochs`` epochs: every skimbal method and the
    network of the resampling baselines train this same network. With
    ``max_epochs=None`` (``skimbal compare --estimator-defaults``) every network
    keeps its estimator's defaults instead (network, learning rate, batch size and
    ``max_epochs='auto'``); only the seed and the device are set.

    Parameters
    ----------
    random_state : int or None
        Seed of the weight initialisation and the batch order.
    device : str
        Torch device ('cpu', 'cuda', 'auto').
    max_epochs : int or None
        Number of training epochs; None keeps every estimator's defaults.

    Returns
    -------
    params : dict
        Keyword arguments for any :class:`skimbal.ImbalancedNetClassifier`.

    Examples
    --------
    >>> from skimbal.compare import net_params
    >>> net_params(random_state=0, device="cpu", max_epochs=30)["hidden_layer_sizes"]
    (128,)
    >>> net_params(random_state=0, device="cpu", max_epochs=None)
    {'random_state': 0, 'device': 'cpu'}
    """
    if max_epochs is None:
        return dict(random_state=random_state, device=device)
    return dict(
        hidden_layer_sizes=(128,),
        lr=3e-3,
        batch_size=64,
        max_epochs=max_epochs,
        random_state=random_state,
        device=device,
    )


def by_class_name(name, random_state, device, max_epochs, **params):
    """A skimbal estimator, by class name, with the shared network setting.

    ``skimbal`` imports the estimator's module on first access, so a registry
    module imports no method.
    """
    import skimbal

    return getattr(skimbal, name)(
        **params, **net_params(random_state=random_state, device=device, max_epochs=max_epochs)
    )
