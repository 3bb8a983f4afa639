"""Bridge to imbalanced-learn: any of its samplers, redrawn every epoch inside training."""

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods

from ._base import BaseSampler

__all__ = ["ImbalancedLearnSampler"]

_SEED_HIGH = 2**31 - 1


class ImbalancedLearnSampler(BaseSampler):
    """Re-sample the training split with an imbalanced-learn sampler at every epoch.

    The PyTorch counterpart of imbalanced-learn's Keras ``BalancedBatchGenerator``:
    ``sampler`` (``RandomOverSampler``, ``RandomUnderSampler``, ``NearMiss``,
    ``SMOTE`` and its variants, ``ClusterCentroids``, ...) is applied with
    ``fit_resample`` to the *training split* of each ``fit``, once per epoch, and
    the epoch's batches are cut from its output in a random order. Samplers with a
    ``random_state`` parameter are re-seeded every epoch from the training
    generator, so every epoch sees a new draw (new duplicates, new synthetic
    points) and a fit with a fixed ``random_state`` is reproducible; deterministic
    samplers (``NearMiss``, ``TomekLinks``, ...) run once per fit and are only
    re-shuffled. The validation part of the estimator (``validation_fraction``)
    never reaches the sampler, so it holds no duplicated or synthetic sample.

    imbalanced-learn works on NumPy arrays on the CPU: the training split is copied
    to the CPU once per epoch (flattened to 2-d for samplers that need it) and the
    result moved back to the training device once. Samplers that only select rows
    (they expose ``sample_indices_``) index the device tensors directly, so their
    rows are bit-identical to the input.

    The estimator's loader calls :meth:`epoch_data` instead of ``epoch_indices``
    (see the Samplers contract in ``docs/design.rst``).

    Parameters
    ----------
    sampler : imbalanced-learn sampler
        Any object with ``fit_resample(X, y)`` following imbalanced-learn's API.
        It is cloned for every epoch; the parameter itself is never fitted.

    Notes
    -----
    **Sample weights.** With row-selecting samplers each drawn row keeps its
    ``sample_weight``. Samplers that synthesise rows (the SMOTE family,
    ``ClusterCentroids``, combined samplers) have no row to take a weight from, so
    ``fit(..., sample_weight=...)`` with them raises a ``ValueError`` rather than
    inventing weights.

    Examples
    --------
    >>> import numpy as np
    >>> from imblearn.over_sampling import SMOTE
    >>> from skimbal import CrossEntropyClassifier
    >>> from skimbal.sampling import ImbalancedLearnSampler
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(120, 2))
    >>> y = np.r_[np.zeros(100), np.ones(20)]
    >>> clf = CrossEntropyClassifier(
    ...     sampler=ImbalancedLearnSampler(SMOTE(k_neighbors=3)), max_epochs=3,
    ...     random_state=0,
    ... ).fit(X, y)
    >>> clf.predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints = {"sampler": [HasMethods(["fit_resample"])]}

    def __init__(self, sampler):
        self.sampler = sampler

    def _is_random(self):
        return "random_state" in self.sampler.get_params(deep=False)

    def epoch_data(self, X, y, sample_weight=None, *, epoch, generator=None):
        """Re-sampled training data of one epoch, in the order they are batched.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, ...)
            Features of the training split, on the training device.
        y : torch.Tensor of int, shape (n_samples,)
            Encoded labels of the training split.
        sample_weight : torch.Tensor of shape (n_samples,), default=None
            Per-sample weights of the training split.
        epoch : int
            Epoch number, starting at 0.
        generator : torch.Generator, default=None
            Source of randomness for the seed of ``sampler`` and the order of the
            rows; the global generator of ``y.device`` when None.

        Returns
        -------
        X, y, sample_weight : torch.Tensor
            The epoch's rows on the device of ``X`` (``sample_weight`` is None when
            none was given).
        """
        self._validate_params()
        if y.ndim != 1:
            raise ValueError(
                "ImbalancedLearnSampler needs one label per sample (a 1-d target); got a "
                f"target of shape {tuple(y.shape)}."
            )
        device = X.device
        seed_device = generator.device if generator is not None else y.device
        seed = int(torch.randint(_SEED_HIGH, (1,), device=seed_device, generator=generator).item())
        # A deterministic sampler gives the same rows every epoch: run it once per
        # training split and only re-shuffle.
        key = (X.data_ptr(), tuple(X.shape), y.data_ptr(), sample_weight is None)
        cached = getattr(self, "_deterministic_result", None)
        if cached is not None and cached[0] == key:
            result = cached[1]
        else:
            result = self._resample(X, y, sample_weight, seed)
            if not self._is_random():
                self._deterministic_result = (key, result)
        X_epoch, y_epoch, weight_epoch = result
        order = torch.randperm(len(y_epoch), device=seed_device, generator=generator).to(device)
        return (
            X_epoch.index_select(0, order),
            y_epoch.index_select(0, order),
            None if weight_epoch is None else weight_epoch.index_select(0, order),
        )

    def _resample(self, X, y, sample_weight, seed):
        sampler = clone(self.sampler)
        if self._is_random():
            sampler.set_params(random_state=seed)
        X_numpy = X.detach().cpu().numpy().reshape(len(X), -1)
        y_numpy = y.detach().cpu().numpy()
        try:
            X_resampled, y_resampled = sampler.fit_resample(X_numpy, y_numpy)
        except ValueError as error:
            counts = np.bincount(y_numpy).tolist()
            raise ValueError(
                f"{type(sampler).__name__} failed on the training split, whose class counts "
                f"(encoded classes 0..{len(counts) - 1}) are {counts}: {error} A class with "
                "fewer samples than a neighbour-based sampler needs (SMOTE: k_neighbors + 1) "
                "is the usual cause; lower k_neighbors or hold out less for validation."
            ) from error
        indices = getattr(sampler, "sample_indices_", None)
        if indices is not None:
            index = torch.as_tensor(np.asarray(indices), dtype=torch.long, device=X.device)
            return (
                X.index_select(0, index),
                y.index_select(0, index),
                None if sample_weight is None else sample_weight.index_select(0, index),
            )
        if sample_weight is not None:
            raise ValueError(
                f"{type(sampler).__name__} creates synthetic samples, which have no "
                "sample_weight; fit without sample_weight or use a sampler that selects "
                "rows (RandomOverSampler, RandomUnderSampler, NearMiss, ...)."
            )
        X_resampled = np.asarray(X_resampled).reshape((len(X_resampled),) + tuple(X.shape[1:]))
        return (
            torch.as_tensor(X_resampled, dtype=X.dtype, device=X.device),
            torch.as_tensor(np.asarray(y_resampled), dtype=y.dtype, device=y.device),
            None,
        )
