"""In-memory datasets and the batch loader of the fast training path.

skorch's default path wraps arrays in a ``torch.utils.data.Dataset`` and lets a
``DataLoader`` call ``__getitem__`` once per sample and collate the results. For
data that fit in memory this is the bottleneck of small models. Here the whole
training split lives in tensors on the training device and every batch is one
``index_select`` on those tensors.
"""

import torch

__all__ = ["TensorDataset", "TensorBatchLoader", "shard_indices"]


class TensorDataset(torch.utils.data.Dataset):
    """Features, encoded targets and optional sample weights held as tensors.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, ...)
        Features, already on the training device.
    y : torch.Tensor of shape (n_samples,) or (n_samples, n_outputs), default=None
        Encoded targets on the same device.
    sample_weight : torch.Tensor of shape (n_samples,), default=None
        Per-sample weights on the same device.

    Notes
    -----
    ``__getitem__`` exists so that the dataset still works with a plain
    ``DataLoader``; :class:`TensorBatchLoader` never calls it.
    """

    def __init__(self, X, y=None, sample_weight=None):
        self.X = X
        self.y = y
        self.sample_weight = sample_weight

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self._target(i)

    def _target(self, index):
        if self.y is None:
            return torch.zeros(0)
        if self.sample_weight is None:
            return self.y[index]
        return {"y": self.y[index], "sample_weight": self.sample_weight[index]}

    def subset(self, index):
        """Return the dataset restricted to ``index`` (a tensor or array of rows)."""
        index = torch.as_tensor(index, dtype=torch.long, device=self.X.device)
        return TensorDataset(
            self.X.index_select(0, index),
            None if self.y is None else self.y.index_select(0, index),
            None if self.sample_weight is None else self.sample_weight.index_select(0, index),
        )

    def batch(self, index):
        """Return ``(X[index], target[index])`` as one gathered batch."""
        return self.X.index_select(0, index), self._target(index)


class TensorBatchLoader:
    """Iterate over a :class:`TensorDataset` in mini-batches without per-sample work.

    A drop-in replacement for ``torch.utils.data.DataLoader`` as skorch's
    ``iterator_train`` and ``iterator_valid``. Each epoch draws one permutation
    (or the indices of ``sampler``) on the data's device and slices batches from it.

    Parameters
    ----------
    dataset : TensorDataset
        The data. Any other dataset is served by a regular ``DataLoader``.
    batch_size : int, default=128
        Samples per batch.
    shuffle : bool, default=False
        Draw a new random order every epoch.
    sampler : object, default=None
        An index sampler with a method
        ``epoch_indices(y, *, epoch, generator)`` returning a ``LongTensor`` of row
        indices for one epoch (with repetition allowed). It replaces ``shuffle``.
        The loader counts epochs itself, starting at 0. A sampler that also
        creates rows (SMOTE through :class:`skimbal.sampling.ImbalancedLearnSampler`)
        has instead a method ``epoch_data(X, y, sample_weight, *, epoch, generator)``
        returning the epoch's ``(X, y, sample_weight)`` in batch order; the loader
        calls it, when present, in place of ``epoch_indices``.
    drop_last : bool, default=False
        Drop the last incomplete batch.
    generator : torch.Generator, default=None
        Source of randomness for shuffling and sampling; the global generator of
        the data's device when None.

    Notes
    -----
    Under distributed data parallel training (a ``torch.distributed`` process
    group, as skorch's ``AccelerateMixin`` sets up with ``accelerate launch``),
    the training order or sampler draw of rank 0 is broadcast and every process
    trains on its own disjoint shard (:func:`shard_indices`), so class-aware
    samplers stay class-aware across processes. Prediction batches are never
    sharded.
    """

    def __init__(
        self, dataset, batch_size=128, shuffle=False, sampler=None, drop_last=False, generator=None
    ):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.sampler = sampler
        self.drop_last = drop_last
        self.generator = generator
        self.epoch = 0

    def __new__(cls, dataset, *args, **kwargs):
        if not isinstance(dataset, TensorDataset):
            # Foreign datasets (for example a user's image Dataset) keep skorch's path.
            kwargs.pop("generator", None)
            return torch.utils.data.DataLoader(dataset, *args, **kwargs)
        return super().__new__(cls)

    def _epoch_dataset(self):
        """The dataset of this epoch: the data, or the rows ``epoch_data`` returns."""
        if self.sampler is None or not hasattr(self.sampler, "epoch_data"):
            return self.dataset
        X, y, sample_weight = self.sampler.epoch_data(
            self.dataset.X, self.dataset.y, self.dataset.sample_weight,
            epoch=self.epoch, generator=self.generator,
        )
        return TensorDataset(X, y, sample_weight)

    def _epoch_indices(self):
        n = len(self.dataset)
        device = self.dataset.X.device
        if self.sampler is not None and hasattr(self.sampler, "epoch_data"):
            if _world_size() > 1:
                raise ValueError(
                    "Samplers that create rows (epoch_data) are not supported under "
                    "distributed training; use an index sampler."
                )
            return None
        if self.sampler is not None:
            index = self.sampler.epoch_indices(
                self.dataset.y, epoch=self.epoch, generator=self.generator
            )
            return _rank_shard(torch.as_tensor(index, dtype=torch.long, device=device))
        if self.shuffle:
            return _rank_shard(torch.randperm(n, device=device, generator=self.generator))
        return None

    def __iter__(self):
        dataset = self._epoch_dataset()
        index = self._epoch_indices()
        self.epoch += 1
        n = len(dataset) if index is None else len(index)
        stop = n - n % self.batch_size if self.drop_last else n
        X, y = dataset.X, dataset.y
        plain = index is None and dataset.sample_weight is None
        for start in range(0, stop, self.batch_size):
            end = min(start + self.batch_size, n)
            if plain:
                # Contiguous rows: a view, no copy at all.
                yield X[start:end], (y[start:end] if y is not None else torch.zeros(0))
            elif index is None:
                yield dataset.batch(
                    torch.arange(start, end, device=X.device)
                )
            else:
                yield dataset.batch(index[start:end])

    def __len__(self):
        n = len(self.dataset)
        if self.shuffle or self.sampler is not None:
            n = -(-n // _world_size())  # this process's shard under distributed training
        if self.drop_last:
            return n // self.batch_size
        return (n + self.batch_size - 1) // self.batch_size


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
    process ``rank`` takes every ``world_size``-th one starting at ``rank``, so
    the shards are disjoint, equally long and together cover the epoch.

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
    """Under distributed training, every process takes its shard of rank 0's draw.

    Rank 0's indices are broadcast so that all processes split the same epoch,
    whatever their random state; without a process group the indices are
    returned unchanged.
    """
    world_size = _world_size()
    if world_size == 1:
        return index
    distributed = torch.distributed
    index = index.contiguous()
    distributed.broadcast(index, src=0)
    return shard_indices(index, distributed.get_rank(), world_size)
