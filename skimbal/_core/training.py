"""skorch's training hooks, filled in for the in-memory data path.

:class:`TrainingHooksMixin` overrides only skorch's public extension points
(``get_dataset``, ``get_split_datasets``, ``get_iterator``, ``infer``,
``train_step_single``, ``get_loss`` and the net's own ``on_*`` callbacks); the
training loop itself is skorch's.
"""

from typing import NamedTuple

import numpy as np
import torch
from skorch.dataset import unpack_data
from skorch.utils import is_dataset, to_device

from . import components
from .batch import as_model_output, as_target
from .data import TensorBatchLoader, TensorDataset
from .inputs import is_skorch_input, skorch_dataset
from .random import epoch_seed, reseed_torch
from .reduction import sample_weighted_loss

__all__ = ["FitCall", "TrainingHooksMixin"]


class FitCall(NamedTuple):
    """What one call of ``fit``/``partial_fit`` hands to skorch's loop besides X and y."""

    sample_weight: np.ndarray
    train_index: np.ndarray
    valid_index: np.ndarray
    fresh: bool


class TrainingHooksMixin:
    """The data path, batch transforms, loss reduction and divergence checks of a fit."""

    # Set by ``fit`` for the duration of skorch's loop (see FitCall).
    _fit_call = None

    def _device(self):
        accelerator = getattr(self, "accelerator", None)
        if self.device is None and accelerator is not None:
            return accelerator.device  # skorch's AccelerateMixin places modules and data
        return components.resolve_device(self.device)

    # ------------------------------------------------------------------ data
    def get_dataset(self, X, y=None):
        """A :class:`TensorDataset` on the device for arrays; datasets as they are.

        A ``dataset`` other than the default (or ``dataset__*`` arguments) is built
        the skorch way, ``dataset(X, y, **dataset__kwargs)``.
        """
        if is_dataset(X):
            return X
        if is_skorch_input(X) and self.dataset is TensorDataset:
            return skorch_dataset(X, y)
        if self.dataset is not TensorDataset or self.get_params_for("dataset"):
            return super().get_dataset(X, y)
        device = self._device()
        X = torch.as_tensor(X, device=device)
        y = None if y is None else torch.as_tensor(np.asarray(y), device=device)
        return TensorDataset(X, y)

    def get_split_datasets(self, X, y=None, **fit_params):
        """The training and validation parts chosen by ``fit`` (validation None without one)."""
        dataset = self.get_dataset(X, y)
        call = self._fit_call
        if call is None:
            return dataset, None
        if call.sample_weight is not None:
            if not isinstance(dataset, TensorDataset):
                raise ValueError(
                    f"sample_weight needs skimbal's in-memory dataset; the dataset is a "
                    f"{type(dataset).__name__}."
                )
            dataset.sample_weight = torch.as_tensor(call.sample_weight, device=dataset.X.device)
        if call.valid_index is None:
            return dataset, None
        return _subset(dataset, call.train_index), _subset(dataset, call.valid_index)

    def get_iterator(self, dataset, training=False):
        """The batch iterator; the training one uses ``sampler_`` or shuffles.

        skimbal's loader also gets the seed of the fit and the number of epochs
        already in the history, so that an epoch's order depends only on
        ``(random_state, epoch)``.
        """
        prefix = "iterator_train" if training else "iterator_valid"
        iterator = getattr(self, prefix)
        kwargs = self.get_params_for(prefix)
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        if training and isinstance(iterator, type) and issubclass(iterator, TensorBatchLoader):
            kwargs.setdefault("seed", getattr(self, "seed_", None))
            kwargs.setdefault("start_epoch", len(self.history))
            kwargs.setdefault("fold_single_row", True)
            if "sampler" not in kwargs and getattr(self, "sampler_", None) is not None:
                kwargs["sampler"] = self.sampler_
            if kwargs.get("sampler") is None:
                kwargs.setdefault("shuffle", True)
        return iterator(dataset, **kwargs)

    def forward_iter(self, X, training=False, device="cpu"):
        """skorch's forward pass, batch by batch, in the row order of ``X``.

        ``training=True`` puts the module in training mode (dropout on) but still
        takes the prediction batches: the training iterator shuffles and re-samples,
        so its outputs would not line up with the rows of ``X``.
        """
        dataset = self.get_dataset(X)
        for batch in self.get_iterator(dataset, training=False):
            yield to_device(self.evaluation_step(batch, training=training), device=device)

    # ------------------------------------------------------------------ step
    def infer(self, x, **fit_params):
        """Forward one batch (a tensor on the device in the fast path)."""
        if isinstance(x, torch.Tensor):
            return self.module_(x, **fit_params)
        with components.resolved_device(self):
            return super().infer(x, **fit_params)

    def train_step_single(self, batch, **fit_params):
        """skorch's step, on the batch transformed by the batch-transform callbacks.

        A callback with a method ``transform_batch(net, X, target) -> (X, target)``
        (:class:`skimbal.callbacks.MinorityAugmentation`,
        :class:`skimbal.callbacks.MetaReweighting`) sees every training batch first.
        """
        X, target = unpack_data(batch)
        for _, callback in self.callbacks_:
            # A method of the callback's class (a mock object has every attribute).
            if callable(getattr(type(callback), "transform_batch", None)):
                X, target = callback.transform_batch(self, X, target)
        return super().train_step_single((X, target), **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The criterion on the logits, reduced with class and sample weights."""
        logits = as_model_output(y_pred).logits
        target = as_target(y_true)
        y = target.y.to(logits.device) if isinstance(target.y, torch.Tensor) else target.y
        if isinstance(self.criterion_, torch.nn.NLLLoss):
            # skorch's rule: with NLLLoss the module outputs probabilities.
            logits = torch.log(logits + torch.finfo(logits.dtype).eps)
        if target.sample_weight is None:
            return self.criterion_(logits, y)
        return sample_weighted_loss(self.criterion_, logits, y, target.sample_weight)

    # ------------------------------------------------------------- callbacks
    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Refuse callbacks that monitor a validation score when there is none."""
        super().on_train_begin(net, X=X, y=y, **kwargs)
        if self._fit_call is None or self._fit_call.valid_index is not None:
            return
        for name, callback in self.callbacks_:
            monitor = getattr(callback, "monitor", None)
            if isinstance(monitor, str) and monitor.startswith("valid_"):
                raise ValueError(
                    f"The callback {name!r} monitors {monitor!r}, but this fit has no "
                    "validation part. Set validation_fraction (e.g. 0.1) to hold one out, or "
                    f"monitor the training loss: {type(callback).__name__}(monitor="
                    f"{'train_loss_best' if monitor.endswith('_best') else 'train_loss'!r})."
                )

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Start the epoch's history row; seed torch's generator for this epoch."""
        super().on_epoch_begin(net, dataset_train=dataset_train, dataset_valid=dataset_valid,
                               **kwargs)
        if self._fit_call is not None:
            # Dropout and other draws inside the module: the same in a resumed run.
            reseed_torch(epoch_seed(self.seed_, len(self.history) - 1, "torch"))

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        """Stop at the first training batch whose loss is not finite."""
        super().on_batch_end(net, batch=batch, training=training, **kwargs)
        if training:
            batches = self.history[-1]["batches"]
            loss = batches[-1].get("train_loss")
            if isinstance(loss, float):
                components.check_finite_loss(loss, len(self.history) - 1, len(batches) - 1)

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Stop when the epoch's loss or the module's parameters are not finite."""
        super().on_epoch_end(net, dataset_train=dataset_train, dataset_valid=dataset_valid,
                             **kwargs)
        epoch = len(self.history) - 1
        for part in ("train", "valid"):
            losses = [row[f"{part}_loss"] for row in self.history[-1]["batches"]
                      if f"{part}_loss" in row]
            for batch, loss in enumerate(losses):
                name = "training" if part == "train" else "validation"
                components.check_finite_loss(float(loss), epoch, batch, name)
        components.check_finite_parameters(self.module_, epoch)


def _subset(dataset, index):
    if isinstance(dataset, TensorDataset):
        return dataset.subset(index)
    return torch.utils.data.Subset(dataset, np.asarray(index))
