"""BBN's cumulative learning schedule (stub: rewritten with the BBN family)."""

from ._schedule import EpochSchedule

__all__ = ["CumulativeLearning"]


class CumulativeLearning(EpochSchedule):
    """Placeholder, replaced when the BBN family is ported."""
