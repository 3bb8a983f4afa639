"""The methods ``skimbal compare`` knows, and the comparison it runs.

Registry format
---------------
:data:`METHODS` maps a method name (kebab-case: ``'ce'``, ``'weighted-ce'``,
``'ldam-drw'``, ...) to a factory called as::

    factory(*, random_state, device, max_epochs) -> estimator

that returns an unfitted scikit-learn classifier: a skimbal estimator, an
imbalanced-learn ``Pipeline`` (sampler + estimator) or any other classifier.
Factories of neural methods start from :func:`net_params`, the shared small-MLP
setting, so that every method trains the same network for the same number of
epochs; a method that needs more (a second stage, a warm-up) documents it in its
factory's docstring, whose first line the command prints as the description.

To add a method, define its factory in the section "Registry" at the end of
this file, import the estimator *inside* the factory (the registry then stays
importable while a family is missing or broken), add one entry to
:data:`METHODS` and put the name at its place in :data:`DEFAULT_METHODS`.

Time budget: the default command (every method on digits-LT, 438 training
samples, ``max_epochs=30``) must finish within 5 minutes on 2 CPU cores, so a
factory should fit there in about 10 seconds on one thread (plain
cross-entropy takes about 1 second).

:data:`DEFAULT_METHODS` fixes the order in which the command runs the methods;
names that are not (yet) in :data:`METHODS` are skipped, and registered names
missing from it run last, in registration order.
"""

import time

import numpy as np
from sklearn.preprocessing import StandardScaler

__all__ = [
    "DEFAULT_METHODS",
    "METHODS",
    "available_methods",
    "check_method_names",
    "fit_and_score",
    "net_params",
    "run_comparison",
]


def net_params(*, random_state, device, max_epochs):
    """Shared setting of the neural methods in a comparison.

    A one-hidden-layer MLP of width 128 trained with Adam (learning rate 3e-3,
    batch 64): small enough that every registered method trains on digits-LT
    within the time budget of the default command on two CPU cores.

    Parameters
    ----------
    random_state : int or None
        Seed of the weight initialisation and the batch order.
    device : str
        Torch device ('cpu', 'cuda', 'auto').
    max_epochs : int
        Number of training epochs.

    Returns
    -------
    params : dict
        Keyword arguments for any :class:`skimbal.ImbalancedNetClassifier`.
    """
    return dict(
        hidden_layer_sizes=(128,),
        lr=3e-3,
        batch_size=64,
        max_epochs=max_epochs,
        random_state=random_state,
        device=device,
    )


def available_methods():
    """Registered method names in the order the command runs them.

    Returns
    -------
    names : list of str
        Names of :data:`DEFAULT_METHODS` that are registered, followed by the
        other registered names in registration order.
    """
    ordered = [name for name in DEFAULT_METHODS if name in METHODS]
    return ordered + [name for name in METHODS if name not in ordered]


def check_method_names(names):
    """Validate method names against the registry.

    Parameters
    ----------
    names : list of str or None
        Requested names; None or an empty list selects every registered method.

    Returns
    -------
    names : list of str
        The names, duplicates removed, in the order given.

    Raises
    ------
    ValueError
        If a name is not registered; the message lists the known names.
    """
    if not names:
        return available_methods()
    unknown = [name for name in names if name not in METHODS]
    if unknown:
        raise ValueError(
            f"unknown method(s) {', '.join(map(repr, unknown))}; "
            f"known methods: {', '.join(available_methods())}."
        )
    return list(dict.fromkeys(names))


def describe(name):
    """First line of a registered method's factory docstring."""
    doc = METHODS[name].__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else name


def fit_and_score(name, X_train, y_train, X_test, *, random_state, device, max_epochs):
    """Build method ``name``, fit it on the training split and predict the test split.

    The features are standardised with a scaler fitted on the training split
    only; the test split serves the predictions and nothing else.

    Parameters
    ----------
    name : str
        A registered method.
    X_train, y_train : ndarray
        Training split.
    X_test : ndarray
        Test features.
    random_state, device, max_epochs
        Passed to the method's factory.

    Returns
    -------
    y_pred : ndarray of shape (n_test,)
        Predicted test labels.
    fit_time : float
        Seconds spent in ``fit`` (scaling included).
    """
    estimator = METHODS[name](random_state=random_state, device=device, max_epochs=max_epochs)
    start = time.perf_counter()
    scaler = StandardScaler().fit(X_train)
    estimator.fit(scaler.transform(X_train).astype(np.float32), y_train)
    fit_time = time.perf_counter() - start
    return estimator.predict(scaler.transform(X_test).astype(np.float32)), fit_time


