"""Paired batches: every training batch joined by a batch of a second sampler.

Two-branch methods (BBN, Zhou et al. 2020) feed one branch with the ordinary
batches and the other with batches drawn by a re-balancing sampler. Here the
second stream is a sampler concern: :class:`BilateralBatchLoader` wraps the
training loader and takes, for each of its batches, as many rows from the
stream of ``reversed_sampler.epoch_indices``.
"""

import torch

from .._core.batch import Target, as_target
from .._core.data import TensorDataset
from .._core.random import epoch_generator

__all__ = ["BilateralBatchLoader"]


class BilateralBatchLoader:
    """Pair every batch of a loader with a batch drawn by a second sampler.

    Wraps the conventional loader (skimbal's ``TensorBatchLoader``, which shuffles
    or uses the estimator's ``sampler``) and yields ``((X_c, X_r), target)`` where
    ``target`` is the conventional batch's :class:`~skimbal._core.batch.Target`
    with the second batch's ``Target`` as its extra ``reversed``::

        Target(y_c, sample_weight_c, reversed=Target(y_r, sample_weight_r))

    Each conventional batch of ``b`` rows gets ``b`` rows of the same
    :class:`~skimbal._core.data.TensorDataset` taken in order from the stream of
    ``reversed_sampler.epoch_indices``, drawn once per epoch on the data's device
    (and drawn again when an epoch needs more rows). Both batches are
    ``index_select`` slices; nothing is done per sample in Python.

    Parameters
    ----------
    loader : TensorBatchLoader or DataLoader
        The conventional loader; its dataset must be a ``TensorDataset``. The
        ``epoch`` of a ``TensorBatchLoader`` (the epochs already in the net's history
        when it starts) numbers the epochs of the second stream too; for a loader
        without one, this loader counts from ``start_epoch``.
    reversed_sampler : sampler object
        Sampler of the second stream, with ``epoch_indices(y, *, epoch,
        generator)``.
    seed : int or None, default=None
        Seed of the fit: epoch ``e`` of the second stream draws from
        ``epoch_generator(seed, e, 'reversed batches')``, so it does not depend on
        how the run got to that epoch (``partial_fit``, a resumed checkpoint). None
        uses the device's global generator.
    start_epoch : int, default=0
        First epoch, for a loader that does not count its epochs.

    Examples
    --------
    >>> import torch
    >>> from skimbal._core.data import TensorBatchLoader, TensorDataset
    >>> from skimbal.sampling import BilateralBatchLoader, ReversedSampler
    >>> data = TensorDataset(torch.randn(10, 2), torch.tensor([0] * 8 + [1] * 2))
    >>> loader = BilateralBatchLoader(
    ...     TensorBatchLoader(data, batch_size=4, shuffle=True, seed=0), ReversedSampler(), seed=0
    ... )
    >>> (X_c, X_r), target = next(iter(loader))
    >>> X_c.shape == X_r.shape, target.extras["reversed"].y.shape
    (True, torch.Size([4]))
    """

    #: Name of the random stream of the second batches.
    stream = "reversed batches"

    def __init__(self, loader, reversed_sampler, seed=None, start_epoch=0):
        dataset = getattr(loader, "dataset", None)
        if not isinstance(dataset, TensorDataset):
            raise TypeError(
                "BilateralBatchLoader draws its second batch from the in-memory "
                "TensorDataset of skimbal's data path; the loader holds a "
                f"{type(dataset).__name__}."
            )
        if not hasattr(reversed_sampler, "epoch_indices"):
            raise ValueError(
                "The sampler of the second batches must draw row indices "
                f"(epoch_indices(y, *, epoch, generator)); got {reversed_sampler!r}."
            )
        self.loader = loader
        self.dataset = dataset
        self.reversed_sampler = reversed_sampler
        self.seed = seed
        self._next_epoch = start_epoch

    @property
    def epoch(self):
        """Index of the epoch the next pass serves (the wrapped loader's, if it counts)."""
        return getattr(self.loader, "epoch", self._next_epoch)

    def __iter__(self):
        epoch, device = self.epoch, self.dataset.X.device
        self._next_epoch = epoch + 1
        generator = None if self.seed is None else epoch_generator(
            self.seed, epoch, self.stream, device
        )

        def draw():
            index = self.reversed_sampler.epoch_indices(
                self.dataset.y, epoch=epoch, generator=generator
            )
            return torch.as_tensor(index, dtype=torch.long, device=device)

        stream, position = draw(), 0
        for X_c, target in self.loader:
            size = len(X_c)
            while position + size > len(stream):
                stream, position = torch.cat([stream[position:], draw()]), 0
            X_r, reversed_target = self.dataset.batch(stream[position:position + size])
            position += size
            yield (X_c, X_r), pair_target(target, reversed_target)

    def __len__(self):
        return len(self.loader)


def pair_target(target, reversed_target):
    """The :class:`Target` of a pair: ``target`` with ``reversed=reversed_target``."""
    target = as_target(target)
    return Target(target.y, target.sample_weight, **target.extras,
                  reversed=as_target(reversed_target))
