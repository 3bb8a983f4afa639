"""Class-aware index samplers: instance-, square-root-, class-balanced, progressive, reversed.

Every sampler here follows skimbal's sampler protocol (``docs/design.rst``): an
object with ``epoch_indices(y, *, epoch, generator)`` that returns the row indices
of one training epoch, drawn on ``y.device``. Drawing is two-stage and fully
vectorised: ``torch.multinomial`` picks the class of every row of the epoch, then
one uniform number per row picks a sample inside its class through per-class
offsets into the rows sorted by class.
"""

import numbers

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseSampler

__all__ = ["ClassAwareSampler", "ProgressiveSampler", "ReversedSampler"]


def _check_labels(y):
    """Validate the encoded labels handed to a sampler and return them as a tensor."""
    y = torch.as_tensor(y)
    if y.ndim != 1:
        raise ValueError(
            "Class-aware samplers need one label per sample (a 1-d target); got a target "
            f"of shape {tuple(y.shape)}."
        )
    if y.dtype.is_floating_point or y.dtype == torch.bool or y.dtype.is_complex:
        raise ValueError(f"Class-aware samplers need integer encoded labels, got {y.dtype}.")
    if len(y) == 0:
        raise ValueError("Cannot sample from an empty training split.")
    if int(y.min()) < 0:
        raise ValueError("Encoded labels must be non-negative.")
    return y.long()




def power_class_probabilities(class_counts, q):
    """Class probabilities ``p_j = n_j^q / sum_k n_k^q`` (empty classes get 0).

    Parameters
    ----------
    class_counts : torch.Tensor of shape (n_classes,)
        Samples of each class in the training split.
    q : float
        Exponent: 1 instance-balanced, 0.5 square-root, 0 class-balanced,
        -1 reversed (``p_j`` proportional to ``n_max / n_j``).

    Returns
    -------
    probabilities : torch.Tensor of float64, shape (n_classes,)
    """
    counts = torch.as_tensor(class_counts).double()
    present = counts > 0
    # ``0 ** 0 == 1`` in torch: classes without samples must stay at 0.
    powered = torch.where(present, counts.clamp_min(1).pow(q), torch.zeros_like(counts))
    return powered / powered.sum()



class ClassAwareSampler(BaseSampler):
    """Draw each epoch's rows with class ``j`` chosen with probability ``n_j^q / sum_k n_k^q``.

    The re-sampling family of Kang et al. (2020, Sec. 3 "Sampling strategies"):
    a class is drawn with probability

    .. math:: p_j = \\frac{n_j^q}{\\sum_{k=1}^C n_k^q},

    then a sample uniformly inside it. ``q = 1`` is instance-balanced sampling (the
    class frequencies of the data), ``q = 0`` class-balanced sampling (every class
    equally often; Shen et al. 2016 "class-aware sampling"), ``q = 1/2`` square-root
    sampling (Mikolov et al. 2013; Mahajan et al. 2018). ``n_j`` are the counts of
    the encoded labels ``y`` the estimator hands over, that is, of its training split.

    Pass an instance as the ``sampler`` of any skimbal estimator; the estimator
    deep-copies it at every fit and the training loader calls
    :meth:`epoch_indices` once per epoch, so each epoch is a fresh draw.

    Parameters
    ----------
    q : float, default=0.0
        Exponent of the class counts. Default 0 (class-balanced), the sampling of
        the classifier re-training stage (cRT) of Kang et al. (2020).
    n_samples : int, default=None
        Rows per epoch. None uses the size of the training split, so an epoch has
        as many steps as without a sampler.
    replacement : bool, default=True
        Whether samples are drawn with replacement inside a class. False visits the
        samples of each class in a fresh random order and only repeats one after
        every sample of its class has been drawn in the epoch (the class-aware
        sampler of Shen et al. 2016, as in Kang et al.'s code); the number of draws
        per class is random either way.

    See Also
    --------
    ProgressiveSampler : moves from instance- to class-balanced over the epochs.
    ReversedSampler : BBN's reversed sampler, ``p_j`` proportional to ``n_max / n_j``.
    ImbalancedLearnSampler : any imbalanced-learn sampler, redrawn every epoch.

    References
    ----------
    .. [1] B. Kang, S. Xie, M. Rohrbach, Z. Yan, A. Gordo, J. Feng, Y. Kalantidis,
       "Decoupling Representation and Classifier for Long-Tailed Recognition",
       ICLR 2020.
    .. [2] L. Shen, Z. Lin, Q. Huang, "Relay Backpropagation for Effective Learning
       of Deep Convolutional Neural Networks", ECCV 2016.

    Examples
    --------
    >>> import torch
    >>> from skimbal.sampling import ClassAwareSampler
    >>> y = torch.tensor([0] * 90 + [1] * 10)
    >>> sampler = ClassAwareSampler(q=0.0)
    >>> sampler.class_probabilities(torch.bincount(y))
    tensor([0.5000, 0.5000], dtype=torch.float64)
    >>> index = sampler.epoch_indices(y, epoch=0, generator=torch.Generator().manual_seed(0))
    >>> index.shape
    torch.Size([100])
    """

    _parameter_constraints = {
        "q": [numbers.Real],
        "n_samples": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "replacement": ["boolean"],
    }

    def __init__(self, q=0.0, n_samples=None, replacement=True):
        self.q = q
        self.n_samples = n_samples
        self.replacement = replacement

    def class_probabilities(self, class_counts, epoch=0):
        """Probability of drawing each class in epoch ``epoch``.

        Parameters
        ----------
        class_counts : torch.Tensor of shape (n_classes,)
            Samples of each class.
        epoch : int, default=0
            Epoch number, starting at 0 (unused here; schedules use it).

        Returns
        -------
        probabilities : torch.Tensor of float64, shape (n_classes,)
        """
        self._validate_params()
        return power_class_probabilities(class_counts, float(self.q))

    def epoch_indices(self, y, *, epoch, generator=None):
        """Row indices of one epoch.

        Parameters
        ----------
        y : torch.Tensor of int, shape (n_samples,)
            Encoded labels of the training split.
        epoch : int
            Epoch number, starting at 0.
        generator : torch.Generator, default=None
            Source of randomness, on ``y.device``; the device's global generator
            when None.

        Returns
        -------
        index : torch.LongTensor of shape (n_samples_epoch,)
            Rows of ``y``, in the order they are batched, on ``y.device``.
        """
        y = _check_labels(y)
        counts = torch.bincount(y)
        probabilities = self.class_probabilities(counts, epoch=epoch)
        n_draws = len(y) if self.n_samples is None else int(self.n_samples)
        return _draw_class_aware(y, counts, probabilities, n_draws, self.replacement, generator)