def run_comparison(
    names,
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    random_state,
    device,
    max_epochs,
    n_seeds=1,
    progress=True,
    on_error=None,
):
    """Fit every method on the same split and score it on the test split.

    Parameters
    ----------
    names : list of str
        Registered methods, run in this order.
    X_train, y_train, X_test, y_test : ndarray
        The split; every method sees the same training split and seeds.
    random_state : int
        Seed passed to every factory (the first seed when ``n_seeds > 1``).
    device, max_epochs
        Passed to every factory.
    n_seeds : int, default=1
        Fit every method with the seeds ``random_state .. random_state +
        n_seeds - 1`` (same split) and average the scores.
    progress : bool, default=True
        Show a tqdm progress bar over the methods (on stderr).
    on_error : callable, default=None
        Called as ``on_error(name, exception)`` when a method fails; the
        comparison goes on without it. None re-raises.

    Returns
    -------
    results : list of dict
        Per method that ran: the keys of :func:`skimbal.metrics.imbalance_report`
        (scores and ``per_class_accuracy`` averaged over the seeds), plus
        ``method``, ``fit_time`` (mean seconds), ``n_seeds`` and
        ``balanced_accuracy_std`` (standard deviation over the seeds, NaN for one).
    """
    from tqdm.auto import tqdm

    from .metrics import imbalance_report

    labels, counts = np.unique(y_train, return_counts=True)
    train_counts = dict(zip(labels.tolist(), counts.tolist(), strict=True))
    for label in np.setdiff1d(np.unique(y_test), labels).tolist():
        train_counts[label] = 0
    _warm_up(device)
    results = []
    bar = tqdm(names, desc="methods", unit="method", disable=not progress)
    for name in bar:
        bar.set_postfix_str(name)
        reports = []
        try:
            for seed in range(random_state, random_state + n_seeds):
                y_pred, fit_time = fit_and_score(
                    name,
                    X_train,
                    y_train,
                    X_test,
                    random_state=seed,
                    device=device,
                    max_epochs=max_epochs,
                )
                reports.append(
                    {**imbalance_report(y_test, y_pred, train_counts), "fit_time": fit_time}
                )
        except Exception as exc:
            if on_error is None:
                raise
            on_error(name, exc)
            continue
        results.append({"method": name, **_average_reports(reports)})
    bar.close()
    return results


def _average_reports(reports):
    """Mean of the numeric entries of several reports of the same split."""
    averaged = dict(reports[0])
    for key in reports[0]:
        if key in ("labels", "train_counts"):
            continue
        averaged[key] = np.mean([report[key] for report in reports], axis=0)
        if np.ndim(averaged[key]) == 0:
            averaged[key] = float(averaged[key])
    scores = [report["balanced_accuracy"] for report in reports]
    averaged["n_seeds"] = len(reports)
    averaged["balanced_accuracy_std"] = (
        float(np.std(scores, ddof=1)) if len(scores) > 1 else float("nan")
    )
    return averaged


def _warm_up(device):
    """Fit a tiny network once, so that one-off costs (lazy imports of torch,
    first allocations on the device) are not charged to the first method's time."""
    from ._cross_entropy import CrossEntropyClassifier

    X = np.zeros((4, 2), dtype=np.float32)
    CrossEntropyClassifier(
        hidden_layer_sizes=(2,), max_epochs=1, random_state=0, device=device
    ).fit(X, [0, 1, 0, 1])


# ---------------------------------------------------------------------------
# Registry: one factory per method, the estimator imported inside the factory.
# ---------------------------------------------------------------------------


def _cross_entropy(*, random_state, device, max_epochs):
    """Plain cross-entropy MLP (the baseline)."""
    from ._cross_entropy import CrossEntropyClassifier

    return CrossEntropyClassifier(
        **net_params(random_state=random_state, device=device, max_epochs=max_epochs)
    )


