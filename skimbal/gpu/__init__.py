"""Opt-in fast training path on CUDA: no per-batch sync, CUDA-graph captured steps.

- ``_fast_path``: :class:`GPUFastPathMixin`, which any skimbal estimator can mix
  in, and :func:`with_gpu_fast_path`, which builds (and caches) that subclass;
- ``_graph``: the capture, replay and re-capture machinery of the training step
  (:func:`state_fingerprint`: what a captured step depends on besides its batch).

Off CUDA the mixin defers to the estimator, so CPU results are unchanged.
"""

from ._fast_path import GPUFastPathMixin, with_gpu_fast_path
from ._graph import state_fingerprint

__all__ = ["GPUFastPathMixin", "state_fingerprint", "with_gpu_fast_path"]
