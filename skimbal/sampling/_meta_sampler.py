"""A class sampler whose class distribution is meta-learned (Balanced Meta-Softmax)."""

import numbers

import torch
from sklearn.utils._param_validation import Interval

from ._base import BaseSampler
from ._class_aware import _draw_class_aware, _uniform_rows_of_classes

__all__ = ["MetaClassSampler"]


class MetaClassSampler(BaseSampler):
    """Sample classes from a learned distribution ``softmax(logits_)``.

    The sampler of Balanced Meta-Softmax (Ren et al., NeurIPS 2020, Sec. 3.3):
    the class sampling distribution ``pi = softmax(phi)`` is a parameter trained
    by :class:`skimbal.callbacks.MetaSamplerUpdate`. Every epoch draws its rows
    with the current ``pi`` (a class, then a uniform row of that class); between
    epochs the callback moves ``phi``.

    Parameters
    ----------
    init_q : float, default=1.0
        ``phi`` starts at ``init_q * log(n_j)``: 1 starts instance-balanced (the
        distribution balanced softmax is designed for), 0 class-balanced.
    n_samples : int or None, default=None
        Rows per epoch; None gives the size of the training split.

    Attributes
    ----------
    logits_ : torch.Tensor of shape (n_classes,)
        The learned class logits ``phi`` (requires grad), set at the first epoch.
    class_counts_ : torch.LongTensor of shape (n_classes,)
        Training counts.

    Examples
    --------
    >>> import torch
    >>> from skimbal.sampling import MetaClassSampler
    >>> y = torch.tensor([0] * 90 + [1] * 10)
    >>> sampler = MetaClassSampler(init_q=0.0)
    >>> index = sampler.epoch_indices(y, epoch=0, generator=torch.Generator().manual_seed(0))
    >>> index.shape, sampler.class_probabilities().tolist()
    (torch.Size([100]), [0.5, 0.5])
    """

    _parameter_constraints = {
        "init_q": [numbers.Real],
        "n_samples": [None, Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, init_q=1.0, n_samples=None):
        self.init_q = init_q
        self.n_samples = n_samples

    def _setup(self, y):
        counts = torch.bincount(y, minlength=int(y.max()) + 1)
        self.class_counts_ = counts
        present = counts > 0
        log_counts = torch.where(present, counts.clamp_min(1).double().log(), -torch.inf)
        logits = torch.where(present, float(self.init_q) * log_counts, -torch.inf)
        self.logits_ = logits.float().to(y.device).requires_grad_(True)

    def class_probabilities(self):
        """The current sampling distribution ``softmax(logits_)`` (detached)."""
        return torch.softmax(self.logits_.detach(), dim=0)

    def epoch_indices(self, y, *, epoch, generator=None):
        """Rows of one epoch drawn with the current class distribution."""
        if not hasattr(self, "logits_"):
            self._validate_params()
            self._setup(y)
        n = len(y) if self.n_samples is None else int(self.n_samples)
        return _draw_class_aware(
            y, self.class_counts_, self.class_probabilities(), n, True, generator
        )

    def relaxed_batch(self, y, batch_size, temperature=1.0):
        """Draw a batch through the Gumbel-softmax relaxation.

        Each of the ``batch_size`` draws is a straight-through Gumbel-softmax
        one-hot vector over the classes (``hard=True``): its class picks a uniform
        row of that class, and its weight is 1 in value with the gradient of the
        soft sample with respect to ``logits_``.

        Returns
        -------
        index : torch.LongTensor of shape (batch_size,)
        weight : torch.Tensor of shape (batch_size,)
            Differentiable with respect to ``logits_``.
        """
        one_hot = torch.nn.functional.gumbel_softmax(
            self.logits_.expand(batch_size, -1), tau=temperature, hard=True
        )
        draw_class = one_hot.detach().argmax(1)
        index = _uniform_rows_of_classes(y, self.class_counts_, draw_class)
        weight = one_hot.gather(1, draw_class[:, None]).squeeze(1)
        return index, weight