class ProgressiveSampler(ClassAwareSampler):
    """Progressively-balanced sampling: from instance- to class-balanced over the epochs.

    Kang et al. (2020, Sec. 3, Eq. 3) interpolate the class probabilities,

    .. math:: p_j(t) = (1 - \\lambda_t)\\, p_j^{IB} + \\lambda_t\\, p_j^{CB},
       \\qquad \\lambda_t = t / (T - 1),

    where ``p^IB`` is instance-balanced (``q = 1``), ``p^CB`` class-balanced
    (``q = 0``), ``t = 0 .. T-1`` the epoch and ``T`` the number of epochs of the
    fit (the estimator calls :meth:`set_max_epochs`). The first epoch is exactly
    instance-balanced and the last exactly class-balanced (the paper writes
    ``t / T``, which never quite reaches class balance). ``interpolation='exponent'``
    moves the exponent instead: ``q_t = 1 - t / (T - 1)``, so the middle epoch is
    square-root sampling. Epochs past ``T - 1`` stay class-balanced.

    Parameters
    ----------
    n_samples : int, default=None
        Rows per epoch; None uses the size of the training split.
    replacement : bool, default=True
        Whether samples are drawn with replacement inside a class (see
        :class:`ClassAwareSampler`).
    interpolation : {'probability', 'exponent'}, default='probability'
        What moves linearly with the epoch: the class probabilities (Kang et al.
        2020, Eq. 3) or the exponent ``q``.

    Attributes
    ----------
    max_epochs_ : int
        Number of epochs ``T``, set by :meth:`set_max_epochs`.

    Examples
    --------
    >>> import torch
    >>> from skimbal.sampling import ProgressiveSampler
    >>> sampler = ProgressiveSampler()
    >>> sampler.set_max_epochs(3)
    >>> counts = torch.tensor([90, 10])
    >>> [sampler.class_probabilities(counts, epoch=t)[1].item() for t in range(3)]
    [0.1, 0.3, 0.5]
    """

    _parameter_constraints = {
        "n_samples": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "replacement": ["boolean"],
        "interpolation": [StrOptions({"probability", "exponent"})],
    }

    def __init__(self, n_samples=None, replacement=True, interpolation="probability"):
        self.n_samples = n_samples
        self.replacement = replacement
        self.interpolation = interpolation

    @property
    def q(self):
        # Read by the base class's parameter checks; the exponent is per epoch.
        return 1.0

    def set_max_epochs(self, max_epochs):
        """Tell the sampler the number of epochs ``T`` of the fit."""
        if not isinstance(max_epochs, numbers.Integral) or max_epochs < 1:
            raise ValueError(f"max_epochs must be a positive int, got {max_epochs!r}.")
        self.max_epochs_ = int(max_epochs)

    def progress(self, epoch):
        """Fraction ``t / (T - 1)`` of the way to class balance at ``epoch`` (clipped to 1)."""
        if not hasattr(self, "max_epochs_"):
            raise ValueError(
                "ProgressiveSampler needs the number of epochs: call set_max_epochs(n) "
                "first (skimbal estimators do this at fit time)."
            )
        if self.max_epochs_ == 1:
            return 1.0
        return min(max(epoch, 0) / (self.max_epochs_ - 1), 1.0)

    def class_probabilities(self, class_counts, epoch=0):
        """Probability of drawing each class in epoch ``epoch`` (see the class docstring)."""
        self._validate_params()
        progress = self.progress(epoch)
        if self.interpolation == "exponent":
            return power_class_probabilities(class_counts, 1.0 - progress)
        instance = power_class_probabilities(class_counts, 1.0)
        balanced = power_class_probabilities(class_counts, 0.0)
        return (1.0 - progress) * instance + progress * balanced


