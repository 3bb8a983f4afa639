"""skorch's own tests, run against skimbal's base: a skorch user must not be surprised.

The test modules ship inside the installed skorch wheel (``skorch/tests``); the
plugin ``tests/skorch_suite/plugin.py`` swaps the classifier of their ``net_cls``
fixtures for :class:`skimbal.ImbalancedNetClassifier` and lists the intended
deviations. They run in a subprocess, in a scratch directory (skorch's tests write
checkpoints to the working directory).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

skorch = pytest.importorskip("skorch")
pytest.importorskip("flaky")  # skorch's tests import it

SUITES = [
    "test_classifier.py",
    "test_net.py",
    "callbacks/test_training.py",
    "callbacks/test_lr_scheduler.py",
]
REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_skorch_suite_passes_with_the_skimbal_base(tmp_path):
    tests = Path(skorch.__file__).parent / "tests"
    # skorch's tests read fixtures as "skorch/tests/..." relative to the working dir.
    (tmp_path / "skorch").symlink_to(tests.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPOSITORY), os.environ.get("PYTHONPATH", "")]
    ))
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore",
        "-p", "tests.skorch_suite.plugin", "--tb=short", "-o", "addopts=",
        *(str(tests / suite) for suite in SUITES),
    ]
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert re.search(r"\d+ passed", summary), summary
    assert not re.search(r"\d+ (failed|error)", summary), summary