def _weighted_cross_entropy(*, random_state, device, max_epochs):
    """Cross-entropy weighted by inverse class frequency."""
    from ._cross_entropy import WeightedCrossEntropyClassifier

    return WeightedCrossEntropyClassifier(
        **net_params(random_state=random_state, device=device, max_epochs=max_epochs)
    )


def _smote_mlp(*, random_state, device, max_epochs):
    """SMOTE over-sampling, then the cross-entropy MLP (imbalanced-learn Pipeline)."""
    from imblearn.over_sampling import SMOTE
    from imblearn.pipeline import Pipeline

    from ._cross_entropy import CrossEntropyClassifier

    return Pipeline(
        [
            ("smote", SMOTE(k_neighbors=3, random_state=random_state)),
            (
                "mlp",
                CrossEntropyClassifier(
                    **net_params(random_state=random_state, device=device, max_epochs=max_epochs)
                ),
            ),
        ]
    )


def _random_under_mlp(*, random_state, device, max_epochs):
    """Random under-sampling, then the cross-entropy MLP (imbalanced-learn Pipeline)."""
    from imblearn.pipeline import Pipeline
    from imblearn.under_sampling import RandomUnderSampler

    from ._cross_entropy import CrossEntropyClassifier

    return Pipeline(
        [
            ("under", RandomUnderSampler(random_state=random_state)),
            (
                "mlp",
                CrossEntropyClassifier(
                    **net_params(random_state=random_state, device=device, max_epochs=max_epochs)
                ),
            ),
        ]
    )


def _balanced_random_forest(*, random_state, device, max_epochs):
    """Balanced random forest of imbalanced-learn (100 trees; not a network)."""
    from imblearn.ensemble import BalancedRandomForestClassifier

    return BalancedRandomForestClassifier(
        n_estimators=100,
        sampling_strategy="all",
        replacement=True,
        bootstrap=False,
        random_state=random_state,
    )


def _decoupled(method, *, random_state, device, max_epochs):
    from ._cross_entropy import CrossEntropyClassifier
    from ._decoupling import DecoupledClassifier

    stage_one = CrossEntropyClassifier(
        **net_params(random_state=random_state, device=device, max_epochs=max_epochs)
    )
    return DecoupledClassifier(stage_one, method=method, random_state=random_state)


def _classifier_retraining(*, random_state, device, max_epochs):
    """cRT: CE features, head re-trained 10 epochs with class-balanced sampling."""
    return _decoupled("crt", random_state=random_state, device=device, max_epochs=max_epochs)


def _tau_normalisation(*, random_state, device, max_epochs):
    """tau-norm: CE on 80 % of the data, head rows divided by norm**tau (tau on the rest)."""
    return _decoupled("tau-norm", random_state=random_state, device=device, max_epochs=max_epochs)


def _learnable_weight_scaling(*, random_state, device, max_epochs):
    """LWS: CE features and head, one scale per class learned with balanced sampling."""
    return _decoupled("lws", random_state=random_state, device=device, max_epochs=max_epochs)


def _nearest_class_mean(*, random_state, device, max_epochs):
    """NCM: CE features, nearest class mean by cosine."""
    return _decoupled("ncm", random_state=random_state, device=device, max_epochs=max_epochs)


def _bilateral_branch(*, random_state, device, max_epochs):
    """BBN: uniform and reversed branches (one hidden layer: they share only the input)."""
    from ._bbn import BBNClassifier

    return BBNClassifier(
        **net_params(random_state=random_state, device=device, max_epochs=max_epochs)
    )


def _class_rectification(*, random_state, device, max_epochs):
    """CRL: class-level hard mining of batch minorities, relative criterion, alpha 0.1."""
    from ._crl import CRLClassifier

    return CRLClassifier(
        **net_params(random_state=random_state, device=device, max_epochs=max_epochs)
    )


def _class_balanced_sampling(*, random_state, device, max_epochs):
    """Cross-entropy MLP on class-balanced batches (re-drawn every epoch)."""
    from ._cross_entropy import CrossEntropyClassifier

    return CrossEntropyClassifier(
        sampler="class-balanced",
        **net_params(random_state=random_state, device=device, max_epochs=max_epochs),
    )


