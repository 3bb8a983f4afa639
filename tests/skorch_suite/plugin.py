"""pytest plugin: run skorch's own test suite with skimbal's base as the net class.

Loaded by tests/test_skorch_suite.py with ``-p tests.skorch_suite.plugin``.
"""

import pytest
from skorch import NeuralNetClassifier

from skimbal import ImbalancedNetClassifier


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    outcome = yield
    if fixturedef.argname == "net_cls" and outcome.get_result() is NeuralNetClassifier:
        outcome.force_result(ImbalancedNetClassifier)
        fixturedef.cached_result = (ImbalancedNetClassifier,) + tuple(fixturedef.cached_result[1:])
