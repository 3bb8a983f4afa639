"""Compare the methods on one long-tailed split: the ``skimbal compare`` command.

- ``_registry``: :data:`METHODS` (method name -> factory of an unfitted
  classifier), :data:`DEFAULT_METHODS` (run order) and :func:`net_params` (the
  network setting every neural method shares); the format of a factory and how
  to add a method are described there;
- ``_runner``: :func:`available_methods`, :func:`check_method_names`,
  :func:`describe`, :func:`fit_and_score` and :func:`run_comparison`;
- ``_cli``: the command (``skimbal.compare._cli.main``, the console script
  ``skimbal``; ``python -m skimbal.compare._cli`` runs it too), its argument
  parsing and data loading;
- ``_output``: the printed table, ``results.csv``, ``per_class_accuracy.csv``
  and the plot.

Importing this package loads neither torch nor any estimator (the factories
import theirs when called), so ``skimbal --help`` is fast. Nothing in the core
or the methods imports it.

Examples
--------
>>> from skimbal.compare import METHODS, available_methods, describe
>>> "ldam-drw" in METHODS, available_methods()[0], describe("ce")
(True, 'ce', 'Plain cross-entropy MLP (the baseline).')
"""

from ._registry import DEFAULT_METHODS, METHODS, net_params
from ._runner import (
    available_methods,
    check_method_names,
    describe,
    fit_and_score,
    run_comparison,
)

__all__ = [
    "DEFAULT_METHODS",
    "METHODS",
    "available_methods",
    "check_method_names",
    "describe",
    "fit_and_score",
    "net_params",
    "run_comparison",
]
