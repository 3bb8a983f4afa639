"""The in-memory data path: datasets of tensors and the batch loader.

skorch's default path wraps arrays in a ``torch.utils.data.Dataset`` and lets a
``DataLoader`` call ``__getitem__`` once per sample and collate the results. For
data that fit in memory that is the bottleneck of small models. Here the whole
training split lives in tensors on the training device and every batch is one
``index_select`` on them.
"""

import torch

from .batch import Target
from .random import epoch_generator

__all__ = ["TensorBatchLoader", "TensorDataset", "shard_indices"]

# DataLoader arguments that the in-memory loader honours as they are (their
# DataLoader defaults mean "no extra work"); any other DataLoader argument makes
# the loader hand the dataset to a real DataLoader.
_NO_OP_LOADER_ARGS = {"num_workers": 0, "pin_memory": False, "timeout": 0}


class TensorDataset(torch.utils.data.Dataset):
    """Features, encoded targets, sample weights and per-row extras held as tensors.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, ...)
        Features, on the training device.
    y : torch.Tensor of shape (n_samples,) or (n_samples, n_outputs), default=None
        Encoded targets on the same device.
    sample_weight : torch.Tensor of shape (n_samples,), default=None
        Per-sample weights on the same device.
    **extras : torch.Tensor of shape (n_samples, ...)
        Per-row tensors a method adds to every batch's :class:`Target` (LMLE's
        cluster ids, say); ``extras`` may also be filled in after construction.

    Notes
    -----
    ``__getitem__`` and :meth:`collate` exist so that the dataset also works with a
    plain ``DataLoader``; :class:`TensorBatchLoader` never calls them.
    """

    def __init__(self, X, y=None, sample_weight=None, **extras):
        self.X = X
        self.y = y
        self.sample_weight = sample_weight
        self.extras = extras

    def __len__(self):
        return len(self.X)

    def target(self, index):
        """The batch target of rows ``index``: labels, or a :class:`Target` with more."""
        if self.y is None:
            return torch.zeros(0)
        if self.sample_weight is None and not self.extras:
            return self.y[index]
        extras = {name: value[index] for name, value in self.extras.items()}
        weight = None if self.sample_weight is None else self.sample_weight[index]
        return Target(self.y[index], weight, **extras)

    def batch(self, index):
        """``(X[index], target[index])`` as one gathered batch."""
        return self.X.index_select(0, index), self.target(index)

    def __getitem__(self, i):
        return self.X[i], self.target(i)

    @staticmethod
    def collate(samples):
        """Stack ``__getitem__`` results into one batch (the ``collate_fn`` of a DataLoader)."""
        X = torch.stack([x for x, _ in samples])
        targets = [t for _, t in samples]
        if not isinstance(targets[0], Target):
            return X, torch.stack(targets)
        extras = {
            name: torch.stack([t.extras[name] for t in targets]) for name in targets[0].extras
        }
        weight = None
        if targets[0].sample_weight is not None:
            weight = torch.stack([t.sample_weight for t in targets])
        return X, Target(torch.stack([t.y for t in targets]), weight, **extras)

    def subset(self, index):
        """The dataset restricted to rows ``index``."""
        index = torch.as_tensor(index, dtype=torch.long, device=self.X.device)

        def take(value):
            return None if value is None else value.index_select(0, index)

        extras = {name: take(value) for name, value in self.extras.items()}
        return TensorDataset(take(self.X), take(self.y), take(self.sample_weight), **extras)


