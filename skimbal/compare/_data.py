"""Data sets of a comparison: what a fold trains and tests on.

A :class:`Dataset` holds the features, the target and its task; its folds are
repeated stratified k-fold (:func:`make_folds`). With ``long_tail`` set, the
training part of every fold is cut to an exponential long-tailed profile
(a draw seeded by the fold); the test part is never touched. The preprocessing
(:func:`make_preprocessor`) is fitted inside every fold, on its training part.

Nothing here imports torch; pandas is imported to read files only.
"""

import os
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DataError",
    "Dataset",
    "Fold",
    "LongTail",
    "digits_lt",
    "make_folds",
    "make_preprocessor",
    "read_table",
]

#: Fewest training samples a long-tailed cut leaves to a class.
MIN_TAIL = 5


class DataError(ValueError):
    """Input data that cannot be compared; the command exits with status 2."""


@dataclass(frozen=True)
class LongTail:
    """Cut the training part of every fold to an exponential long-tailed profile.

    ``imbalance_ratio`` is capped so that the tail class keeps :data:`MIN_TAIL`
    samples (SMOTE's 3 neighbours and a 20 % held-out part need them); the ratio
    reached is recorded per fold (``train_imbalance_ratio``). ``order`` is that of
    :func:`skimbal.datasets.long_tailed_indices` ('index': the first class is the
    head; 'frequency': the most frequent class is).
    """

    imbalance_ratio: float
    order: str = "index"


@dataclass(frozen=True)
class Fold:
    """One training / test split: row indices, repeat and fold number, seed."""

    repeat: int
    fold: int
    train: np.ndarray
    test: np.ndarray
    seed: int


@dataclass(frozen=True)
class Dataset:
    """A data set to compare the methods on.

    Attributes
    ----------
    name : str
    X : ndarray or DataFrame of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,) or (n_samples, n_attributes)
        Labels, or an indicator matrix for ``task='multilabel'``.
    task : {'binary', 'multiclass', 'multilabel'}
    labels : list of str
        Class names (sorted labels) or attribute names, in the order of the scores.
    groups : ndarray or None
        Classes to stratify the folds on and to cut long-tailed (multi-label data
        built from a multi-class one); None uses ``y``.
    long_tail : LongTail or None
    categorical : tuple of str
        Columns of ``X`` to one-hot encode.
    description : str
    """

    name: str
    X: object
    y: np.ndarray
    task: str
    labels: list
    groups: np.ndarray = None
    long_tail: LongTail = None
    categorical: tuple = ()
    description: str = ""

    @property
    def strata(self):
        """The classes the folds are stratified on (``groups`` or ``y``)."""
        return self.y if self.groups is None else self.groups

    @property
    def positive_label(self):
        """Binary task: the rarer class (the positive one of average precision)."""
        labels, counts = np.unique(self.y, return_counts=True)
        return labels[np.argmin(counts)]


def fold_seed(random_state, repeat, fold):
    """Seed of one fold: the same for every method, whatever the execution order."""
    sequence = np.random.SeedSequence(entropy=int(random_state), spawn_key=(repeat, fold))
    return int(sequence.generate_state(1)[0] % (2**31 - 1))


def make_folds(dataset, cv, repeats, random_state):
    """Repeated stratified k-fold of ``dataset`` (stratified on :attr:`Dataset.strata`).

    With ``dataset.long_tail`` the training part of every fold is cut to the
    long-tailed profile, with a draw seeded by the fold's seed.

    Returns
    -------
    folds : list of Fold
    """
    from sklearn.model_selection import RepeatedStratifiedKFold

    check_class_sizes(dataset.strata, cv, dataset.name)
    splitter = RepeatedStratifiedKFold(n_splits=cv, n_repeats=repeats, random_state=random_state)
    folds = []
    for i, (train, test) in enumerate(splitter.split(np.zeros(len(dataset.y)), dataset.strata)):
        repeat, k = divmod(i, cv)
        seed = fold_seed(random_state, repeat, k)
        if dataset.long_tail is not None:
            train = _long_tailed_part(dataset.strata, train, dataset.long_tail, seed)
        folds.append(Fold(repeat, k, train, test, seed))
    return folds


def _long_tailed_part(strata, train, long_tail, seed):
    from ..datasets import long_tailed_indices

    counts = np.unique(strata[train], return_counts=True)[1]
    # A little below min / MIN_TAIL, so that int() of the tail count is not 4.999...
    ratio = min(long_tail.imbalance_ratio, counts.min() / MIN_TAIL * (1 - 1e-9))
    kept = long_tailed_indices(
        strata[train], max(ratio, 1.0), n_max="auto", order=long_tail.order, random_state=seed
    )
    return train[kept]


def check_class_sizes(y, cv, name):
    """Exit-2 errors of a target before any training: one class, a class below ``cv``."""
    labels, counts = np.unique(y, return_counts=True)
    labels, counts = labels.tolist(), counts.tolist()  # plain Python values in messages
    if len(labels) < 2:
        raise DataError(
            f"{name}: the target has a single class ({labels[0]!r}); a comparison needs "
            "at least two."
        )
    small = [(label, count) for label, count in zip(labels, counts, strict=True) if count < cv]
    if small:
        listed = ", ".join(f"{label!r} ({count})" for label, count in small)
        raise DataError(
            f"{name}: stratified {cv}-fold cross-validation needs at least {cv} samples of "
            f"every class; too small: {listed}. Lower --cv or drop those rows."
        )


# ----------------------------------------------------------------- files
_READERS = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".parquet": None, ".pq": None}


