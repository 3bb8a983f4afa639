"""Every public estimator, in a small configuration, for the common checks.

Each method family appends its estimators here (see tests/test_common.py).
Keep the settings small: tiny networks, few epochs, a fixed seed.
"""

from skimbal import CrossEntropyClassifier, WeightedCrossEntropyClassifier

# Shared small settings that still learn sklearn's check data sets.
SMALL = dict(max_epochs=30, lr=0.01, hidden_layer_sizes=(16,), random_state=0)

ESTIMATORS = [
    CrossEntropyClassifier(**SMALL),
    WeightedCrossEntropyClassifier(**SMALL),
]

# Checks a network trained by mini-batch SGD cannot pass, with the reason.
NEURAL_NET_EXPECTED_FAILURES = {
    # Weighting a sample by 2 is not the same as repeating it with mini-batch
    # SGD: the repeated copy lands in a different batch and changes the
    # gradient steps, so the fitted nets differ beyond rtol 1e-7.
    "check_sample_weight_equivalence_on_dense_data": (
        "mini-batch SGD: a weight of 2 is not a repeated sample"
    ),
}

# Per class name: extra expected failures on top of NEURAL_NET_EXPECTED_FAILURES.
EXPECTED_FAILED_CHECKS = {}


def expected_failed_checks(estimator):
    """Expected failures for ``estimator`` (used by ``parametrize_with_checks``)."""
    failures = dict(NEURAL_NET_EXPECTED_FAILURES)
    failures.update(EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {}))
    return failures
