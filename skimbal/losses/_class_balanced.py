"""Class-balanced loss (Cui et al. 2019): effective-number weights on a base loss."""

import math
import numbers

import torch
import torch.nn.functional as F

from ._weights import ClassWeightedLoss, check_real, effective_number_weights

__all__ = ["ClassBalancedLoss", "sigmoid_prior_bias"]

_LOSS_TYPES = ("softmax", "sigmoid", "focal")


def sigmoid_prior_bias(n_classes):
    r"""Initial classifier bias for the sigmoid and focal class-balanced losses.

    Cui et al. (2019), following Lin et al. (2017), start every class bias at
    :math:`b = -\log((1 - \pi) / \pi)` with prior :math:`\pi = 1/C`, i.e.
    :math:`b = -\log(C - 1)`, so that the initial per-class sigmoid outputs are
    ``1/C`` and the many negative terms do not swamp the loss at the start.

    Parameters
    ----------
    n_classes : int >= 2
        Number of classes ``C``.

    Returns
    -------
    bias : float

    Examples
    --------
    >>> import torch
    >>> from skimbal.losses import sigmoid_prior_bias
    >>> head = torch.nn.Linear(8, 10)
    >>> _ = torch.nn.init.constant_(head.bias, sigmoid_prior_bias(10))
    >>> round(torch.sigmoid(head.bias[0]).item(), 4)
    0.1
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}.")
    return -math.log(n_classes - 1)


class ClassBalancedLoss(ClassWeightedLoss):
    r"""Class-balanced loss: a base loss weighted by the effective number of samples.

    The class weight :math:`w_j \propto (1 - \beta)/(1 - \beta^{n_j})` (normalised
    to sum to ``C``, see :func:`effective_number_weights`) is computed at
    construction and stored as the buffer ``weight``. Per sample, with
    :math:`s_j = z_j` for :math:`j \ne y` and :math:`s_y = -z_y`:

    - ``'softmax'``: :math:`w_y \cdot \mathrm{CE}(z, y)`;
    - ``'sigmoid'``: :math:`w_y \sum_j \operatorname{softplus}(s_j)`, the binary
      cross-entropy of every logit against the one-hot target;
    - ``'focal'``: :math:`w_y \sum_j \sigma(s_j)^\gamma \operatorname{softplus}(s_j)`,
      the sigmoid focal loss of Lin et al. (2017) against the one-hot target.

    All three are computed with log-sigmoid/softplus or log-softmax, stable for
    any logits. With ``beta=0`` every weight is 1 and ``'softmax'`` is plain
    cross-entropy. For the sigmoid and focal variants start the classifier bias
    at :func:`sigmoid_prior_bias` as the authors do.

    Defaults: ``beta=0.9999`` and ``gamma=1.0`` are the CIFAR-10-LT settings of
    Cui et al. (2019, Section 5.2; the best CIFAR-10 IR100 model is the focal
    variant with these values). The reduction follows PyTorch's convention
    (``'mean'`` divides by ``sum_i w_{y_i}``); the authors' code divides the
    weighted sum by the batch size (focal) or by ``N * C`` (sigmoid), a constant
    rescaling of the learning rate within a batch.

    Parameters
    ----------
    class_counts : array-like or tensor of shape (n_classes,)
        Training samples per class.
    beta : float in [0, 1), default=0.9999
        Effective-number hyper-parameter.
    loss_type : {'softmax', 'sigmoid', 'focal'}, default='softmax'
        Base loss.
    gamma : float >= 0, default=1.0
        Focusing parameter of the ``'focal'`` variant (ignored otherwise).
    reduction : {'mean', 'sum', 'none'}, default='mean'
        'none' returns ``w_{y_i} l_i``; 'mean' is ``sum_i w_{y_i} l_i / sum_i w_{y_i}``.

    Attributes
    ----------
    weight : tensor of float32, shape (n_classes,)
        The effective-number class weights (a buffer).

    References
    ----------
    Y. Cui, M. Jia, T.-Y. Lin, Y. Song, S. Belongie. Class-Balanced Loss Based on
    Effective Number of Samples. CVPR 2019.

    Examples
    --------
    >>> import torch
    >>> from skimbal.losses import ClassBalancedLoss
    >>> loss = ClassBalancedLoss([90, 10], beta=0.99, loss_type="focal", gamma=1.0)
    >>> loss.weight.round(decimals=4)
    tensor([0.2768, 1.7232])
    >>> logits = torch.tensor([[1.0, -1.0], [0.5, 0.5]])
    >>> round(loss(logits, torch.tensor([0, 1])).item(), 4)
    0.6999
    """

    def __init__(
        self, class_counts, beta=0.9999, loss_type="softmax", gamma=1.0, reduction="mean"
    ):
        super().__init__(
            weight=effective_number_weights(class_counts, beta=beta), reduction=reduction
        )
        if loss_type not in _LOSS_TYPES:
            raise ValueError(f"loss_type must be one of {_LOSS_TYPES}, got {loss_type!r}.")
        self.beta = float(beta)
        self.loss_type = loss_type
        self.gamma = check_real(gamma, "gamma", low=0.0)

    def per_sample(self, input, target):
        """Unweighted loss of each sample, shape (n_samples,)."""
        if self.loss_type == "softmax":
            return F.cross_entropy(input, target, reduction="none")
        # Signed logits: -z_y for the target, z_j for the others, so that the binary
        # cross-entropy of every column is softplus(signed) and 1 - p_t = sigmoid(signed).
        signed = input.scatter(-1, target.unsqueeze(-1), -input.gather(-1, target.unsqueeze(-1)))
        terms = F.softplus(signed)
        if self.loss_type == "focal" and self.gamma != 0.0:
            terms = torch.exp(self.gamma * F.logsigmoid(signed)) * terms
        return terms.sum(dim=-1)

    def extra_repr(self):
        return (
            f"beta={self.beta}, loss_type={self.loss_type!r}, gamma={self.gamma}, "
            f"reduction={self.reduction!r}"
        )