def _square_root_sampling(*, random_state, device, max_epochs):
    """Cross-entropy MLP on square-root sampled batches (class p ~ sqrt(n_j))."""
    from ._cross_entropy import CrossEntropyClassifier

    return CrossEntropyClassifier(
        sampler="square-root",
        **net_params(random_state=random_state, device=device, max_epochs=max_epochs),
    )


def _smote_in_training(*, random_state, device, max_epochs):
    """SMOTE redrawn every epoch inside fit (skimbal.sampling.ImbalancedLearnSampler)."""
    from imblearn.over_sampling import SMOTE

    from ._cross_entropy import CrossEntropyClassifier
    from .sampling import ImbalancedLearnSampler

    return CrossEntropyClassifier(
        sampler=ImbalancedLearnSampler(SMOTE(k_neighbors=3)),
        **net_params(random_state=random_state, device=device, max_epochs=max_epochs),
    )


def _by_class_name(name, *, random_state, device, max_epochs, **params):
    """A skimbal estimator, by class name, with the shared network setting."""
    import skimbal

    return getattr(skimbal, name)(
        **params, **net_params(random_state=random_state, device=device, max_epochs=max_epochs)
    )


def _focal(*, random_state, device, max_epochs):
    """Softmax focal loss, gamma 1 (Lin et al. 2017; the long-tail setting)."""
    return _by_class_name(
        "FocalLossClassifier", random_state=random_state, device=device, max_epochs=max_epochs
    )


def _class_balanced_focal(*, random_state, device, max_epochs):
    """Class-balanced sigmoid focal loss, beta 0.9999, gamma 1 (Cui et al. 2019)."""
    return _by_class_name(
        "ClassBalancedClassifier",
        loss_type="focal",
        random_state=random_state,
        device=device,
        max_epochs=max_epochs,
    )


def _cross_entropy_drw(*, random_state, device, max_epochs):
    """Cross-entropy with deferred re-weighting from 80 % of the epochs (beta 0.9999)."""
    from ._cross_entropy import CrossEntropyClassifier
    from .callbacks import DeferredReweighting

    return CrossEntropyClassifier(
        callbacks=[DeferredReweighting()],
        **net_params(random_state=random_state, device=device, max_epochs=max_epochs),
    )


def _ldam_drw(*, random_state, device, max_epochs):
    """LDAM (max margin 0.5, scale 30) on a cosine head, with DRW (Cao et al. 2019)."""
    return _by_class_name(
        "LDAMClassifier", random_state=random_state, device=device, max_epochs=max_epochs
    )


def _max_margin_drw(*, random_state, device, max_epochs):
    """Maximum-margin loss (scale 30, M 0.5) on a cosine head, with DRW (Kang et al. 2021)."""
    return _by_class_name(
        "MaxMarginClassifier", random_state=random_state, device=device, max_epochs=max_epochs
    )


def _balanced_softmax(*, random_state, device, max_epochs):
    """Balanced softmax: CE on z + log(prior), raw z at prediction (Ren et al. 2020)."""
    return _by_class_name(
        "BalancedSoftmaxClassifier", random_state=random_state, device=device, max_epochs=max_epochs
    )


def _logit_adjusted(*, random_state, device, max_epochs):
    """Logit-adjusted loss, tau 1 (Menon et al. 2021)."""
    return _by_class_name(
        "LogitAdjustedClassifier", random_state=random_state, device=device, max_epochs=max_epochs
    )


def _post_hoc_logit_adjustment(*, random_state, device, max_epochs):
    """CE, then argmax(z - tau log prior); tau on 20 % held out, then CE refitted on all."""
    return _by_class_name(
        "PostHocLogitAdjustedClassifier",
        tau="auto",
        random_state=random_state,
        device=device,
        max_epochs=max_epochs,
    )


def _large_margin_softmax(*, random_state, device, max_epochs):
    """L-Softmax, margin 2, annealed mix with the plain logit (Liu et al. 2016)."""
    return _by_class_name(
        "LargeMarginSoftmaxClassifier",
        random_state=random_state,
        device=device,
        max_epochs=max_epochs,
    )


