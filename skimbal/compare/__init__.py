"""Compare the methods with cross-validation: the ``skimbal compare`` command.

- ``_factory``, ``_skimbal_methods``, ``_baselines``, ``_registry``:
  :data:`METHODS` (method name -> factory of an unfitted classifier, tagged with
  the kinds of targets it fits), :data:`DEFAULT_METHODS` (run order) and
  :func:`net_params` (the network every neural method shares);
- ``_data``: data sets, folds (repeated stratified k-fold, long-tailed training
  parts) and the in-fold preprocessing; ``_suites``: the public benchmark suites
  (``--suite``);
- ``_evaluate``: :func:`available_methods`, :func:`check_method_names`,
  :func:`describe`, :func:`fit_and_score` (one method on one fold) and
  :func:`run_comparison` (every task, serial or with joblib processes);
  ``_scores``: the metrics of a fold;
- ``_stats`` and ``_summary``: intervals, average ranks, Friedman and
  Wilcoxon-Holm tests;
- ``_output``, ``_plots``, ``_record``, ``_progress``, ``_models``: the files,
  plots, the record of the run, the progress display and ``--save-models``;
- ``_cli``: the command (``skimbal.compare._cli.main``, the console script
  ``skimbal``; ``python -m skimbal.compare._cli`` runs it too).

Importing this package loads neither torch nor any estimator (the factories
import theirs when called), so ``skimbal --help`` is fast. Nothing in the core
or the methods imports it.

Examples
--------
>>> from skimbal.compare import METHODS, available_methods, describe
>>> "ldam-drw" in METHODS, available_methods()[0], describe("weighted-ce")
(True, 'ce', 'Cross-entropy weighted by inverse class frequency.')
"""

from ._evaluate import (
    available_methods,
    check_method_names,
    describe,
    fit_and_score,
    run_comparison,
)
from ._registry import DEFAULT_METHODS, METHODS, net_params

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
