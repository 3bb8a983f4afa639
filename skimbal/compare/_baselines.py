"""The classic baselines of ``skimbal compare``: what a user would pick instead.

Scikit-learn and imbalanced-learn estimators at their usual settings. The two
resampling pipelines (SMOTE, random under-sampling) train the network of
:func:`~skimbal.compare.net_params`, so that they differ from ``ce`` by the
resampling only; ``sklearn-mlp`` is scikit-learn's ``MLPClassifier`` at its
defaults, the plain network a user has without skimbal. The factories tagged
``per_attribute`` fit one copy per attribute on multi-label targets (the
runner wraps them in ``MultiOutputClassifier``).
"""

from ._factory import by_class_name, supports

__all__ = ["BASELINES"]


def _mlp_after(step_name, sampler, random_state, device, max_epochs):
    """imbalanced-learn ``Pipeline``: ``sampler``, then the cross-entropy MLP."""
    from imblearn.pipeline import Pipeline

    mlp = by_class_name("CrossEntropyClassifier", random_state, device, max_epochs)
    return Pipeline([(step_name, sampler), ("mlp", mlp)])


@supports("binary", "multiclass", per_attribute=True)
def _balanced_logistic_regression(*, random_state, device, max_epochs):
    """Logistic regression with class_weight='balanced' (scikit-learn; not a network)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(class_weight="balanced", max_iter=2000, random_state=random_state)


@supports("binary", "multiclass", "multilabel")
def _sklearn_mlp(*, random_state, device, max_epochs):
    """scikit-learn's MLPClassifier at its defaults (100 units, Adam, up to 200 epochs)."""
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(random_state=random_state)


@supports("binary", "multiclass", per_attribute=True)
def _smote_mlp(*, random_state, device, max_epochs):
    """SMOTE over-sampling (3 neighbours), then the cross-entropy MLP (imbalanced-learn)."""
    from imblearn.over_sampling import SMOTE

    smote = SMOTE(k_neighbors=3, random_state=random_state)
    return _mlp_after("smote", smote, random_state, device, max_epochs)


@supports("binary", "multiclass", per_attribute=True)
def _random_under_mlp(*, random_state, device, max_epochs):
    """Random under-sampling, then the cross-entropy MLP (imbalanced-learn Pipeline)."""
    from imblearn.under_sampling import RandomUnderSampler

    under = RandomUnderSampler(random_state=random_state)
    return _mlp_after("under", under, random_state, device, max_epochs)


@supports("binary", "multiclass", per_attribute=True)
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


@supports("binary", "multiclass", per_attribute=True)
def _balanced_gradient_boosting(*, random_state, device, max_epochs):
    """HistGradientBoostingClassifier(class_weight='balanced') (scikit-learn; not a network)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(class_weight="balanced", random_state=random_state)


@supports("binary")
def _threshold_tuned_cross_entropy(*, random_state, device, max_epochs):
    """CE MLP with its decision threshold tuned for balanced accuracy (3-fold inner CV)."""
    from sklearn.model_selection import StratifiedKFold, TunedThresholdClassifierCV

    mlp = by_class_name("CrossEntropyClassifier", random_state, device, max_epochs)
    inner = StratifiedKFold(3, shuffle=True, random_state=random_state)
    return TunedThresholdClassifierCV(
        mlp, scoring="balanced_accuracy", cv=inner, random_state=random_state
    )


#: Method name -> factory.
BASELINES = {
    "balanced-logreg": _balanced_logistic_regression,
    "sklearn-mlp": _sklearn_mlp,
    "smote-mlp": _smote_mlp,
    "rus-mlp": _random_under_mlp,
    "balanced-rf": _balanced_random_forest,
    "hgb-balanced": _balanced_gradient_boosting,
    "ce-tuned-threshold": _threshold_tuned_cross_entropy,
}
