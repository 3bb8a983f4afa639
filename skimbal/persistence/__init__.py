"""Weights-only model files: share a fitted estimator without pickle.

A pickle (``pickle``, ``joblib``, ``torch.load(weights_only=False)``, skorch's
``f_pickle``) runs code while it loads: only load pickles you made yourself or
got from someone you trust. :func:`save_model` writes any fitted skimbal estimator
to one `safetensors <https://huggingface.co/docs/safetensors>`_ file (tensors plus
a JSON description), and :func:`load_model` reads it back, ready to predict,
without executing anything from the file and without a throw-away fit. See the
"Security" page of the user guide.

- :func:`save_model`, :func:`load_model`: write and read a file;
- :func:`allowed_names`: the classes and functions a file may name;
- :class:`WeightsOnlyError`: what cannot be written or read.
"""

from ._weights_only import WeightsOnlyError, allowed_names, load_model, save_model

__all__ = ["WeightsOnlyError", "allowed_names", "load_model", "save_model"]
