"""CRL's per-epoch mining statistics (stub: rewritten with the CRL family)."""

from skorch.callbacks import Callback

__all__ = ["CRLStatistics"]


class CRLStatistics(Callback):
    """Placeholder, replaced when the CRL family is ported."""
