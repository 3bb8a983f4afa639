"""Stronger augmentation for rarer classes.

Over-sampling repeats the few samples of a minority class many times; augmenting
those repeats more strongly than the majority's makes them less identical (the
re-balancing-by-augmentation idea surveyed in seed 003). The strength of class
``j`` grows with its rarity and is 0 for the most frequent class.
"""

import numbers

import numpy as np
import torch

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


class MinorityAugmentation:
    """Per-class augmentation on the device, stronger for rarer classes.

    Pass it as the ``augmentation`` parameter of any skimbal estimator. At fit
    time it takes the training split's class counts and computes each class's
    strength ``s_j`` (:func:`class_strengths`); every training batch is then
    transformed sample by sample according to its label, on the batch's device:

    - ``noise``: Gaussian noise with standard deviation
      ``s_y * noise * sigma_f`` per feature ``f`` (``sigma_f`` the feature's
      standard deviation on the training split);
    - ``mixup``: with probability ``s_y * mixup`` a sample is mixed with another
      sample *of the same class* from the batch,
      ``x' = lam * x + (1 - lam) * x_partner``, ``lam ~ U(0.5, 1)``, so labels
      stay exact;
    - ``image_augmentation``: for image batches (n, C, H, W), a module such as
      :class:`skimbal.nn.RandomCropFlip` applied to each sample with probability
      ``s_y``.

    Parameters
    ----------
    noise : float, default=0.1
        Noise scale in units of each feature's standard deviation.
    mixup : float, default=0.5
        Probability of within-class mixup for the rarest class.
    power : float, default=0.5
        Exponent of :func:`class_strengths`.
    image_augmentation : torch.nn.Module or None, default=None
        Batch augmentation for images (applied in training mode).
    majority_untouched : bool, default=True
        The most frequent class keeps strength 0 (samples pass unchanged). With
        False every class gets at least strength ``1 / n_classes``.

    Attributes
    ----------
    strengths_ : torch.Tensor of shape (n_classes,)
        Per-class strengths on the training device.
    feature_std_ : torch.Tensor
        Per-feature standard deviation of the training split.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skimbal import CrossEntropyClassifier, MinorityAugmentation
    >>> X, y = make_classification(n_samples=200, weights=[0.9, 0.1], random_state=0)
    >>> clf = CrossEntropyClassifier(augmentation=MinorityAugmentation(), max_epochs=2,
    ...                              random_state=0).fit(X, y)
    >>> clf.augmentation_.strengths_.tolist()
    [0.0, 1.0]
    """

    def __init__(
        self, noise=0.1, mixup=0.5, power=0.5, image_augmentation=None, majority_untouched=True
    ):
        self.noise = noise
        self.mixup = mixup
        self.power = power
        self.image_augmentation = image_augmentation
        self.majority_untouched = majority_untouched

    def setup(self, dataset_train, class_counts):
        """Compute the strengths and feature scales from the training split."""
        for name in ("noise", "mixup", "power"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or value < 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}.")
        if self.mixup > 1:
            raise ValueError(f"mixup is a probability, got {self.mixup!r}.")
        strengths = class_strengths(class_counts, self.power)
        if not self.majority_untouched:
            strengths = np.maximum(strengths, 1.0 / len(strengths))
        X = dataset_train.X
        self.strengths_ = torch.as_tensor(strengths, device=X.device)
        std = X.float().std(dim=0, unbiased=False) if len(X) > 1 else torch.zeros_like(X[0])
        self.feature_std_ = std.to(X.dtype) if X.is_floating_point() else std
        if self.image_augmentation is not None:
            self.image_augmentation = self.image_augmentation.to(X.device).train()
        return self

    def __call__(self, X, y):
        """Augment one batch ``X`` with encoded labels ``y``."""
        strength = self.strengths_[y]
        if not bool((strength > 0).any()):
            return X
        shape = (len(X),) + (1,) * (X.ndim - 1)
        out = X
        if self.image_augmentation is not None and X.ndim == 4:
            apply = torch.rand(len(X), device=X.device) < strength
            out = torch.where(apply.view(shape), self.image_augmentation(out), out)
        if self.mixup > 0:
            partner = _same_class_partner(y)
            mix = torch.rand(len(X), device=X.device) < strength * self.mixup
            lam = 0.5 + 0.5 * torch.rand(len(X), device=X.device, dtype=out.dtype)
            lam = torch.where(mix, lam, torch.ones_like(lam)).view(shape)
            out = lam * out + (1 - lam) * out[partner]
        if self.noise > 0:
            scale = (strength.to(out.dtype) * self.noise).view(shape)
            out = out + scale * self.feature_std_ * torch.randn_like(out)
        return out


def _same_class_partner(y):
    """For every sample, the index of a random other sample of its class in the batch.

    Samples alone in their class are their own partner. Vectorised: sort by
    (class, random key) and pair each sample with the next one of its group,
    cyclically.
    """
    n = len(y)
    key = torch.rand(n, device=y.device, dtype=torch.float64)
    order = torch.argsort(y.to(torch.float64) * 2 + key)
    sorted_y = y[order]
    start = torch.searchsorted(sorted_y, sorted_y, right=False)
    end = torch.searchsorted(sorted_y, sorted_y, right=True)
    position = torch.arange(n, device=y.device)
    following = start + (position - start + 1) % (end - start)
    partner = torch.empty_like(order)
    partner[order] = order[following]
    return partner
