"""The batch structure shared by every method: one target, one model output.

A training batch is ``(X, target)``. ``target`` is the tensor of encoded labels,
or, when the batch carries more than labels, a :class:`Target` holding the labels,
the per-sample weights and any extras a method needs (cluster ids, a second batch
of labels). Plain label tensors keep skorch's own callbacks, which read the
targets of a batch as an array, working unchanged; :func:`as_target` gives every
consumer the one named structure.

The module's output is the logits, or, when a method asks for the embedding, a
:class:`ModelOutput` ``(logits, embedding)``; :func:`as_model_output` gives the
named pair in every case.
"""

from typing import NamedTuple

import torch

__all__ = ["ModelOutput", "Target", "as_model_output", "as_target"]


class Target:
    """The targets of one batch: encoded labels, sample weights and method extras.

    Parameters
    ----------
    y : torch.Tensor of shape (n_samples,) or (n_samples, n_attributes)
        Encoded labels (int64), or a 0/1 matrix for multi-label targets.
    sample_weight : torch.Tensor of shape (n_samples,), default=None
        Per-sample loss weights.
    **extras : torch.Tensor or Target
        Whatever else a method attaches to the batch, by name (for example LMLE's
        ``cluster_ids``, or BBN's ``reversed`` batch of targets).

    Examples
    --------
    >>> import torch
    >>> from skimbal._core.batch import Target
    >>> target = Target(torch.tensor([0, 1]), cluster_ids=torch.tensor([3, 5]))
    >>> target.extras["cluster_ids"].tolist(), target.sample_weight is None
    ([3, 5], True)
    """

    __slots__ = ("y", "sample_weight", "extras")

    def __init__(self, y, sample_weight=None, **extras):
        self.y = y
        self.sample_weight = sample_weight
        self.extras = extras

    def __len__(self):
        return len(self.y)

    def to(self, *args, **kwargs):
        """The same target with every tensor moved by ``Tensor.to(*args, **kwargs)``."""

        def move(value):
            return None if value is None else value.to(*args, **kwargs)

        extras = {name: move(value) for name, value in self.extras.items()}
        return Target(move(self.y), move(self.sample_weight), **extras)

    def __repr__(self):
        names = ["y"] + (["sample_weight"] if self.sample_weight is not None else [])
        return f"Target({', '.join(names + list(self.extras))})"


def as_target(target):
    """The :class:`Target` of a batch target (a label tensor is wrapped).

    Parameters
    ----------
    target : Target or torch.Tensor

    Returns
    -------
    target : Target
    """
    if isinstance(target, Target):
        return target
    return Target(target)


# Default of ModelOutput's embedding: the only argument is an iterable of both fields.
_UNPACK = object()


class _ModelOutputFields(NamedTuple):
    logits: torch.Tensor
    embedding: torch.Tensor


class ModelOutput(_ModelOutputFields):
    """What the module returns for a batch: logits and, when asked for, the embedding.

    skorch moves outputs between devices (``forward(X, device=...)``, cached scoring)
    by rebuilding a tuple from the iterable of its moved items, ``type(out)(items)``;
    ``ModelOutput(items)`` therefore unpacks such an iterable.
    """

    __slots__ = ()

    def __new__(cls, logits, embedding=_UNPACK):
        if embedding is _UNPACK:
            if isinstance(logits, torch.Tensor):
                raise TypeError("ModelOutput needs logits and an embedding (or None).")
            logits, embedding = logits
        return super().__new__(cls, logits, embedding)


def as_model_output(y_pred):
    """The :class:`ModelOutput` of a forward pass.

    A tensor is the logits; a :class:`ModelOutput` is returned as it is; any other
    tuple is read as skorch reads a module's tuple output, its first element being
    the prediction.

    Returns
    -------
    output : ModelOutput
        ``embedding`` is None when the forward pass did not return one.
    """
    if isinstance(y_pred, ModelOutput):
        return y_pred
    if isinstance(y_pred, (tuple, list)):
        return ModelOutput(y_pred[0], None)
    return ModelOutput(y_pred, None)
