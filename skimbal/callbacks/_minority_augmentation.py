"""Stronger augmentation for rarer classes, as a batch transform of the training loop.

Over-sampling repeats the few samples of a minority class many times; augmenting
those repeats more strongly than the majority's makes them less identical (the
re-balancing-by-augmentation idea surveyed in seed 003). The strength of class
``j`` grows with its rarity and is 0 for the most frequent class.
"""

import copy
import numbers

import numpy as np
import torch
from sklearn.utils._param_validation import Interval
from skorch.callbacks import Callback

from .._core.batch import as_target
from .._core.data import TensorDataset
from .._core.random import epoch_generator
from .._core.schedule import current_epoch
from .._core.validation import validate_constraints

__all__ = ["MinorityAugmentation", "class_strengths"]


def class_strengths(class_counts, power=0.5):
    """Per-class augmentation strength in [0, 1], 0 for the largest class.

    .. math::

        s_j = \\frac{(n_{max} / n_j)^{p} - 1}{(n_{max} / n_{min})^{p} - 1}

    so the most frequent class gets 0, the rarest 1 and the classes between them
    a value that grows with ``n_max / n_j``. Classes absent from training get 0.
    All classes get 0 when the counts are balanced.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training counts.
    power : float, default=0.5
        Exponent ``p``; larger values concentrate the augmentation on the rarest
        classes.

    Returns
    -------
    strengths : ndarray of float32, shape (n_classes,)

    Examples
    --------
    >>> class_strengths([100, 25, 4]).round(3)
    array([0.  , 0.25, 1.  ], dtype=float32)
    """
    counts = np.asarray(class_counts, dtype=np.float64)
    present = counts > 0
    if not present.any():
        raise ValueError("class_counts must contain a positive count.")
    ratio = np.where(present, counts.max() / np.where(present, counts, 1.0), 1.0)
    top = ratio.max() ** power - 1
    if top <= 0:
        return np.zeros(len(counts), dtype=np.float32)
    return np.where(present, (ratio**power - 1) / top, 0.0).astype(np.float32)