class ReversedSampler(ClassAwareSampler):
    """BBN's reversed sampler: class ``j`` drawn with probability proportional to ``n_max / n_j``.

    Zhou et al. (2020, Sec. 4.2) feed the re-balancing branch of BBN with

    .. math:: w_j = \\frac{n_{max}}{n_j}, \\qquad p_j = \\frac{w_j}{\\sum_k w_k},

    then a sample uniformly inside the class: tail classes are seen most often.
    This is :class:`ClassAwareSampler` with ``q = -1``.

    Parameters
    ----------
    n_samples : int, default=None
        Rows per epoch; None uses the size of the training split.
    replacement : bool, default=True
        Whether samples are drawn with replacement inside a class (see
        :class:`ClassAwareSampler`).

    References
    ----------
    .. [1] B. Zhou, Q. Cui, X.-S. Wei, Z.-M. Chen, "BBN: Bilateral-Branch Network
       with Cumulative Learning for Long-Tailed Visual Recognition", CVPR 2020.

    Examples
    --------
    >>> import torch
    >>> from skimbal.sampling import ReversedSampler
    >>> ReversedSampler().class_probabilities(torch.tensor([90, 10]))
    tensor([0.1000, 0.9000], dtype=torch.float64)
    """

    _parameter_constraints = {
        "n_samples": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "replacement": ["boolean"],
    }

    def __init__(self, n_samples=None, replacement=True):
        self.n_samples = n_samples
        self.replacement = replacement

    @property
    def q(self):
        return -1.0


def _uniform_rows_of_classes(y, counts, draw_class, generator=None):
    """For each drawn class, a uniformly random row of that class (with replacement)."""
    counts = counts.to(y.device)
    starts = torch.cumsum(counts, 0) - counts
    order = torch.argsort(y, stable=True)
    size = counts[draw_class]
    uniform = torch.rand(len(draw_class), device=y.device, generator=generator)
    offset = (uniform * size).long().clamp_max(size - 1)
    return order[starts[draw_class] + offset]


def _draw_class_aware(y, counts, probabilities, n_draws, replacement, generator):
    """Draw ``n_draws`` rows: a class from ``probabilities``, then a row inside it."""
    device = y.device
    probabilities = probabilities.to(device=device, dtype=torch.float32)
    counts = counts.to(device)
    # Rows grouped by class; ``starts[j]`` is where class j begins in that order.
    starts = torch.cumsum(counts, 0) - counts
    draw_class = torch.multinomial(probabilities, n_draws, replacement=True, generator=generator)
    if replacement:
        return _uniform_rows_of_classes(y, counts, draw_class, generator)
    # Without replacement: each class in a random order (sort by label + a random
    # key in [0, 1)), the k-th draw of class j takes its (k mod n_j)-th sample.
    key = y.double() + torch.rand(len(y), device=device, generator=generator).double()
    order = torch.argsort(key)
    draw_order = torch.argsort(draw_class, stable=True)
    sorted_class = draw_class[draw_order]
    draws_per_class = torch.bincount(draw_class, minlength=len(counts))
    draw_starts = torch.cumsum(draws_per_class, 0) - draws_per_class
    rank = torch.arange(n_draws, device=device) - draw_starts[sorted_class]
    rows = order[starts[sorted_class] + rank % counts[sorted_class]]
    index = torch.empty_like(rows)
    index[draw_order] = rows
    return index
