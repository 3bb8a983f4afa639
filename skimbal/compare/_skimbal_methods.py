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

from ._factory import SINGLE_LABEL, TASKS, net_params

__all__ = ["SKIMBAL_METHODS", "SkimbalMethod"]


class SkimbalMethod:
    """Factory of one skimbal estimator at the comparison's network setting.

    Parameters
    ----------
    estimator : str
        Name of the estimator class in :mod:`skimbal` (imported on first call, so
        that the registry imports no method).
    description : str
        One line for ``skimbal compare --list-methods``; also the factory's
        ``__doc__``.
    tasks : frozenset of str, default=SINGLE_LABEL
        The targets the estimator fits (see :data:`~skimbal.compare._factory.TASKS`).
    components : callable, default=None
        Returns the keyword arguments that hold objects (callbacks, samplers);
        called once per estimator, so that no two estimators share one.
    decoupled : str, default=None
        A :class:`skimbal.DecoupledClassifier` method ('crt', 'tau-norm', ...) on
        the cross-entropy MLP; ``estimator`` is then ignored.
    **params : dict
        Fixed keyword arguments of the estimator.
    """

    per_attribute = False

    def __init__(
        self,
        estimator,
        description,
        tasks=SINGLE_LABEL,
        *,
        components=None,
        decoupled=None,
        **params,
    ):
        self.estimator = estimator
        self.__doc__ = description
        self.tasks = frozenset(tasks)
        self.components = components
        self.decoupled = decoupled
        self.params = params

    def _network(self, name, params, random_state, device, max_epochs):
        import skimbal

        shared = net_params(random_state=random_state, device=device, max_epochs=max_epochs)
        return getattr(skimbal, name)(**params, **shared)

    def __call__(self, *, random_state, device, max_epochs):
        if self.decoupled is not None:
            from skimbal import DecoupledClassifier

            stage_one = self._network(
                "CrossEntropyClassifier", {}, random_state, device, max_epochs
            )
            return DecoupledClassifier(stage_one, method=self.decoupled, random_state=random_state)
        params = {**self.params, **(self.components() if self.components else {})}
        return self._network(self.estimator, params, random_state, device, max_epochs)


def _callbacks(name, *args):
    """``components`` that give a fresh ``skimbal.callbacks.<name>(*args)``."""

    def components():
        from .. import callbacks

        return {"callbacks": [getattr(callbacks, name)(*args)]}

    return components


def _smote_sampler():
    from imblearn.over_sampling import SMOTE

    from ..sampling import ImbalancedLearnSampler

    return {"sampler": ImbalancedLearnSampler(SMOTE(k_neighbors=3))}


def _class_balanced_minority_augmentation():
    return {"sampler": "class-balanced", **_callbacks("MinorityAugmentation")()}


_CE = "CrossEntropyClassifier"
_ALL = TASKS

