"""Decoupled two-stage training (Kang et al., ICLR 2020): cRT, tau-norm, LWS and NCM.

:class:`DecoupledClassifier` is a meta-estimator: stage one fits a clone of any
skimbal estimator with an embedding; stage two re-balances only the classifier
on the frozen embedding of the training data.
"""

import copy
import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .._core.base import ImbalancedNetClassifier
from .._core.components import DivergenceError, check_finite_outputs
from .._core.data import TensorDataset
from .._core.random import draw_seed, epoch_seed, seeded_torch
from ..nn import has_embedding
from ..nn._bbn import reset_parameters
from ..sampling import ClassAwareSampler, check_sampler
from ._holdout import TAU_GRID, check_grid, choose_by_balanced_accuracy, holdout_split
from ._reweighting import CrossEntropyClassifier

__all__ = ["DecoupledClassifier", "LearnableWeightScaling", "tau_normalized_weight"]


def tau_normalized_weight(weight, tau):
    """Rescale each class's row of ``weight`` (shape (C, d)): ``w_j / ||w_j||^tau``.

    ``tau = 0`` leaves the weights unchanged, ``tau = 1`` gives unit-norm rows.

    Examples
    --------
    >>> import torch
    >>> from skimbal.methods._two_stage import tau_normalized_weight
    >>> tau_normalized_weight(torch.tensor([[3.0, 4.0], [0.0, 1.0]]), 1.0)
    tensor([[0.6000, 0.8000],
            [0.0000, 1.0000]])
    """
    norms = torch.linalg.vector_norm(weight, dim=1, keepdim=True)
    return weight / norms.clamp_min(torch.finfo(weight.dtype).tiny).pow(tau)


class LearnableWeightScaling(torch.nn.Module):
    """A frozen classifier head with one learned scale per class (LWS).

    ``z_j = f_j * head(x)_j``: scaling the logit of class ``j`` is scaling its
    weight vector and bias, ``w_j -> f_j w_j`` (Kang et al. 2020, Sec. 4). The
    ``n_classes`` scales start at 1; ``head`` (used as is: pass a copy) is frozen.
    """

    def __init__(self, head, n_classes):
        super().__init__()
        self.head = head
        for parameter in self.head.parameters():
            parameter.requires_grad_(False)
        self.scale = torch.nn.Parameter(torch.ones(n_classes))

    def forward(self, x):
        return self.head(x) * self.scale


