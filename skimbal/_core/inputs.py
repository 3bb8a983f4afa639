"""What ``fit`` and ``predict`` accept as X, and how it is validated.

Arrays (numpy, pandas, lists, torch tensors) are validated the scikit-learn way
(finite, numeric, dense; ``n_features_in_`` and ``feature_names_in_``) and take the
fast in-memory path. A torch ``Dataset`` or a dict of arrays is what a skorch user
passes: it goes through skorch's own path, unvalidated, with a ``DataLoader``.
"""

from collections.abc import Mapping

import numpy as np
import torch
from scipy.sparse import issparse
from sklearn.utils.validation import validate_data
from skorch.dataset import Dataset, get_len
from skorch.utils import data_from_dataset, is_dataset

__all__ = [
    "check_encoded_fit_input",
    "check_fit_input",
    "is_skorch_input",
    "skorch_dataset",
    "validate_features",
]


def is_skorch_input(X):
    """Whether X takes skorch's path: a torch ``Dataset`` or a dict of arrays.

    (A scipy DOK matrix is a dict too: it is refused as sparse input instead.)
    """
    return is_dataset(X) or (isinstance(X, Mapping) and not issparse(X))


def skorch_dataset(X, y=None):
    """``X`` as a torch dataset: itself, or skorch's ``Dataset`` around a dict of arrays."""
    return X if is_dataset(X) else Dataset(X, y)


def dataset_labels(X, name):
    """The labels held by a torch dataset, for a ``fit(dataset, y=None)``."""
    try:
        _, y = data_from_dataset(X)
    except AttributeError:
        raise ValueError(
            f"{name} needs the labels to compute the class statistics: pass y to fit, or a "
            "dataset whose labels skorch can read (skorch.dataset.Dataset, "
            "torch.utils.data.TensorDataset, a Subset of either)."
        ) from None
    return y.cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)


def validate_features(estimator, X, reset):
    """Validate an array X (finite, numeric, dense) and cast it to float32.

    Checks the width against ``n_features_in_`` (set it when ``reset``). The default
    MLP needs 2-D X: other shapes get an error that says so.
    """
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    X = validate_data(estimator, X, reset=reset, dtype=np.float32, allow_nd=True)
    if estimator.module is None and X.ndim != 2:
        raise ValueError(
            f"The default MLP expects 2-D X of shape (n_samples, n_features); got X of "
            f"shape {X.shape}. Pass a module for other inputs (images: skimbal.nn.ResNet32)."
        )
    return np.ascontiguousarray(X, dtype=np.float32)


def check_fit_input(estimator, X, y, sample_weight, reset):
    """X and y of a fit: arrays validated, a dataset's labels read when y is None."""
    name = type(estimator).__name__
    if is_skorch_input(X):
        if sample_weight is not None:
            raise ValueError("sample_weight needs array input X, not a dataset or dict.")
        if y is None and is_dataset(X):
            y = dataset_labels(X, name)
    else:
        X = validate_features(estimator, X, reset=reset or not hasattr(estimator, "n_features_in_"))
    if y is None:
        raise ValueError(f"{name} requires y to be passed, but the target y is None.")
    return X, y


def check_encoded_fit_input(X, y_encoded, encoding):
    """As many labels as rows; a dataset's labels already the encoded classes."""
    if is_dataset(X) and not np.array_equal(encoding.classes, np.arange(encoding.n_outputs)):
        raise ValueError(
            "The labels of a dataset must be the encoded classes 0 .. C - 1 (the net trains on "
            f"them as they are); got classes {encoding.classes.tolist()!r}."
        )
    n_rows = get_len(X) if is_skorch_input(X) and not is_dataset(X) else len(X)
    if len(y_encoded) != n_rows:
        raise ValueError(f"X has {n_rows} rows but y has {len(y_encoded)}.")