#: Method name -> factory, in the order of the table of the docs.
SKIMBAL_METHODS = {
    "ce": SkimbalMethod(
        _CE, "Plain cross-entropy MLP, BCE per attribute on multi-label (the reference).", _ALL
    ),
    "weighted-ce": SkimbalMethod(
        "WeightedCrossEntropyClassifier", "Cross-entropy weighted by inverse class frequency.", _ALL
    ),
    "focal": SkimbalMethod(
        "FocalLossClassifier",
        "Softmax focal loss, gamma 1 (Lin et al. 2017; the long-tail setting).",
        _ALL,
    ),
    "class-balanced-focal": SkimbalMethod(
        "ClassBalancedClassifier",
        "Class-balanced sigmoid focal loss, beta 0.9999, gamma 1 (Cui et al. 2019).",
        _ALL,
        loss_type="focal",
    ),
    "ce-drw": SkimbalMethod(
        _CE,
        "Cross-entropy with deferred re-weighting from 80 % of the epochs (beta 0.9999).",
        components=_callbacks("DeferredReweighting"),
    ),
    "ldam-drw": SkimbalMethod(
        "LDAMClassifier",
        "LDAM (max margin 0.5, scale 30) on a cosine head, with DRW (Cao et al. 2019).",
    ),
    "balanced-softmax": SkimbalMethod(
        "BalancedSoftmaxClassifier",
        "Balanced softmax: CE on z + log(prior), raw z at prediction (Ren et al. 2020).",
    ),
    "balms": SkimbalMethod(
        "BalancedMetaSoftmaxClassifier",
        "Balanced softmax with a meta-learned class sampler (BALMS).",
    ),
    "post-hoc-la": SkimbalMethod(
        "PostHocLogitAdjustedClassifier",
        "CE, then argmax(z - tau log prior); tau on 20 % held out, then CE refitted on all.",
        tau="auto",
    ),
    "max-margin-drw": SkimbalMethod(
        "MaxMarginClassifier",
        "Maximum-margin loss (scale 30, M 0.5) on a cosine head, with DRW (Kang et al. 2021).",
    ),
    "hinge-ldam-drw": SkimbalMethod(
        "HingeLossClassifier",
        "Multi-class hinge loss with LDAM margins, with DRW.",
        ldam_margins=True,
        drw=True,
    ),
    "l-softmax": SkimbalMethod(
        "LargeMarginSoftmaxClassifier",
        "L-Softmax, margin 2, annealed mix with the plain logit (Liu et al. 2016).",
    ),
    "crl": SkimbalMethod(
        "CRLClassifier",
        "CRL: class-level hard mining of batch minorities, relative criterion, alpha 0.1.",
        {"multilabel"},
    ),
    "crl-weighted": SkimbalMethod(
        "CRLClassifier",
        "CRL on class-weighted BCE (class_weight='balanced'), the pairing its user guide advises.",
        {"multilabel"},
        class_weight="balanced",
    ),
    "lmle": SkimbalMethod(
        "LMLEClassifier",
        "LMLE: quintuplet-loss embedding on class-balanced batches, cluster-wise kNN.",
        _ALL,
    ),
    "crt": SkimbalMethod(
        None,
        "cRT: CE features, head re-initialised and re-trained with class-balanced sampling.",
        decoupled="crt",
    ),
    "tau-norm": SkimbalMethod(
        None,
        "tau-norm: CE on 80 % of the data, head rows divided by norm**tau (tau on the rest).",
        decoupled="tau-norm",
    ),
    "lws": SkimbalMethod(
        None,
        "LWS: CE features and head, one scale per class learned with balanced sampling.",
        decoupled="lws",
    ),
    "ncm": SkimbalMethod(None, "NCM: CE features, nearest class mean by cosine.", decoupled="ncm"),
    "bbn": SkimbalMethod(
        "BBNClassifier",
        "BBN: uniform and reversed branches (one hidden layer: they share only the input).",
    ),
    "cb-sampling": SkimbalMethod(
        _CE,
        "Cross-entropy MLP on class-balanced batches (re-drawn every epoch).",
        sampler="class-balanced",
    ),
    "sqrt-sampling": SkimbalMethod(
        _CE,
        "Cross-entropy MLP on square-root sampled batches (class p ~ sqrt(n_j)).",
        sampler="square-root",
    ),
    "cb-sampling-minority-aug": SkimbalMethod(
        _CE,
        "Class-balanced sampling with noise and within-class mixup for rarer classes.",
        components=_class_balanced_minority_augmentation,
    ),
    "meta-reweighting": SkimbalMethod(
        _CE,
        "Cross-entropy with per-batch sample weights meta-learned on a balanced meta set.",
        components=_callbacks("MetaReweighting", 10),
    ),
    "smote-in-training": SkimbalMethod(
        _CE,
        "SMOTE redrawn every epoch inside fit (skimbal.sampling.ImbalancedLearnSampler).",
        components=_smote_sampler,
    ),
}
