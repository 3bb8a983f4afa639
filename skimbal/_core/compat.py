"""Where a skimbal estimator differs mechanically from a skorch net.

:class:`SkorchCompatMixin` keeps skorch's behaviour where scikit-learn's
conventions or skimbal's parameters need something else: parameters stored as
given (``module`` and ``criterion`` instances included), private state that is no
parameter, ``device='auto'``, a ``classes_`` attribute set by ``fit``, and
scikit-learn's ``repr``. The list of deviations from skorch, with the reasons, is
in ``docs/design.rst`` ("For skorch users").
"""

import inspect

import torch
from sklearn.base import BaseEstimator

from . import components

__all__ = ["SkorchCompatMixin"]

# Attributes besides skorch's registered components that may hold device tensors.
_DEVICE_MAPPED = ("module", "criterion", "sampler_")


class SkorchCompatMixin:
    """Parameters, device resolution and ``classes_`` the scikit-learn way."""

    def __init_subclass__(cls, **kwargs):
        # A method's __init__ names its own parameters and passes the others on as
        # **kwargs; its signature lists all of them with their defaults, so that
        # scikit-learn's repr shows changed parameters only and the API reference
        # documents every parameter.
        super().__init_subclass__(**kwargs)
        if "__init__" in vars(cls):
            cls.__init__.__signature__ = _merged_signature(cls)

    def __setattr__(self, name, value):
        # The parameters module and criterion may hold instances: they are plain
        # parameters (skorch would register them as extra components and refuse them
        # in set_params); the trained copies are module_ and criterion_. Before
        # skorch's __init__ has run, every attribute is set plainly (skorch itself
        # tells that phase by the absence of ``initialized_``, which skimbal keeps as
        # a class default for scikit-learn's "no attribute set in __init__" rule).
        if name in ("module", "criterion") or "_params_to_validate" not in vars(self):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def _get_param_names(self):
        # skorch lists every attribute not ending in "_"; private state is no parameter.
        return [name for name in super()._get_param_names() if not name.startswith("_")]

    def get_params(self, deep=True, **kwargs):
        params = super().get_params(deep=deep, **kwargs)
        if deep:
            # skorch lists the parameters of fresh default callbacks over the values
            # set with callbacks__*; the values set are the ones a fit uses.
            params.update(
                (name, value) for name, value in vars(self).items()
                if name.startswith("callbacks__")
            )
        return params

    def _validate_params(self):
        """The parameter constraints, and skorch's check of routed arguments.

        skorch knows the routing prefixes (``module__``, ...) once the components
        are registered, during ``initialize``, which calls this again.
        """
        if self._modules:
            super()._validate_params()
        if self.train_split is not None:
            raise ValueError(
                "skimbal estimators take no train_split; use validation_fraction, which holds "
                "out a fraction of every class without starving minority classes."
            )
        BaseEstimator._validate_params(self)

    def check_data(self, X, y=None):
        """``fit`` has validated X and y; nothing is left to check here."""

    def _set_training(self, training=True):
        # skorch sets the mode before every batch, walking each module tree: for a
        # small network that walk costs as much as a tenth of the step. Only walk on
        # a change (a private skorch method; see "For skorch users" in the design).
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and module.training != training:
                module.train(training)

    def __repr__(self):
        # scikit-learn's repr: the parameters that differ from their defaults.
        return BaseEstimator.__repr__(self)

    # ------------------------------------------------------------------ device
    def initialize(self):
        """Build callbacks, module, criterion and optimizer (``device='auto'`` resolved)."""
        with components.resolved_device(self):
            return super().initialize()

    def set_params(self, **params):
        """Set parameters; re-initialise what depends on them, as skorch does.

        Before the net is initialised, a new ``callbacks`` list is only stored (and
        checked at ``fit``), as scikit-learn's ``set_params`` does with every value.
        """
        if "callbacks" in params and not self.initialized_:
            vars(self)["callbacks"] = params.pop("callbacks")
        with components.resolved_device(self):
            return super().set_params(**params)

    def load_params(self, *args, **kwargs):
        """Load module, optimizer, criterion or history state, as skorch does."""
        with components.resolved_device(self):
            return super().load_params(*args, **kwargs)

    def __getstate__(self):
        # skorch pickles the components (module_, criterion_, optimizer_) apart and
        # maps their tensors to an available device when unpickling. The sampler and
        # module or criterion instances given as parameters may hold tensors on the
        # training device too: they travel the same way, so that a model fitted on a
        # GPU unpickles on a CPU-only machine.
        own = vars(self)
        registered = self.cuda_dependent_attributes_
        extra = [name for name in _DEVICE_MAPPED if name in own and name not in registered]
        if not extra or "cuda_dependent_attributes_" not in own:  # unfitted: nothing to map
            return super().__getstate__()
        own["cuda_dependent_attributes_"] = [*registered, *extra]
        try:
            return super().__getstate__()
        finally:
            own["cuda_dependent_attributes_"] = registered

    def __setstate__(self, state):
        requested = state.get("device")
        state["device"] = components.resolve_device(requested)
        super().__setstate__(state)
        if isinstance(requested, str) and requested == "auto":
            vars(self)["device"] = requested

    # ----------------------------------------------------------------- classes
    @property
    def classes_(self):
        try:
            return vars(self)["classes_"]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__} has no attribute 'classes_' before fit."
            ) from None

    @classes_.setter
    def classes_(self, value):
        vars(self)["classes_"] = value


def _merged_signature(cls):
    """The signature of ``cls.__init__`` with the ``**kwargs`` of its bases spelled out."""
    own = inspect.signature(vars(cls)["__init__"])
    parameters = [p for p in own.parameters.values() if p.kind is not p.VAR_KEYWORD]
    names = {p.name for p in parameters}
    if len(parameters) == len(own.parameters):
        return own
    for base in cls.__mro__[1:]:
        init = vars(base).get("__init__")
        if init is None or base is object:
            continue
        inherited = inspect.signature(init).parameters.values()
        for parameter in inherited:
            if parameter.name in names or parameter.kind in (
                parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL
            ):
                continue
            names.add(parameter.name)
            parameters.append(parameter.replace(kind=parameter.KEYWORD_ONLY))
        if not any(p.kind is p.VAR_KEYWORD for p in inherited):
            break
    keyword = inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)
    return own.replace(parameters=[*parameters, keyword])
