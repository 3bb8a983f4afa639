"""The repr of the estimators is scikit-learn's: class name and changed parameters only."""

import inspect

import numpy as np
import pytest
import sklearn
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skimbal
from skimbal import CrossEntropyClassifier, LDAMClassifier


@pytest.mark.parametrize("name", skimbal.__all__)
def test_default_repr_is_the_class_name(name):
    # Every default in the signature is the value stored by __init__, so nothing
    # shows as changed (skorch's repr was "<class ...>[uninitialized](module=None,)").
    assert repr(getattr(skimbal, name)()) == f"{name}()"


def test_repr_shows_changed_parameters_only():
    assert repr(CrossEntropyClassifier(lr=0.1)) == "CrossEntropyClassifier(lr=0.1)"
    assert (
        repr(LDAMClassifier(max_margin=0.3, drw=False, lr=0.01))
        == "LDAMClassifier(drw=False, lr=0.01, max_margin=0.3)"
    )


def test_repr_shows_routed_parameters():
    clf = CrossEntropyClassifier(optimizer__weight_decay=1e-4, module__dropout=0.1)
    assert repr(clf) == (
        "CrossEntropyClassifier(module__dropout=0.1, optimizer__weight_decay=0.0001)"
    )


def test_fitted_repr_equals_unfitted_repr():
    X = np.random.default_rng(0).normal(size=(20, 3))
    y = np.arange(20) % 2
    clf = CrossEntropyClassifier(max_epochs=1, random_state=0)
    before = repr(clf)
    clf.fit(X, y)
    assert repr(clf) == before == "CrossEntropyClassifier(max_epochs=1, random_state=0)"
    assert str(clf) == before


def test_pipeline_and_search_reprs_are_short():
    pipe = make_pipeline(StandardScaler(), LDAMClassifier(lr=0.1, max_epochs=5))
    assert repr(pipe) == (
        "Pipeline(steps=[('standardscaler', StandardScaler()),\n"
        "                ('ldamclassifier', LDAMClassifier(lr=0.1, max_epochs=5))])"
    )
    search = GridSearchCV(pipe, {"ldamclassifier__lr": [1e-3, 1e-2]})
    lines = repr(search).splitlines()
    assert len(lines) == 4
    assert max(map(len, lines)) <= 80
    assert "LDAMClassifier(lr=0.1, max_epochs=5)" in repr(search)


def test_print_changed_only_false_shows_every_parameter():
    with sklearn.config_context(print_changed_only=False):
        text = repr(CrossEntropyClassifier())
    names = [
        name for name, parameter in inspect.signature(CrossEntropyClassifier).parameters.items()
        if parameter.kind is not parameter.VAR_KEYWORD
    ]
    assert len(names) > 20
    for name in names:
        assert f"{name}=" in text, name


def test_html_repr_names_the_estimator_and_its_changed_parameter():
    html = CrossEntropyClassifier(lr=0.1)._repr_html_()
    assert "CrossEntropyClassifier" in html
    assert "lr=0.1" in html
