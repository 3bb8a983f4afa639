"""The skimbal methods of ``skimbal compare``: one factory per method name.

Every factory trains the network of :func:`~skimbal.compare.net_params` (the
format of a factory is in ``_factory``). Two estimators have no row of their
own, because at the settings a comparison would use they duplicate another row:

- ``LogitAdjustedClassifier`` at its default ``tau=1`` minimises the same
  objective as ``BalancedSoftmaxClassifier`` (cross-entropy on ``z + log(prior)``,
  raw logits at prediction; Menon et al. 2021 note the identity): the
  ``balanced-softmax`` row stands for both (the two gave the same scores to the
  last digit on digits-LT). A different ``tau`` would be a choice made for the
  table, not a default.
- ``CRLClassifier`` at its default ``alpha=0.1`` scored as cross-entropy to three
  decimals on single-label data (digits-LT, 3-fold: 0.894, 0.885, 0.895 against
  CE's 0.894, 0.884, 0.899): its CRL term rarely fires there. It runs on
  multi-label targets only, its home turf (per-attribute hard mining of the
  rare attributes), where its row means something.
"""

from ._factory import by_class_name, supports

__all__ = ["SKIMBAL_METHODS"]


def _decoupled(method, random_state, device, max_epochs):
    """:class:`skimbal.DecoupledClassifier` on the cross-entropy MLP."""
    from skimbal import DecoupledClassifier

    stage_one = by_class_name("CrossEntropyClassifier", random_state, device, max_epochs)
    return DecoupledClassifier(stage_one, method=method, random_state=random_state)


# Factories, in the order of SKIMBAL_METHODS.


@supports("binary", "multiclass", "multilabel")
def _cross_entropy(*, random_state, device, max_epochs):
    """Plain cross-entropy MLP, BCE per attribute on multi-label (the reference)."""
    return by_class_name("CrossEntropyClassifier", random_state, device, max_epochs)


@supports("binary", "multiclass", "multilabel")
def _weighted_cross_entropy(*, random_state, device, max_epochs):
    """Cross-entropy weighted by inverse class frequency."""
    return by_class_name("WeightedCrossEntropyClassifier", random_state, device, max_epochs)


@supports("binary", "multiclass")
def _classifier_retraining(*, random_state, device, max_epochs):
    """cRT: CE features, head re-trained 10 epochs with class-balanced sampling."""
    return _decoupled("crt", random_state, device, max_epochs)


@supports("binary", "multiclass")
def _tau_normalisation(*, random_state, device, max_epochs):
    """tau-norm: CE on 80 % of the data, head rows divided by norm**tau (tau on the rest)."""
    return _decoupled("tau-norm", random_state, device, max_epochs)


@supports("binary", "multiclass")
def _learnable_weight_scaling(*, random_state, device, max_epochs):
    """LWS: CE features and head, one scale per class learned with balanced sampling."""
    return _decoupled("lws", random_state, device, max_epochs)


@supports("binary", "multiclass")
def _nearest_class_mean(*, random_state, device, max_epochs):
    """NCM: CE features, nearest class mean by cosine."""
    return _decoupled("ncm", random_state, device, max_epochs)


@supports("binary", "multiclass")
def _bilateral_branch(*, random_state, device, max_epochs):
    """BBN: uniform and reversed branches (one hidden layer: they share only the input)."""
    return by_class_name("BBNClassifier", random_state, device, max_epochs)


@supports("binary", "multiclass")
def _class_balanced_sampling(*, random_state, device, max_epochs):
    """Cross-entropy MLP on class-balanced batches (re-drawn every epoch)."""
    return by_class_name(
        "CrossEntropyClassifier", random_state, device, max_epochs, sampler="class-balanced"
    )


@supports("binary", "multiclass")
def _square_root_sampling(*, random_state, device, max_epochs):
    """Cross-entropy MLP on square-root sampled batches (class p ~ sqrt(n_j))."""
    return by_class_name(
        "CrossEntropyClassifier", random_state, device, max_epochs, sampler="square-root"
    )


@supports("binary", "multiclass")
def _smote_in_training(*, random_state, device, max_epochs):
    """SMOTE redrawn every epoch inside fit (skimbal.sampling.ImbalancedLearnSampler)."""
    from imblearn.over_sampling import SMOTE

    from ..sampling import ImbalancedLearnSampler

    sampler = ImbalancedLearnSampler(SMOTE(k_neighbors=3))
    return by_class_name(
        "CrossEntropyClassifier", random_state, device, max_epochs, sampler=sampler
    )


@supports("multilabel")
def _class_rectification(*, random_state, device, max_epochs):
    """CRL: class-level hard mining of batch minorities, relative criterion, alpha 0.1."""
    return by_class_name("CRLClassifier", random_state, device, max_epochs)


@supports("binary", "multiclass", "multilabel")
def _large_margin_local_embedding(*, random_state, device, max_epochs):
    """LMLE: quintuplet-loss embedding on class-balanced batches, cluster-wise kNN."""
    return by_class_name("LMLEClassifier", random_state, device, max_epochs)


