"""Samplers that re-draw the training rows of every epoch.

A sampler is passed as the ``sampler`` parameter of any skimbal estimator (or as
one of the names in :data:`SAMPLER_SHORTCUTS`). It sees only the training split
of the fit, is deep-copied at every fit and is called once per epoch; see the
Samplers contract in ``docs/design.rst``.
"""

from ._class_aware import ClassAwareSampler, ProgressiveSampler, ReversedSampler
from ._imblearn import ImbalancedLearnSampler
from ._meta_sampler import MetaClassSampler

__all__ = [
    "SAMPLER_SHORTCUTS",
    "ClassAwareSampler",
    "ImbalancedLearnSampler",
    "MetaClassSampler",
    "ProgressiveSampler",
    "ReversedSampler",
    "check_sampler",
]

#: The strings accepted by an estimator's ``sampler`` parameter and what they build.
SAMPLER_SHORTCUTS = {
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
    if isinstance(sampler, str):
        try:
            return SAMPLER_SHORTCUTS[sampler]()
        except KeyError:
            valid = ", ".join(repr(name) for name in SAMPLER_SHORTCUTS)
            raise ValueError(
                f"Unknown sampler {sampler!r}; valid names are {valid}, or pass a sampler object."
            ) from None
    if not (hasattr(sampler, "epoch_indices") or hasattr(sampler, "epoch_data")):
        raise ValueError(
            "sampler must be None, one of "
            f"{', '.join(repr(name) for name in SAMPLER_SHORTCUTS)} or an object with an "
            f"epoch_indices(y, *, epoch, generator) method; got {sampler!r}."
        )
    return sampler