def read_table(path, *, target, drop=(), preprocess=True):
    """Read a CSV, TSV or parquet file into a :class:`Dataset` (stratified folds).

    Numeric columns are features; text, boolean and category columns are
    categorical features (one-hot encoded in every fold). Missing feature values
    are imputed in every fold. With ``preprocess=False`` neither is done, and a
    categorical column or a missing value is an error.
    """
    try:
        import pandas as pd
    except ImportError:
        raise DataError("reading a file needs pandas: pip install pandas "
                        "(or pip install skimbal[compare])") from None

    suffix = os.path.splitext(path)[1].lower()
    if suffix not in _READERS:
        raise DataError(
            f"unknown file type {suffix or '(none)'!r} of {path!r}; use .csv, .tsv or .parquet."
        )
    if not os.path.isfile(path):
        raise DataError(f"dataset file {path!r} does not exist.")
    if _READERS[suffix] is None:
        try:
            frame = pd.read_parquet(path)
        except ImportError as exc:
            raise DataError(
                f"reading {path!r} needs a parquet engine: pip install pyarrow ({exc})"
            ) from None
    else:
        try:
            frame = pd.read_csv(path, sep=_READERS[suffix], skipinitialspace=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read {path!r}: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame_dataset(frame, os.path.basename(path), target=target, drop=drop,
                         preprocess=preprocess)


def frame_dataset(frame, name, *, target, drop=(), preprocess=True):
    """A :class:`Dataset` of a DataFrame: ``target`` is the label column."""
    columns = list(frame.columns)
    unknown = [c for c in (target, *drop) if c not in columns]
    if unknown:
        raise DataError(
            f"{name} has no column {', '.join(map(repr, unknown))} (columns: "
            f"{', '.join(columns)}); name the label column with --target."
        )
    if target in drop:
        raise DataError(f"--drop names the target column {target!r}.")
    X = frame.drop(columns=[target, *drop])
    if X.shape[1] == 0:
        raise DataError(f"{name} has no feature column besides {target!r}.")
    y = frame[target]
    if y.isna().any():
        raise DataError(
            f"{name}: the target {target!r} is missing in {int(y.isna().sum())} rows "
            f"(first: row {int(np.flatnonzero(y.isna())[0]) + 1}); drop them first."
        )
    categorical = tuple(c for c in X.columns if not _is_numeric(X[c]))
    if not preprocess:
        _check_raw(X, categorical, name)
    for column in categorical:  # plain objects, NaN for missing: what the encoders expect
        values = X[column].astype(object)
        X[column] = values.where(X[column].notna(), np.nan)
    y = _labels(y.to_numpy())
    return Dataset(
        name=name,
        X=X,
        y=y,
        task="binary" if len(np.unique(y)) == 2 else "multiclass",
        labels=[str(label) for label in np.unique(y)],
        categorical=categorical,
        description=f"{name}: {X.shape[0]} rows, {X.shape[1]} features "
        f"({len(categorical)} categorical)",
    )


def _is_numeric(column):
    import pandas as pd

    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _check_raw(X, categorical, name):
    if categorical:
        raise DataError(
            f"{name}: --no-preprocess needs numeric features, but "
            f"{', '.join(map(repr, categorical))} are not numeric; drop them (--drop) or "
            "let the command one-hot encode them (without --no-preprocess)."
        )
    missing = [c for c in X.columns if X[c].isna().any()]
    if missing:
        raise DataError(
            f"{name}: --no-preprocess needs complete features, but "
            f"{', '.join(map(repr, missing))} have missing values; let the command impute "
            "them (without --no-preprocess)."
        )


def _labels(values):
    """Integer labels when every label is an integer, else strings."""
    try:
        as_int = values.astype(np.int64)
        if np.array_equal(as_int, values.astype(np.float64)):
            return as_int
    except (TypeError, ValueError):
        pass
    return values.astype(str)


# ----------------------------------------------------------------- digits
def digits_lt(imbalance_ratio=20):
    """scikit-learn's digits; the training part of every fold long-tailed, digit 0 the head."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return Dataset(
        name="digits-LT",
        X=X,
        y=y,
        task="multiclass",
        labels=[str(d) for d in range(10)],
        long_tail=LongTail(float(imbalance_ratio), order="index"),
        description=f"digits-LT: scikit-learn's digits, training part of every fold "
        f"long-tailed (imbalance ratio {imbalance_ratio:g}), balanced test part",
    )


# ----------------------------------------------------------------- preprocessing
def make_preprocessor(dataset):
    """Imputation, scaling and one-hot encoding, to fit on a fold's training part.

    Numeric columns: median imputation and standardisation; categorical columns:
    most-frequent imputation and one-hot encoding (categories unseen in training
    encode as all zeros). The output is dense float32.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    categorical = list(dataset.categorical)
    if hasattr(dataset.X, "columns"):
        numeric = [c for c in dataset.X.columns if c not in categorical]
    else:
        numeric = list(range(dataset.X.shape[1]))
    steps = [("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
              numeric)]
    if categorical:
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        steps.append(("categorical",
                      make_pipeline(SimpleImputer(strategy="most_frequent"), encoder),
                      categorical))
    to_float32 = FunctionTransformer(as_float32)
    return make_pipeline(ColumnTransformer(steps, sparse_threshold=0.0), to_float32)


def as_float32(X):
    """Dense float32 features (what the networks take); a clear error otherwise."""
    try:
        return np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise DataError(f"the features are not numeric: {exc}") from None