class MinorityAugmentation(Callback):
    """Per-class augmentation of the training batches, stronger for rarer classes.

    A batch transform (``transform_batch``) for any skimbal estimator:
    ``CrossEntropyClassifier(sampler='class-balanced',
    callbacks=[MinorityAugmentation()])``. At the start of training it takes the
    training split's class counts (``net.class_counts_``) and computes each class's
    strength ``s_j`` (:func:`class_strengths`); every training batch is then
    transformed sample by sample according to its label, on the batch's device,
    with no Python loop over the samples:

    - ``image_augmentation``: for image batches (n, C, H, W), a module such as
      :class:`skimbal.nn.RandomCropFlip` applied to each sample with probability
      ``s_y``;
    - ``mixup``: with probability ``s_y * mixup`` a sample is mixed with another
      sample *of the same class* from the batch,
      ``x' = lam * x + (1 - lam) * x_partner``, ``lam ~ U(0.5, 1)``, so labels
      stay exact;
    - ``noise``: Gaussian noise with standard deviation ``s_y * noise * sigma_f``
      per feature ``f`` (``sigma_f`` the feature's standard deviation on the
      training split).

    The draws of the choice, mixup and noise come from the generator of
    ``(net.seed_, epoch, 'minority augmentation')``, so a resumed run augments as
    an uninterrupted one; ``image_augmentation`` draws from torch's generator,
    which the estimator seeds at every epoch.

    Parameters
    ----------
    noise : float >= 0, default=0.1
        Noise scale in units of each feature's standard deviation.
    mixup : float in [0, 1], default=0.5
        Probability of within-class mixup for the rarest class.
    power : float >= 0, default=0.5
        Exponent of :func:`class_strengths`.
    image_augmentation : torch.nn.Module or None, default=None
        Batch augmentation for images; a copy runs in training mode on the data's
        device.
    majority_untouched : bool, default=True
        The most frequent class keeps strength 0 (samples pass unchanged). With
        False every class gets at least strength ``1 / n_classes``.

    Attributes
    ----------
    strengths_ : torch.Tensor of shape (n_classes,)
        Per-class strengths, ``class_strengths(net.class_counts_, power)``.
    feature_std_ : torch.Tensor of shape X.shape[1:]
        Per-feature standard deviation of the training split.

    These are set during training only (from ``on_train_begin`` and the first
    epoch to ``on_train_end``): no training statistics outlive a fit, and a fit
    leaves the ``callbacks`` parameter as it was.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skimbal import CrossEntropyClassifier
    >>> from skimbal.callbacks import MinorityAugmentation
    >>> X, y = make_classification(n_samples=200, weights=[0.9, 0.1], random_state=0)
    >>> clf = CrossEntropyClassifier(callbacks=[MinorityAugmentation()], max_epochs=2,
    ...                              random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints = {
        "noise": [Interval(numbers.Real, 0, None, closed="left")],
        "mixup": [Interval(numbers.Real, 0, 1, closed="both")],
        "power": [Interval(numbers.Real, 0, None, closed="left")],
        "image_augmentation": [None, callable],
        "majority_untouched": ["boolean"],
    }

    def __init__(
        self, noise=0.1, mixup=0.5, power=0.5, image_augmentation=None, majority_untouched=True
    ):
        self.noise = noise
        self.mixup = mixup
        self.power = power
        self.image_augmentation = image_augmentation
        self.majority_untouched = majority_untouched

    def initialize(self):
        validate_constraints(self, self.get_params(deep=False))
        return self

    def on_train_begin(self, net, **kwargs):
        counts = np.asarray(net.class_counts_)
        if counts.ndim != 1:
            raise ValueError(
                "MinorityAugmentation needs single-label targets (one class count per "
                f"class); got class counts of shape {counts.shape}."
            )
        strengths = class_strengths(counts, self.power)
        if not self.majority_untouched:
            strengths = np.maximum(strengths, 1.0 / len(strengths))
        self.strengths_ = torch.as_tensor(strengths)
        self.feature_std_ = None

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        if not isinstance(dataset_train, TensorDataset):
            raise ValueError(
                "MinorityAugmentation needs skimbal's in-memory training data; got a "
                f"{type(dataset_train).__name__}."
            )
        X = dataset_train.X
        if self.feature_std_ is None:  # once per fit: statistics of the training split
            self.set_feature_std(X)
            if self.image_augmentation is not None:
                module = copy.deepcopy(self.image_augmentation)
                if isinstance(module, torch.nn.Module):
                    module = module.to(X.device).train()
                self.image_augmentation_ = module
        self.strengths_ = self.strengths_.to(X.device)
        epoch = current_epoch(net)
        self.generator_ = epoch_generator(net.seed_, epoch, "minority augmentation", X.device)

    def set_feature_std(self, X):
        """Set ``feature_std_`` to the per-feature standard deviation of the rows ``X``."""
        std = X.float().std(dim=0, unbiased=False) if len(X) > 1 else torch.zeros_like(X[0])
        self.feature_std_ = std.to(X.dtype) if X.is_floating_point() else std

    def transform_batch(self, net, X, target):
        """The batch with its rows augmented according to their labels."""
        return self.augment(X, as_target(target).y, self.generator_), target

    def augment(self, X, y, generator=None):
        """Augment one batch ``X`` with encoded labels ``y`` (see the class docstring).

        ``strengths_`` and ``feature_std_`` must be set (by a fit, or by hand);
        ``generator`` (on ``X.device``) is the source of the draws.
        """
        strength = self.strengths_[y]
        shape = (len(X),) + (1,) * (X.ndim - 1)
        device, out = X.device, X

        def uniform(dtype=torch.float32):
            return torch.rand(len(X), device=device, dtype=dtype, generator=generator)

        image_augmentation = getattr(self, "image_augmentation_", None)
        if image_augmentation is None:
            image_augmentation = self.image_augmentation
        if image_augmentation is not None and X.ndim == 4:
            apply = uniform() < strength
            out = torch.where(apply.view(shape), image_augmentation(out), out)
        if self.mixup > 0:
            partner = _same_class_partner(y, generator)
            mix = uniform() < strength * self.mixup
            lam = 0.5 + 0.5 * uniform(out.dtype)
            lam = torch.where(mix, lam, torch.ones_like(lam)).view(shape)
            out = lam * out + (1 - lam) * out[partner]
        if self.noise > 0:
            scale = (strength.to(out.dtype) * self.noise).view(shape)
            draw = torch.randn(out.shape, device=device, dtype=out.dtype, generator=generator)
            out = out + scale * self.feature_std_ * draw
        return out

    def on_train_end(self, net, **kwargs):
        # No statistics of the training data or device tensors outlive the fit.
        for name in [name for name in vars(self) if name.endswith("_")]:
            delattr(self, name)


def _same_class_partner(y, generator=None):
    """For every sample, the index of a random other sample of its class in the batch.

    Samples alone in their class are their own partner. Vectorised: sort by
    (class, random key) and pair each sample with the next one of its group,
    cyclically.
    """
    n = len(y)
    key = torch.rand(n, device=y.device, generator=generator).double()
    order = torch.argsort(y.to(torch.float64) * 2 + key)
    sorted_y = y[order]
    start = torch.searchsorted(sorted_y, sorted_y, right=False)
    end = torch.searchsorted(sorted_y, sorted_y, right=True)
    position = torch.arange(n, device=y.device)
    following = start + (position - start + 1) % (end - start)
    partner = torch.empty_like(order)
    partner[order] = order[following]
    return partner