@supports("binary", "multiclass")
def _focal(*, random_state, device, max_epochs):
    """Softmax focal loss, gamma 1 (Lin et al. 2017; the long-tail setting)."""
    return by_class_name("FocalLossClassifier", random_state, device, max_epochs)


@supports("binary", "multiclass")
def _class_balanced_focal(*, random_state, device, max_epochs):
    """Class-balanced sigmoid focal loss, beta 0.9999, gamma 1 (Cui et al. 2019)."""
    return by_class_name(
        "ClassBalancedClassifier", random_state, device, max_epochs, loss_type="focal"
    )


@supports("binary", "multiclass")
def _cross_entropy_drw(*, random_state, device, max_epochs):
    """Cross-entropy with deferred re-weighting from 80 % of the epochs (beta 0.9999)."""
    from ..callbacks import DeferredReweighting

    callbacks = [DeferredReweighting()]
    return by_class_name(
        "CrossEntropyClassifier", random_state, device, max_epochs, callbacks=callbacks
    )


@supports("binary", "multiclass")
def _ldam_drw(*, random_state, device, max_epochs):
    """LDAM (max margin 0.5, scale 30) on a cosine head, with DRW (Cao et al. 2019)."""
    return by_class_name("LDAMClassifier", random_state, device, max_epochs)


@supports("binary", "multiclass")
def _max_margin_drw(*, random_state, device, max_epochs):
    """Maximum-margin loss (scale 30, M 0.5) on a cosine head, with DRW (Kang et al. 2021)."""
    return by_class_name("MaxMarginClassifier", random_state, device, max_epochs)


@supports("binary", "multiclass")
def _balanced_softmax(*, random_state, device, max_epochs):
    """Balanced softmax: CE on z + log(prior), raw z at prediction (Ren et al. 2020)."""
    return by_class_name("BalancedSoftmaxClassifier", random_state, device, max_epochs)


@supports("binary", "multiclass")
def _post_hoc_logit_adjustment(*, random_state, device, max_epochs):
    """CE, then argmax(z - tau log prior); tau on 20 % held out, then CE refitted on all."""
    return by_class_name(
        "PostHocLogitAdjustedClassifier", random_state, device, max_epochs, tau="auto"
    )


@supports("binary", "multiclass")
def _large_margin_softmax(*, random_state, device, max_epochs):
    """L-Softmax, margin 2, annealed mix with the plain logit (Liu et al. 2016)."""
    return by_class_name("LargeMarginSoftmaxClassifier", random_state, device, max_epochs)


@supports("binary", "multiclass")
def _hinge_ldam_drw(*, random_state, device, max_epochs):
    """Multi-class hinge loss with LDAM margins, with DRW."""
    return by_class_name(
        "HingeLossClassifier", random_state, device, max_epochs, ldam_margins=True, drw=True
    )


@supports("binary", "multiclass")
def _balanced_meta_softmax(*, random_state, device, max_epochs):
    """Balanced softmax with a meta-learned class sampler (BALMS)."""
    return by_class_name("BalancedMetaSoftmaxClassifier", random_state, device, max_epochs)


@supports("binary", "multiclass")
def _meta_reweighting(*, random_state, device, max_epochs):
    """Cross-entropy with per-batch sample weights meta-learned on a balanced meta set."""
    from ..callbacks import MetaReweighting

    callbacks = [MetaReweighting(10)]
    return by_class_name(
        "CrossEntropyClassifier", random_state, device, max_epochs, callbacks=callbacks
    )


@supports("binary", "multiclass")
def _class_balanced_sampling_minority_augmentation(*, random_state, device, max_epochs):
    """Class-balanced sampling with noise and within-class mixup for rarer classes."""
    from ..callbacks import MinorityAugmentation

    callbacks = [MinorityAugmentation()]
    return by_class_name(
        "CrossEntropyClassifier",
        random_state,
        device,
        max_epochs,
        sampler="class-balanced",
        callbacks=callbacks,
    )


#: Method name -> factory, in the order of the table of the docs.
SKIMBAL_METHODS = {
    "ce": _cross_entropy,
    "weighted-ce": _weighted_cross_entropy,
    "focal": _focal,
    "class-balanced-focal": _class_balanced_focal,
    "ce-drw": _cross_entropy_drw,
    "ldam-drw": _ldam_drw,
    "balanced-softmax": _balanced_softmax,
    "balms": _balanced_meta_softmax,
    "post-hoc-la": _post_hoc_logit_adjustment,
    "max-margin-drw": _max_margin_drw,
    "hinge-ldam-drw": _hinge_ldam_drw,
    "l-softmax": _large_margin_softmax,
    "crl": _class_rectification,
    "lmle": _large_margin_local_embedding,
    "crt": _classifier_retraining,
    "tau-norm": _tau_normalisation,
    "lws": _learnable_weight_scaling,
    "ncm": _nearest_class_mean,
    "bbn": _bilateral_branch,
    "cb-sampling": _class_balanced_sampling,
    "sqrt-sampling": _square_root_sampling,
    "cb-sampling-minority-aug": _class_balanced_sampling_minority_augmentation,
    "meta-reweighting": _meta_reweighting,
    "smote-in-training": _smote_in_training,
}