def _hinge_ldam_drw(*, random_state, device, max_epochs):
    """Multi-class hinge loss with LDAM margins, with DRW."""
    return _by_class_name(
        "HingeLossClassifier",
        ldam_margins=True,
        drw=True,
        random_state=random_state,
        device=device,
        max_epochs=max_epochs,
    )


def _large_margin_local_embedding(*, random_state, device, max_epochs):
    """LMLE: quintuplet-loss embedding on class-balanced batches, cluster-wise kNN."""
    from ._lmle import LMLEClassifier

    return LMLEClassifier(
        **net_params(random_state=random_state, device=device, max_epochs=max_epochs)
    )


#: Method name -> factory ``f(*, random_state, device, max_epochs)``.
def _balanced_meta_softmax(*, random_state, device, max_epochs):
    """Balanced softmax with a meta-learned class sampler (BALMS)."""
    from ._balms import BalancedMetaSoftmaxClassifier

    return BalancedMetaSoftmaxClassifier(
        **net_params(random_state=random_state, device=device, max_epochs=max_epochs)
    )


def _meta_reweighting(*, random_state, device, max_epochs):
    """Cross-entropy with per-batch sample weights meta-learned on a balanced meta set."""
    from ._cross_entropy import CrossEntropyClassifier
    from ._meta_reweighting import MetaReweighting

    return CrossEntropyClassifier(
        meta_reweighting=MetaReweighting(10),
        **net_params(random_state=random_state, device=device, max_epochs=max_epochs),
    )


def _class_balanced_sampling_minority_augmentation(*, random_state, device, max_epochs):
    """Class-balanced sampling with noise and within-class mixup for rarer classes."""
    from ._augmentation import MinorityAugmentation
    from ._cross_entropy import CrossEntropyClassifier

    return CrossEntropyClassifier(
        sampler="class-balanced",
        augmentation=MinorityAugmentation(),
        **net_params(random_state=random_state, device=device, max_epochs=max_epochs),
    )


METHODS = {
    "ce": _cross_entropy,
    "weighted-ce": _weighted_cross_entropy,
    "smote-mlp": _smote_mlp,
    "rus-mlp": _random_under_mlp,
    "balanced-rf": _balanced_random_forest,
    "crt": _classifier_retraining,
    "tau-norm": _tau_normalisation,
    "lws": _learnable_weight_scaling,
    "ncm": _nearest_class_mean,
    "bbn": _bilateral_branch,
    "cb-sampling": _class_balanced_sampling,
    "sqrt-sampling": _square_root_sampling,
    "smote-in-training": _smote_in_training,
    "crl": _class_rectification,
    "lmle": _large_margin_local_embedding,
    "focal": _focal,
    "class-balanced-focal": _class_balanced_focal,
    "ce-drw": _cross_entropy_drw,
    "ldam-drw": _ldam_drw,
    "max-margin-drw": _max_margin_drw,
    "balanced-softmax": _balanced_softmax,
    "logit-adjusted": _logit_adjusted,
    "post-hoc-la": _post_hoc_logit_adjustment,
    "l-softmax": _large_margin_softmax,
    "hinge-ldam-drw": _hinge_ldam_drw,
    "balms": _balanced_meta_softmax,
    "meta-reweighting": _meta_reweighting,
    "cb-sampling-minority-aug": _class_balanced_sampling_minority_augmentation,
}

#: Run and display order; unregistered names are skipped.
DEFAULT_METHODS = (
    "ce",
    "weighted-ce",
    "focal",
    "class-balanced-focal",
    "ce-drw",
    "ldam-drw",
    "balanced-softmax",
    "logit-adjusted",
    "balms",
    "post-hoc-la",
    "max-margin-drw",
    "hinge-ldam-drw",
    "l-softmax",
    "crl",
    "lmle",
    "crt",
    "tau-norm",
    "lws",
    "ncm",
    "bbn",
    "cb-sampling",
    "sqrt-sampling",
    "cb-sampling-minority-aug",
    "meta-reweighting",
    "smote-mlp",
    "smote-in-training",
    "rus-mlp",
    "balanced-rf",
)
