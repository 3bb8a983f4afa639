"""The methods ``skimbal compare`` knows: one factory per method name.

Registry format
---------------
:data:`METHODS` maps a method name (kebab-case: ``'ce'``, ``'weighted-ce'``,
``'ldam-drw'``, ...) to a factory called as::

    factory(*, random_state, device, max_epochs) -> estimator

that returns an unfitted scikit-learn classifier: a skimbal estimator, an
imbalanced-learn ``Pipeline`` (sampler + estimator) or any other classifier.
The factory's ``tasks`` tag (``_factory.supports``) says which targets it fits
(binary, multi-class, multi-label); a comparison skips a method on a data set of
another kind and says so. Factories of neural methods start from
:func:`net_params`, so that every method trains the same network for the same
number of epochs; a method that needs more (a second stage, a warm-up)
documents it in its factory's docstring, whose first line the command prints
as the description.

The skimbal methods are in ``_skimbal_methods`` (which also says why
``LogitAdjustedClassifier`` and single-label CRL have no row), the classic
baselines in ``_baselines``. To add a method, define its factory in one of them,
import the estimator *inside* the factory (the registry then stays importable
while a family is missing or broken, and ``skimbal --help`` does not load
torch), tag it with ``@supports(...)`` and add one entry to the module's dict.

Time budget: the default command (every method on digits-LT, 3-fold
cross-validation, ``max_epochs=30``) must finish within a minute on 2 CPU
cores, so a factory should fit a fold of digits-LT (about 400 samples) in about
half a second on one thread.
"""

from ._baselines import BASELINES
from ._factory import net_params
from ._skimbal_methods import SKIMBAL_METHODS

__all__ = ["BASELINES", "DEFAULT_METHODS", "METHODS", "REFERENCE_METHOD", "net_params"]

#: Method name -> factory: the skimbal methods, then the classic baselines.
METHODS = {**SKIMBAL_METHODS, **BASELINES}

#: Run and display order; unregistered names are skipped.
DEFAULT_METHODS = tuple(METHODS)

#: The method every other is tested against (Wilcoxon-Holm).
REFERENCE_METHOD = "ce"
