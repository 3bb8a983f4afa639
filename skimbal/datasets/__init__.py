"""Long-tailed versions of classification data sets.

The long-tailed protocol of Cui et al. (CVPR 2019) and Cao et al. (NeurIPS 2019):
keep ``n_i = int(n_max * (1 / IR) ** (i / (C - 1)))`` samples of the ``i``-th
class (exponential profile) or ``n_max`` for the first half of the classes and
``int(n_max / IR)`` for the rest (step profile), and test on a balanced set.

- ``_long_tailed``: :func:`long_tailed_counts`, :func:`long_tailed_indices`,
  :func:`make_long_tailed` (any labelled data);
- ``_digits``: :func:`load_digits_lt` (scikit-learn's digits, no download);
- ``_cifar``: :func:`load_cifar10`, :func:`cifar10_lt_indices` (CIFAR-10-LT).

Nothing here imports torch.
"""

from ._cifar import cifar10_lt_indices, load_cifar10
from ._digits import load_digits_lt
from ._long_tailed import long_tailed_counts, long_tailed_indices, make_long_tailed

__all__ = [
    "cifar10_lt_indices",
    "load_cifar10",
    "load_digits_lt",
    "long_tailed_counts",
    "long_tailed_indices",
    "make_long_tailed",
]
