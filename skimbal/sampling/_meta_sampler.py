"""A class sampler whose class distribution is meta-learned (Balanced Meta-Softmax)."""

import numbers

import torch
from sklearn.utils._param_validation import Interval

from ._base import BaseSampler
from ._class_aware import _check_labels, _draw_class_aware, _uniform_rows_of_classes

__all__ = ["MetaClassSampler"]

#: Name of the buffer of the network that holds the learned class logits in a fit.
LOGITS_BUFFER = "meta_sampler_logits"


class MetaClassSampler(BaseSampler):
    """Sample classes from a learned distribution ``softmax(logits_)``.

    The sampler of Balanced Meta-Softmax (Ren et al., NeurIPS 2020, Sec. 3.3):
    the class sampling distribution ``pi = softmax(phi)`` is a parameter trained
    by :class:`skimbal.callbacks.MetaSamplerUpdate`. Every epoch draws its rows
    with the current ``pi`` (a class, then a uniform row of that class); between
    epochs the callback moves ``phi``. Classes without a row in the epoch's labels
    are never drawn.

    In a fit the logits live in the buffer ``meta_sampler_logits`` of the network
    (:meth:`attach_to`), so skorch's ``Checkpoint`` saves them with the network's
    parameters and ``LoadInitState`` restores them; ``warm_start`` and
    ``partial_fit`` continue from them.

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
        The class logits ``phi``: set at the first draw (or by :meth:`attach_to`),
        trainable during a fit, a detached CPU copy after it.
    class_counts_ : torch.LongTensor of shape (n_classes,)
        Rows of each class in the labels of the last draw.

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

    def initial_logits(self, class_counts):
        """``init_q * log(n_j)`` (float32), ``-inf`` for classes without samples."""
        self._validate_params()
        counts = torch.as_tensor(class_counts).double()
        present = counts > 0
        logits = float(self.init_q) * counts.clamp_min(1).log()
        return torch.where(present, logits, -torch.inf).float()

    def attach_to(self, module, class_counts):
        """Keep the logits in the buffer ``meta_sampler_logits`` of ``module``.

        A buffer already there (a warm start, a restored checkpoint) is kept, except
        for classes seen for the first time, which start at :meth:`initial_logits`;
        otherwise the buffer is created. The buffer becomes a trainable leaf tensor
        and ``logits_`` refers to it.

        Returns
        -------
        logits : torch.Tensor of shape (n_classes,), requires grad
        """
        tensors = list(module.parameters()) + list(module.buffers())
        device = tensors[0].device if tensors else torch.device("cpu")
        initial = self.initial_logits(class_counts).to(device)
        current = getattr(module, LOGITS_BUFFER, None)
        if current is not None and current.shape == initial.shape:
            new_class = torch.isinf(current) & torch.isfinite(initial)
            initial = torch.where(new_class, initial, current.detach().to(device))
        self.logits_ = initial.clone().requires_grad_(True)
        module.register_buffer(LOGITS_BUFFER, self.logits_)
        return self.logits_

    def detach_from(self, module):
        """End of a fit: a plain buffer in ``module``, CPU copies in the sampler."""
        logits = getattr(module, LOGITS_BUFFER).detach()
        module.register_buffer(LOGITS_BUFFER, logits)
        self.logits_ = logits.cpu().clone()
        if getattr(self, "class_counts_", None) is not None:
            self.class_counts_ = self.class_counts_.cpu()

    def adam(self, module, lr):
        """Adam on the attached logits, its moment estimates kept in buffers of ``module``.

        The step count and both moment estimates are the buffers
        ``meta_sampler_adam_step``, ``meta_sampler_adam_exp_avg`` and
        ``meta_sampler_adam_exp_avg_sq`` of ``module`` (created at zero, kept when
        they are there already), and Adam updates them in place. So skorch's
        ``Checkpoint`` saves them with the logits, ``LoadInitState`` restores them, and
        a resumed run, ``warm_start`` and ``partial_fit`` continue the meta-optimisation
        exactly where it stopped. Call it after :meth:`attach_to`.

        Returns
        -------
        optimizer : torch.optim.Adam
        """
        logits = self.logits_
        optimizer = torch.optim.Adam([logits], lr=lr)
        state = {}
        for name, shape in (("step", ()), ("exp_avg", logits.shape), ("exp_avg_sq", logits.shape)):
            buffer = getattr(module, f"meta_sampler_adam_{name}", None)
            if buffer is None or buffer.shape != shape:
                buffer = torch.zeros(shape, dtype=torch.float32, device=logits.device)
                module.register_buffer(f"meta_sampler_adam_{name}", buffer)
            state[name] = buffer
        optimizer.state[logits] = state
        return optimizer

    def class_probabilities(self):
        """The current sampling distribution ``softmax(logits_)`` (detached)."""
        return torch.softmax(self.logits_.detach(), dim=0)

    def _counts(self, y):
        y = _check_labels(y)
        if getattr(self, "logits_", None) is None:
            self.logits_ = self.initial_logits(torch.bincount(y)).to(y.device).requires_grad_(True)
        n_classes = len(self.logits_)
        if int(y.max()) >= n_classes:
            raise ValueError(f"The sampler has {n_classes} class logits; y has a label >= that.")
        self.class_counts_ = torch.bincount(y, minlength=n_classes)
        return y, self.class_counts_

    def epoch_indices(self, y, *, epoch, generator=None):
        """Rows of one epoch drawn with the current class distribution.

        Parameters
        ----------
        y : torch.Tensor of int, shape (n_samples,)
            Encoded labels of the training split.
        epoch : int
            Epoch number (the distribution, not the epoch, decides the draw).
        generator : torch.Generator, default=None
            Source of randomness on ``y.device``.

        Returns
        -------
        index : torch.LongTensor of shape (n_samples_epoch,)
        """
        self._validate_params()
        y, counts = self._counts(y)
        probabilities = self.class_probabilities().to(y.device) * (counts > 0)
        n = len(y) if self.n_samples is None else int(self.n_samples)
        return _draw_class_aware(
            y, counts, probabilities / probabilities.sum(), n, True, generator
        )

    def relaxed_batch(self, y, batch_size, temperature=1.0, generator=None):
        """Draw a batch through the Gumbel-softmax relaxation.

        Each of the ``batch_size`` draws is a straight-through Gumbel-softmax
        one-hot vector over the classes: its class (the argmax of
        ``(logits_ + g) / temperature``, ``g`` standard Gumbel noise) picks a
        uniform row of that class, and its weight is 1 in value with the gradient
        of the soft sample with respect to ``logits_``.

        Parameters
        ----------
        y : torch.Tensor of int, shape (n_samples,)
            Encoded labels of the rows to draw from.
        batch_size : int
            Number of draws.
        temperature : float, default=1.0
            Temperature of the relaxation.
        generator : torch.Generator, default=None
            Source of the Gumbel noise and of the rows, on ``y.device``.

        Returns
        -------
        index : torch.LongTensor of shape (batch_size,)
        weight : torch.Tensor of shape (batch_size,)
            Differentiable with respect to ``logits_``.
        """
        y, counts = self._counts(y)
        logits = self.logits_.to(y.device)
        logits = torch.where(counts > 0, logits, -torch.inf)
        uniform = torch.rand((batch_size, len(logits)), device=y.device, generator=generator)
        gumbel = -torch.log(-torch.log(uniform.clamp_min(torch.finfo(uniform.dtype).tiny)))
        soft = torch.softmax((logits + gumbel) / temperature, dim=1)
        draw_class = soft.detach().argmax(1)
        index = _uniform_rows_of_classes(y, counts, draw_class, generator)
        chosen = soft.gather(1, draw_class[:, None]).squeeze(1)
        return index, 1.0 + chosen - chosen.detach()
