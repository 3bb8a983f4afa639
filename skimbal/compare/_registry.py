"""The methods ``skimbal compare`` knows: one factory per method name.

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

To add a method, define its factory in this module, import the estimator
*inside* the factory (the registry then stays importable while a family is
missing or broken, and ``skimbal --help`` does not load torch), add one entry to
:data:`METHODS` and put the name at its place in :data:`DEFAULT_METHODS`.

Time budget: the default command (every method on digits-LT, 438 training
samples, ``max_epochs=30``) must finish within 5 minutes on 2 CPU cores, so a
factory should fit there in about 10 seconds on one thread (plain
cross-entropy takes about 1 second).
"""

__all__ = ["DEFAULT_METHODS", "METHODS", "net_params"]


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

    Examples
    --------
    >>> from skimbal.compare import net_params
    >>> net_params(random_state=0, device="cpu", max_epochs=30)["hidden_layer_sizes"]
    (128,)
    """
    return dict(
        hidden_layer_sizes=(128,),
        lr=3e-3,
        batch_size=64,
        max_epochs=max_epochs,
        random_state=random_state,
        device=device,
    )


def _by_class_name(name, random_state, device, max_epochs, **params):
    """A skimbal estimator, by class name, with the shared network setting.

    ``skimbal`` imports the estimator's module on first access, so the registry
    itself imports no method.
    """
    import skimbal

    return getattr(skimbal, name)(
        **params, **net_params(random_state=random_state, device=device, max_epochs=max_epochs)
    )


def _mlp_after(step_name, sampler, random_state, device, max_epochs):
    """imbalanced-learn ``Pipeline``: ``sampler``, then the cross-entropy MLP."""
    from imblearn.pipeline import Pipeline

    mlp = _by_class_name("CrossEntropyClassifier", random_state, device, max_epochs)
    return Pipeline([(step_name, sampler), ("mlp", mlp)])


def _decoupled(method, random_state, device, max_epochs):
    """:class:`skimbal.DecoupledClassifier` on the cross-entropy MLP."""
    from skimbal import DecoupledClassifier

    stage_one = _by_class_name("CrossEntropyClassifier", random_state, device, max_epochs)
    return DecoupledClassifier(stage_one, method=method, random_state=random_state)


# ---------------------------------------------------------------------------
# Factories, in the order of METHODS.
# ---------------------------------------------------------------------------


def _cross_entropy(*, random_state, device, max_epochs):
    """Plain cross-entropy MLP (the baseline)."""
    return _by_class_name("CrossEntropyClassifier", random_state, device, max_epochs)


def _weighted_cross_entropy(*, random_state, device, max_epochs):
    """Cross-entropy weighted by inverse class frequency."""
    return _by_class_name("WeightedCrossEntropyClassifier", random_state, device, max_epochs)


def _smote_mlp(*, random_state, device, max_epochs):
    """SMOTE over-sampling, then the cross-entropy MLP (imbalanced-learn Pipeline)."""
    from imblearn.over_sampling import SMOTE

    smote = SMOTE(k_neighbors=3, random_state=random_state)
    return _mlp_after("smote", smote, random_state, device, max_epochs)


def _random_under_mlp(*, random_state, device, max_epochs):
    """Random under-sampling, then the cross-entropy MLP (imbalanced-learn Pipeline)."""
    from imblearn.under_sampling import RandomUnderSampler

    under = RandomUnderSampler(random_state=random_state)
    return _mlp_after("under", under, random_state, device, max_epochs)


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


def _classifier_retraining(*, random_state, device, max_epochs):
    """cRT: CE features, head re-trained 10 epochs with class-balanced sampling."""
    return _decoupled("crt", random_state, device, max_epochs)


def _tau_normalisation(*, random_state, device, max_epochs):
    """tau-norm: CE on 80 % of the data, head rows divided by norm**tau (tau on the rest)."""
    return _decoupled("tau-norm", random_state, device, max_epochs)


def _learnable_weight_scaling(*, random_state, device, max_epochs):
    """LWS: CE features and head, one scale per class learned with balanced sampling."""
    return _decoupled("lws", random_state, device, max_epochs)


def _nearest_class_mean(*, random_state, device, max_epochs):
    """NCM: CE features, nearest class mean by cosine."""
    return _decoupled("ncm", random_state, device, max_epochs)


def _bilateral_branch(*, random_state, device, max_epochs):
    """BBN: uniform and reversed branches (one hidden layer: they share only the input)."""
    return _by_class_name("BBNClassifier", random_state, device, max_epochs)


def _class_balanced_sampling(*, random_state, device, max_epochs):
    """Cross-entropy MLP on class-balanced batches (re-drawn every epoch)."""
    return _by_class_name(
        "CrossEntropyClassifier", random_state, device, max_epochs, sampler="class-balanced"
    )


def _square_root_sampling(*, random_state, device, max_epochs):
    """Cross-entropy MLP on square-root sampled batches (class p ~ sqrt(n_j))."""
    return _by_class_name(
        "CrossEntropyClassifier", random_state, device, max_epochs, sampler="square-root"
    )


def _smote_in_training(*, random_state, device, max_epochs):
    """SMOTE redrawn every epoch inside fit (skimbal.sampling.ImbalancedLearnSampler)."""
    from imblearn.over_sampling import SMOTE

    from ..sampling import ImbalancedLearnSampler

    sampler = ImbalancedLearnSampler(SMOTE(k_neighbors=3))
    return _by_class_name(
        "CrossEntropyClassifier", random_state, device, max_epochs, sampler=sampler
    )


def _class_rectification(*, random_state, device, max_epochs):
    """CRL: class-level hard mining of batch minorities, relative criterion, alpha 0.1."""
    return _by_class_name("CRLClassifier", random_state, device, max_epochs)


def _large_margin_local_embedding(*, random_state, device, max_epochs):
    """LMLE: quintuplet-loss embedding on class-balanced batches, cluster-wise kNN."""
    return _by_class_name("LMLEClassifier", random_state, device, max_epochs)


def _focal(*, random_state, device, max_epochs):
    """Softmax focal loss, gamma 1 (Lin et al. 2017; the long-tail setting)."""
    return _by_class_name("FocalLossClassifier", random_state, device, max_epochs)


def _class_balanced_focal(*, random_state, device, max_epochs):
    """Class-balanced sigmoid focal loss, beta 0.9999, gamma 1 (Cui et al. 2019)."""
    return _by_class_name(
        "ClassBalancedClassifier", random_state, device, max_epochs, loss_type="focal"
    )


def _cross_entropy_drw(*, random_state, device, max_epochs):
    """Cross-entropy with deferred re-weighting from 80 % of the epochs (beta 0.9999)."""
    from ..callbacks import DeferredReweighting

    callbacks = [DeferredReweighting()]
    return _by_class_name(
        "CrossEntropyClassifier", random_state, device, max_epochs, callbacks=callbacks
    )


def _ldam_drw(*, random_state, device, max_epochs):
    """LDAM (max margin 0.5, scale 30) on a cosine head, with DRW (Cao et al. 2019)."""
    return _by_class_name("LDAMClassifier", random_state, device, max_epochs)


def _max_margin_drw(*, random_state, device, max_epochs):
    """Maximum-margin loss (scale 30, M 0.5) on a cosine head, with DRW (Kang et al. 2021)."""
    return _by_class_name("MaxMarginClassifier", random_state, device, max_epochs)


def _balanced_softmax(*, random_state, device, max_epochs):
    """Balanced softmax: CE on z + log(prior), raw z at prediction (Ren et al. 2020)."""
    return _by_class_name("BalancedSoftmaxClassifier", random_state, device, max_epochs)


def _logit_adjusted(*, random_state, device, max_epochs):
    """Logit-adjusted loss, tau 1 (Menon et al. 2021)."""
    return _by_class_name("LogitAdjustedClassifier", random_state, device, max_epochs)


def _post_hoc_logit_adjustment(*, random_state, device, max_epochs):
    """CE, then argmax(z - tau log prior); tau on 20 % held out, then CE refitted on all."""
    return _by_class_name(
        "PostHocLogitAdjustedClassifier", random_state, device, max_epochs, tau="auto"
    )


def _large_margin_softmax(*, random_state, device, max_epochs):
    """L-Softmax, margin 2, annealed mix with the plain logit (Liu et al. 2016)."""
    return _by_class_name("LargeMarginSoftmaxClassifier", random_state, device, max_epochs)


def _hinge_ldam_drw(*, random_state, device, max_epochs):
    """Multi-class hinge loss with LDAM margins, with DRW."""
    return _by_class_name(
        "HingeLossClassifier", random_state, device, max_epochs, ldam_margins=True, drw=True
    )


def _balanced_meta_softmax(*, random_state, device, max_epochs):
    """Balanced softmax with a meta-learned class sampler (BALMS)."""
    return _by_class_name("BalancedMetaSoftmaxClassifier", random_state, device, max_epochs)


def _meta_reweighting(*, random_state, device, max_epochs):
    """Cross-entropy with per-batch sample weights meta-learned on a balanced meta set."""
    from ..callbacks import MetaReweighting

    callbacks = [MetaReweighting(10)]
    return _by_class_name(
        "CrossEntropyClassifier", random_state, device, max_epochs, callbacks=callbacks
    )


def _class_balanced_sampling_minority_augmentation(*, random_state, device, max_epochs):
    """Class-balanced sampling with noise and within-class mixup for rarer classes."""
    from ..callbacks import MinorityAugmentation

    callbacks = [MinorityAugmentation()]
    return _by_class_name(
        "CrossEntropyClassifier",
        random_state,
        device,
        max_epochs,
        sampler="class-balanced",
        callbacks=callbacks,
    )


#: Method name -> factory ``f(*)``.
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