class DecoupledClassifier(ClassifierMixin, BaseEstimator):
    """Two-stage decoupled training: representation first, classifier re-balanced after.

    Stage one fits a clone of ``estimator`` as it is. Stage two computes the
    embedding ``f(x)`` of the training data once (no gradients, evaluation mode)
    and re-balances the classifier on it (Kang et al. 2020, Sec. 4):

    - ``'crt'`` (classifier re-training): a copy of the head is re-initialised and
      trained for ``stage2_epochs`` epochs with class-balanced sampling.
    - ``'tau-norm'``: no training; ``z_j = w_j^T f(x) / ||w_j||^tau`` (no bias).
    - ``'lws'`` (learnable weight scaling): ``z_j = f_j (w_j^T f(x) + b_j)``, one
      scale ``f_j`` per class learned with class-balanced sampling.
    - ``'ncm'``: ``z_j = cos(f(x), mu_j)``, ``mu_j`` the mean of the L2-normalised
      training embeddings of class ``j`` as in the paper (the authors' code
      defaults to the L2 distance to unnormalised means after centring).

    Parameters
    ----------
    estimator : skimbal estimator, default=None
        Stage-one estimator (an :class:`~skimbal.ImbalancedNetClassifier`), cloned
        at fit; its module must follow the embedding protocol (``forward_features``,
        ``forward_head``, attribute ``head``). None is ``CrossEntropyClassifier()``.
        Its parameters are reachable as ``estimator__<name>``.
    method : {'crt', 'tau-norm', 'lws', 'ncm'}, default='crt'
        How the classifier is re-balanced.
    stage2_epochs : int or 'auto', default='auto'
        Epochs of the head's training ('crt', 'lws'); 'auto' is ``max_epochs='auto'``'s
        step budget, as the paper's 10 epochs of ImageNet-LT (see the user guide).
    stage2_lr : float, default=None
        Learning rate of stage two (None: the stage-one ``lr``); optimizer, its
        ``optimizer__*`` settings, batch size and device are the stage-one ones.
    stage2_sampler : str or sampler object, default=None
        Sampler of stage two ('crt', 'lws'); None is class-balanced sampling,
        ``ClassAwareSampler(q=0.0)``, as in the paper.
    tau : 'auto', float or array-like of float, default='auto'
        Exponent of 'tau-norm'; 'auto' searches 0, 0.1, ..., 2, an array-like gives
        the candidates. With several, stage one trains on ``1 -
        tau_validation_fraction`` of every class and ``tau_`` has the best balanced
        accuracy on the held-out rest of the training data, ties going to the
        smallest (:mod:`skimbal.methods._holdout`, ``reference=0``). Test data are
        never involved.
    tau_validation_fraction : float in (0, 1), default=0.2
        Fraction of every class held out to choose ``tau``.
    tau_refit : bool, default=True
        After ``tau`` is chosen, train stage one again on *all* the training data
        (as ``GridSearchCV(refit=True)``); False keeps the network trained without
        the held-out rows.
    random_state : int, RandomState instance or None, default=None
        Seeds the hold-out split, the head re-initialisation and the sampling of
        stage two. When the stage-one estimator's own ``random_state`` is None it
        receives a seed derived from this one.

    Attributes
    ----------
    estimator_ : ImbalancedNetClassifier
        The fitted stage-one estimator (its backbone is the final backbone).
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit (and ``feature_names_in_``).
    seed_ : int
        The seed the hold-out split and both stages' seeds derive from.
    head_estimator_, stage2_sampler_ : ImbalancedNetClassifier, sampler object
        'crt' and 'lws': the net trained in stage two on the embeddings (its
        ``module_`` the new head, for 'lws' a :class:`LearnableWeightScaling`) and
        its sampler.
    lws_scale_ : ndarray of shape (n_classes,)
        'lws': the learned scales.
    tau_, tau_weight_ : float, ndarray of shape (n_classes, n_embedding)
        'tau-norm': the exponent used and the normalised weights.
    tau_scores_ : dict
        'tau-norm' with several candidates: held-out balanced accuracy of each.
    class_means_ : ndarray of shape (n_classes, n_embedding)
        'ncm': unit-norm class means of the normalised embeddings.

    See Also
    --------
    BBNClassifier : one-stage alternative that learns both samplings at once.
    skimbal.sampling.ClassAwareSampler : the class-balanced sampler of stage two.

    Notes
    -----
    ``fit`` takes no ``sample_weight`` (use the stage-one ``class_weight``). The
    tau-norm classifier has no bias (Kang et al. 2020, Sec. 4). ``predict_proba``
    is the softmax of the scores (flat for the cosines of 'ncm'). Learned arrays are
    NumPy arrays, so a model fitted on a GPU unpickles on a CPU-only machine.

    References
    ----------
    .. [1] B. Kang, S. Xie, M. Rohrbach, Z. Yan, A. Gordo, J. Feng, Y. Kalantidis,
       "Decoupling Representation and Classifier for Long-Tailed Recognition",
       ICLR 2020.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import CrossEntropyClassifier, DecoupledClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> stage_one = CrossEntropyClassifier(max_epochs=5, random_state=0)
    >>> clf = DecoupledClassifier(stage_one, method="crt", random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    >>> clf.set_params(estimator__lr=0.01).get_params()["estimator__lr"]
    0.01
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "method": [StrOptions({"crt", "tau-norm", "lws", "ncm"})],
        "stage2_epochs": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "stage2_lr": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "stage2_sampler": [str, HasMethods(["epoch_indices"]), HasMethods(["epoch_data"]), None],
        "tau": [StrOptions({"auto"}), Interval(numbers.Real, 0, None, closed="left"), "array-like"],
        "tau_validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "tau_refit": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, method="crt", stage2_epochs="auto", stage2_lr=None,
                 stage2_sampler=None, tau="auto", tau_validation_fraction=0.2,
                 tau_refit=True, random_state=None):
        self.estimator = estimator
        self.method = method
        self.stage2_epochs = stage2_epochs
        self.stage2_lr = stage2_lr
        self.stage2_sampler = stage2_sampler
        self.tau = tau
        self.tau_validation_fraction = tau_validation_fraction
        self.tau_refit = tau_refit
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit stage one, then re-balance the classifier on the frozen embedding.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Training data.
        y : array-like of shape (n_samples,)
            Labels of any type.

        Returns
        -------
        self : object
        """
        taus = self._tau_candidates()
        X, y = validate_data(self, X, y, dtype=np.float32, allow_nd=True)
        check_classification_targets(y)
        classes, encoded = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                f"but the data contain only one class: {y[0]!r}."
            )
        self.seed_ = draw_seed(self.random_state)
        stage_one_seed = epoch_seed(self.seed_, 0, "stage one")
        search_tau = taus is not None and len(taus) > 1
        rows = slice(None)
        if search_tau:
            rows, held_out = holdout_split(encoded, self.tau_validation_fraction, self.seed_,
                                           "tau holdout")
        self.estimator_ = self._fit_stage_one(X[rows], y[rows], stage_one_seed)
        self.classes_ = self.estimator_.classes_
        if search_tau:
            self._choose_tau(X[held_out], y[held_out], taus)
            if self.tau_refit:  # tau_ is chosen: the final network learns from every row
                self.estimator_ = self._fit_stage_one(X, y, stage_one_seed)
        elif taus is not None:
            self.tau_ = float(taus[0])
        features = target = None  # tau-norm rescales the head: no embedding needed
        if self.method != "tau-norm":
            features, target = self._embed(X), self._encode(y)
        self._fit_stage_two(features, target, seed=epoch_seed(self.seed_, 0, "stage two"))
        return self

    def _tau_candidates(self):
        """Sorted, distinct candidates of ``tau`` (None unless 'tau-norm')."""
        if self.method != "tau-norm":
            return None
        return TAU_GRID if isinstance(self.tau, str) else np.unique(check_grid(self.tau, "tau"))

    def _fit_stage_one(self, X, y, seed):
        estimator = CrossEntropyClassifier() if self.estimator is None else clone(self.estimator)
        if not isinstance(estimator, ImbalancedNetClassifier):
            raise ValueError(
                "DecoupledClassifier needs a skimbal estimator (an ImbalancedNetClassifier) "
                f"as estimator; got {type(estimator).__name__}."
            )
        if estimator.random_state is None:
            estimator.set_params(random_state=int(seed))
        try:
            estimator.fit(X, y)
        except DivergenceError as error:
            raise DivergenceError(f"Stage one ({type(estimator).__name__}): {error}") from error
        module = estimator.module_
        if not has_embedding(module) or not isinstance(getattr(module, "head", None),
                                                       torch.nn.Module):
            raise ValueError(
                "DecoupledClassifier needs a stage-one estimator whose module follows the "
                "embedding protocol (forward_features, forward_head and a head attribute); "
                f"got {type(module).__name__}."
            )
        return estimator

    def _encode(self, y):
        """Encoded labels of ``y`` as a tensor on the stage-one module's device."""
        y = self.estimator_.label_encoding_.encode(y)
        device = next(self.estimator_.module_.parameters()).device
        return torch.as_tensor(y, dtype=torch.long, device=device)

    def _embed(self, X):
        """Embedding of validated X, in evaluation mode and without gradients."""
        module = self.estimator_.module_
        device = next(module.parameters()).device
        size = len(X) if self.estimator_.batch_size in (None, -1) else self.estimator_.batch_size
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                return check_finite_outputs(torch.cat([
                    module.forward_features(torch.as_tensor(X[i:i + size], device=device))
                    for i in range(0, len(X), size)
                ]), "the stage-one embedding")
        finally:
            module.train(was_training)

    def _choose_tau(self, X_holdout, y_holdout, taus):
        """``tau_``: the candidate with the best balanced accuracy on held-out rows."""
        features, target = self._embed(X_holdout), self._encode(y_holdout)
        choice = _choose_tau(self._head_weight(), features, target, taus)
        self.tau_ = choice.value
        self.tau_scores_ = {float(t): float(s) for t, s in zip(taus, choice.scores, strict=True)}

    def _head_weight(self):
        """A copy of the stage-one head's weight matrix (tau-norm needs one)."""
        head = self.estimator_.module_.head
        weight = getattr(head, "weight", None)
        if not isinstance(weight, torch.Tensor) or weight.shape[0] != len(self.classes_):
            raise ValueError(
                "tau-norm needs a head with a weight matrix of shape (n_classes, "
                f"n_embedding); got {type(head).__name__}."
            )
        return weight.detach().clone()

    def _fit_stage_two(self, features, target, *, seed):
        """Re-balance the classifier on fixed embeddings of the training data."""
        n_classes = len(self.classes_)
        if self.method == "ncm":
            self.class_means_ = _class_means(features, target, n_classes).cpu().numpy()
        elif self.method == "tau-norm":
            self.tau_weight_ = tau_normalized_weight(self._head_weight(), self.tau_).cpu().numpy()
        else:
            self._fit_head(self.estimator_.module_.head, features, target, n_classes, seed)

    def _fit_head(self, head, features, target, n_classes, seed):
        """Train a re-initialised head ('crt') or per-class scales ('lws')."""
        head = copy.deepcopy(head)
        with seeded_torch(seed):
            if self.method == "crt":
                if reset_parameters(head) == 0:
                    raise ValueError(
                        f"cRT re-initialises the head, but {type(head).__name__} has no "
                        "sub-module with a reset_parameters() method."
                    )
            else:
                head = LearnableWeightScaling(head, n_classes)
        sampler = check_sampler(self.stage2_sampler)
        sampler = ClassAwareSampler(q=0.0) if sampler is None else copy.deepcopy(sampler)
        self.stage2_sampler_ = sampler
        stage_one = self.estimator_
        routed = stage_one.get_params_for("optimizer")
        self.head_estimator_ = ImbalancedNetClassifier(
            head.cpu(), optimizer=stage_one.optimizer,  # a parameter: kept off the device
            lr=stage_one.lr if self.stage2_lr is None else self.stage2_lr,
            max_epochs=self.stage2_epochs, batch_size=stage_one.batch_size,
            sampler=sampler, random_state=seed, device=stage_one.device,
            classes=np.arange(n_classes), **{f"optimizer__{k}": v for k, v in routed.items()},
        )
        self.head_estimator_.fit(features.cpu().numpy(), target.cpu().numpy())
        if self.method == "lws":
            self.lws_scale_ = self.head_estimator_.module_.scale.detach().cpu().numpy()

    # ------------------------------------------------------------ predict
    def _scores(self, X):
        """Re-balanced scores of X, a tensor on the stage-one module's device."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float32, allow_nd=True)
        features = self._embed(X)
        if self.method == "ncm":
            means = torch.as_tensor(self.class_means_, device=features.device)
            return torch.nn.functional.normalize(features, dim=1) @ means.T
        if self.method == "tau-norm":
            return features @ torch.as_tensor(self.tau_weight_, device=features.device).T
        return self.head_estimator_.decision_scores(TensorDataset(features))

    def decision_function(self, X):
        """Re-balanced scores (n_samples, n_classes); for 2 classes, the second minus the first."""
        scores = self._scores(X).cpu().numpy()
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def predict_proba(self, X):
        """Softmax of the re-balanced logits of X, shape (n_samples, n_classes)."""
        return check_finite_outputs(torch.softmax(self._scores(X), 1).cpu().numpy(), "the scores")

    def predict(self, X):
        """Predicted labels of X, shape (n_samples,)."""
        index = self._scores(X).argmax(1).cpu().numpy()
        return self.classes_[index]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags


def _choose_tau(weight, features, target, taus):
    """The :class:`GridChoice` of ``tau`` on held-out embeddings (ties: the smallest)."""

    def predict(tau):
        return (features @ tau_normalized_weight(weight, tau).T).argmax(1).cpu().numpy()

    return choose_by_balanced_accuracy(taus, predict, target.cpu().numpy(), reference=0.0)


def _class_means(features, target, n_classes):
    """Unit-norm means of the L2-normalised embeddings of each class."""
    normalised = torch.nn.functional.normalize(features, dim=1)
    sums = torch.zeros(n_classes, features.shape[1], dtype=features.dtype, device=features.device)
    sums.index_add_(0, target, normalised)
    counts = torch.bincount(target, minlength=n_classes).clamp_min(1).unsqueeze(1)
    return torch.nn.functional.normalize(sums / counts, dim=1)