class TensorBatchLoader:
    """Mini-batches of a :class:`TensorDataset` without per-sample work.

    A drop-in replacement for ``torch.utils.data.DataLoader`` as skorch's
    ``iterator_train`` and ``iterator_valid``. Each epoch draws one permutation (or
    the rows of ``sampler``) on the data's device and slices batches from it.

    Parameters
    ----------
    dataset : TensorDataset
        The data. Any other dataset is served by a regular ``DataLoader``.
    batch_size : int, default=128
        Rows per batch.
    shuffle : bool, default=False
        Draw a new random order every epoch.
    sampler : object, default=None
        A skimbal sampler (:mod:`skimbal.sampling`): ``epoch_indices(y, *, epoch,
        generator)`` returns the row indices of one epoch, or ``epoch_data(X, y,
        sample_weight, *, epoch, generator)`` its rows. It replaces ``shuffle``. A
        ``torch.utils.data.Sampler`` is honoured too, through a ``DataLoader``.
    drop_last : bool, default=False
        Drop the last incomplete batch.
    fold_single_row : bool, default=False
        Fold a last batch of a single row into the batch before it (a batch of one
        row breaks batch normalisation in training); skimbal's training loaders
        set it.
    seed : int or None, default=None
        Seed of the fit; epoch ``e`` draws from a generator seeded by ``(seed, e)``
        (:func:`skimbal._core.random.epoch_generator`), so an epoch's order does not
        depend on how the run got there. None uses torch's global generator.
    start_epoch : int, default=0
        Number of the first epoch this loader serves (the epochs already in the
        net's history); it counts up by one per pass.
    **loader_kwargs
        Other ``DataLoader`` arguments. ``num_workers=0``, ``pin_memory=False`` and
        ``timeout=0`` are what the in-memory loader does anyway; any other value
        hands the dataset to a ``DataLoader`` with those arguments.

    Notes
    -----
    Under distributed data parallel training (a ``torch.distributed`` process
    group, as skorch's ``AccelerateMixin`` sets up with ``accelerate launch``) the
    order or sampler draw of rank 0 is broadcast and every process trains on its
    own disjoint shard (:func:`shard_indices`). Prediction batches are never sharded.
    """

    def __new__(cls, dataset, *args, **kwargs):
        if _needs_data_loader(dataset, kwargs):
            return _data_loader(dataset, *args, **kwargs)
        return super().__new__(cls)

    def __init__(
        self, dataset, batch_size=128, shuffle=False, sampler=None, drop_last=False,
        fold_single_row=False, seed=None, start_epoch=0, **loader_kwargs,
    ):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.sampler = sampler
        self.drop_last = drop_last
        self.fold_single_row = fold_single_row
        self.seed = seed
        self.epoch = start_epoch
        self._plan = None

    def _generator(self):
        if self.seed is None:
            return None
        return epoch_generator(self.seed, self.epoch, "batches", self.dataset.X.device)

    def _draw_epoch(self):
        """``(dataset, row order or None)`` of the coming epoch."""
        generator = self._generator()
        dataset, sampler = self.dataset, self.sampler
        if sampler is not None and hasattr(sampler, "epoch_data"):
            if _world_size() > 1:
                raise ValueError(
                    "Samplers that create rows (epoch_data) are not supported under "
                    "distributed training; use an index sampler."
                )
            X, y, weight = sampler.epoch_data(
                dataset.X, dataset.y, dataset.sample_weight, epoch=self.epoch,
                generator=generator,
            )
            return TensorDataset(X, y, weight), None
        device = dataset.X.device
        if sampler is not None:
            index = sampler.epoch_indices(dataset.y, epoch=self.epoch, generator=generator)
            return dataset, _rank_shard(torch.as_tensor(index, dtype=torch.long, device=device))
        if self.shuffle:
            index = torch.randperm(len(dataset), device=device, generator=generator)
            return dataset, _rank_shard(index)
        return dataset, None

    def _bounds(self, n):
        """``(start, end)`` of every batch of an epoch of ``n`` rows."""
        size = self.batch_size
        stop = n - n % size if self.drop_last else n
        bounds = [(start, min(start + size, stop)) for start in range(0, stop, size)]
        if self.fold_single_row and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
            bounds[-2:] = [(bounds[-2][0], bounds[-1][1])]
        return bounds

    def __iter__(self):
        dataset, index = self._plan or self._draw_epoch()
        self._plan = None
        self.epoch += 1
        n = len(dataset) if index is None else len(index)
        plain = index is None and dataset.sample_weight is None and not dataset.extras
        for start, end in self._bounds(n):
            if plain:
                # Contiguous rows: views, no copy at all.
                y = dataset.y[start:end] if dataset.y is not None else torch.zeros(0)
                yield dataset.X[start:end], y
            elif index is None:
                yield dataset.batch(torch.arange(start, end, device=dataset.X.device))
            else:
                yield dataset.batch(index[start:end])

    def __len__(self):
        if self._plan is None:
            # The coming epoch is drawn now (and served by the next pass), so its
            # length is exact whatever the sampler does to the epoch size.
            self._plan = self._draw_epoch()
        dataset, index = self._plan
        return len(self._bounds(len(dataset) if index is None else len(index)))


def _needs_data_loader(dataset, kwargs):
    if not isinstance(dataset, TensorDataset):
        return True
    sampler = kwargs.get("sampler")
    if sampler is not None and not (
        hasattr(sampler, "epoch_indices") or hasattr(sampler, "epoch_data")
    ):
        return True
    skimbal_args = {"batch_size", "shuffle", "sampler", "drop_last", "fold_single_row", "seed",
                    "start_epoch"}
    return any(
        _NO_OP_LOADER_ARGS.get(name, object()) != value
        for name, value in kwargs.items() if name not in skimbal_args
    )


def _data_loader(dataset, *args, **kwargs):
    """A ``torch.utils.data.DataLoader`` for what the in-memory loader does not serve."""
    for name in ("fold_single_row", "seed", "start_epoch"):
        kwargs.pop(name, None)
    if isinstance(dataset, TensorDataset):
        kwargs.setdefault("collate_fn", TensorDataset.collate)
    if kwargs.get("sampler") is not None:
        # A torch sampler decides the order itself; DataLoader refuses both.
        kwargs.pop("shuffle", None)
    return torch.utils.data.DataLoader(dataset, *args, **kwargs)


def _world_size():
    """Number of processes of the default distributed group (1 without one)."""
    distributed = torch.distributed
    if distributed.is_available() and distributed.is_initialized():
        return distributed.get_world_size()
    return 1


def shard_indices(index, rank, world_size):
    """The part of an epoch's row indices that process ``rank`` trains on.

    The indices are padded by repeating their beginning to a multiple of
    ``world_size`` (as :class:`torch.utils.data.DistributedSampler` does), then
    process ``rank`` takes every ``world_size``-th one starting at ``rank``, so the
    shards are disjoint, equally long and together cover the epoch.

    Parameters
    ----------
    index : torch.LongTensor of shape (n,)
        Row indices of one epoch, identical on every process.
    rank, world_size : int
        This process and the number of processes.

    Returns
    -------
    shard : torch.LongTensor of shape (ceil(n / world_size),)
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}), got {rank}.")
    padding = (-len(index)) % world_size
    if padding:
        index = torch.cat([index, index[:padding]])
    return index[rank::world_size]


def _rank_shard(index):
    """Under distributed training every process takes its shard of rank 0's draw."""
    world_size = _world_size()
    if world_size == 1:
        return index
    distributed = torch.distributed
    index = index.contiguous()
    distributed.broadcast(index, src=0)
    return shard_indices(index, distributed.get_rank(), world_size)
