"""The base of skimbal's samplers and the resolution of the ``sampler`` parameter.

A sampler draws the training rows of one epoch from the encoded labels of the
training split (see the Samplers contract in ``docs/design.rst``):

- ``epoch_indices(y, *, epoch, generator) -> LongTensor``: row indices of the
  epoch (repeats allowed, any length), drawn on ``y.device``; or
- ``epoch_data(X, y, sample_weight, *, epoch, generator) -> (X, y, sample_weight)``:
  the epoch's rows, for samplers that create rows (SMOTE).

``epoch`` is the epoch's index in the net's history, so a sampler that changes
over the epochs (progressive sampling, deferred re-sampling) is the same after a
resume, under ``warm_start`` and across ``partial_fit`` calls. Such samplers learn
the run's planned length through ``set_max_epochs``.
"""

import inspect

from .._core.validation import validate_constraints

__all__ = ["BaseSampler", "check_sampler"]


class BaseSampler:
    """Base class of the samplers: parameter validation and a readable ``repr``.

    Subclasses store their constructor arguments as attributes, declare them in
    ``_parameter_constraints`` and call :meth:`_validate_params` when they draw.
    Samplers are plain objects, not scikit-learn estimators: an estimator's
    ``clone`` deep-copies them, and they expose no ``get_params`` (skorch would
    otherwise store nested ``sampler__*`` names on the estimator).
    """

    _parameter_constraints: dict = {}

    def _validate_params(self):
        validate_constraints(self)

    def __repr__(self):
        signature = inspect.signature(type(self).__init__)
        changed = []
        for name, parameter in signature.parameters.items():
            variadic = parameter.kind in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)
            if name == "self" or variadic:
                continue
            value = getattr(self, name, parameter.default)
            if parameter.default is parameter.empty or not _same(value, parameter.default):
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"


def _same(value, default):
    try:
        return bool(value == default) and type(value) is type(default)
    except (TypeError, ValueError, RuntimeError):
        return value is default


def _shortcuts():
    from ._class_aware import ClassAwareSampler, ProgressiveSampler, ReversedSampler

    return {
        "instance-balanced": lambda: ClassAwareSampler(q=1.0),
        "class-balanced": lambda: ClassAwareSampler(q=0.0),
        "square-root": lambda: ClassAwareSampler(q=0.5),
        "progressive": ProgressiveSampler,
        "reversed": ReversedSampler,
    }


def check_sampler(sampler):
    """Resolve a ``sampler`` parameter into a sampler object.

    Parameters
    ----------
    sampler : None, str or sampler object
        None is returned as is (the estimator then shuffles). A string is one of
        'instance-balanced' (``ClassAwareSampler(q=1)``), 'class-balanced'
        (``q=0``), 'square-root' (``q=0.5``), 'progressive'
        (:class:`ProgressiveSampler`) or 'reversed' (:class:`ReversedSampler`).
        An object must have ``epoch_indices`` or ``epoch_data``; it is returned
        unchanged (not copied).

    Returns
    -------
    sampler : object or None

    Examples
    --------
    >>> from skimbal.sampling import check_sampler
    >>> check_sampler("square-root")
    ClassAwareSampler(q=0.5)
    """
    if sampler is None:
        return None
    shortcuts = _shortcuts()
    if isinstance(sampler, str):
        try:
            return shortcuts[sampler]()
        except KeyError:
            valid = ", ".join(repr(name) for name in shortcuts)
            raise ValueError(
                f"Unknown sampler {sampler!r}; valid names are {valid}, or pass a sampler object."
            ) from None
    if not (hasattr(sampler, "epoch_indices") or hasattr(sampler, "epoch_data")):
        raise ValueError(
            "sampler must be None, one of "
            f"{', '.join(repr(name) for name in shortcuts)} or an object with an "
            f"epoch_indices(y, *, epoch, generator) method; got {sampler!r}."
        )
    return sampler
