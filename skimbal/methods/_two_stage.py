"""Decoupled two-stage training: cRT, tau-normalisation, LWS and NCM.

Kang et al. (ICLR 2020) learn the representation with ordinary
instance-balanced training and re-balance only the classifier afterwards.
:class:`DecoupledClassifier` is a meta-estimator: stage one fits a clone of any
skimbal estimator whose module follows the embedding protocol, stage two
computes the embedding of the training data once, without gradients, and
adjusts the classifier on it; the backbone is never touched again.
"""

import copy
import numbers
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import ImbalancedNetClassifier
from ._cross_entropy import CrossEntropyClassifier
from ._validation import stratified_holdout
from .nn import has_embedding
from .nn._bbn import reset_parameters
from .sampling import ClassAwareSampler, check_sampler

__all__ = ["DecoupledClassifier", "tau_normalized_weight"]

#: Candidates of ``tau`` searched when ``tau='auto'``: 0 to 2 in steps of 0.1.
TAU_GRID = np.round(np.linspace(0.0, 2.0, 21), 2)


def tau_normalized_weight(weight, tau):
    """Rescale each class's weight vector: ``w_j / ||w_j||^tau``.

    Parameters
    ----------
    weight : torch.Tensor of shape (n_classes, n_embedding)
        Classifier weights, one row per class.
    tau : float
        Exponent; 0 leaves the weights unchanged, 1 gives unit-norm rows.

    Returns
    -------
    weight : torch.Tensor of shape (n_classes, n_embedding)

    Examples
    --------
    >>> import torch
    >>> from skimbal._decoupling import tau_normalized_weight
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
    scales start at 1; the head's own parameters do not require gradients.

    Parameters
    ----------
    head : torch.nn.Module
        The stage-one classifier (used as is; pass a copy).
    n_classes : int
        Number of logits.
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

    Stage one fits a clone of ``estimator`` as it is, with instance-balanced
    sampling. Stage two computes the embedding ``f(x)`` of the training data once
    (no gradients, evaluation mode) and re-balances the classifier on it
    (Kang et al. 2020, Sec. 4):

    - ``'crt'`` (classifier re-training): a copy of the head is re-initialised
      and trained for ``stage2_epochs`` epochs on the frozen embeddings with
      class-balanced sampling (``ClassAwareSampler(q=0)``).
    - ``'tau-norm'``: the weights are rescaled without training,
      ``w_j <- w_j / ||w_j||^tau``, and the bias is dropped, so
      ``z_j = w_j^T f(x) / ||w_j||^tau``.
    - ``'lws'`` (learnable weight scaling): one scale ``f_j`` per class on top of
      the frozen head, ``z_j = f_j (w_j^T f(x) + b_j)``, learned with
      class-balanced sampling.
    - ``'ncm'`` (nearest class mean): ``z_j = cos(f(x), mu_j)`` with ``mu_j`` the
      mean of the L2-normalised training embeddings of class ``j``.

    The backbone is never updated in stage two.

    Parameters
    ----------
    estimator : skimbal estimator, default=None
        Stage-one estimator, cloned at fit; its module must follow the embedding
        protocol (``forward_features``, ``forward_head``, attribute ``head``).
        None uses ``CrossEntropyClassifier()``. Its parameters are reachable as
        ``estimator__<name>`` (``get_params``, ``set_params``, grid search).
    method : {'crt', 'tau-norm', 'lws', 'ncm'}, default='crt'
        How the classifier is re-balanced.
    stage2_epochs : int, default=10
        Epochs of classifier training for 'crt' and 'lws' (Kang et al. 2020,
        Sec. 5: 10 epochs).
    stage2_lr : float, default=None
        Learning rate of stage two; None uses the stage-one estimator's ``lr``.
        The optimizer class, its other ``optimizer__*`` settings, the batch size
        and the device are the stage-one estimator's.
    stage2_sampler : str or sampler object, default=None
        Sampler of stage two ('crt', 'lws'); None is class-balanced sampling,
        ``ClassAwareSampler(q=0.0)``, as in the paper.
    tau : 'auto', float or array-like of float, default='auto'
        Exponent of 'tau-norm'. 'auto' searches 0, 0.1, ..., 2; an array-like gives
        the candidates. With more than one candidate, stage one trains on
        ``1 - tau_validation_fraction`` of every class and ``tau_`` is the candidate
        with the best balanced accuracy on the held-out rest of the training data
        (the smallest one on ties). Test data are never involved.
    tau_validation_fraction : float in (0, 1), default=0.2
        Fraction of every class held out to choose ``tau``.
    tau_refit : bool, default=True
        After ``tau`` is chosen, train stage one again on *all* the training data
        and apply ``tau_`` to that network's head (as ``GridSearchCV(refit=True)``
        does), so that choosing ``tau`` does not cost the final model the held-out
        part of the data. Stage one then trains twice. False keeps the network
        trained on ``1 - tau_validation_fraction`` of the data.
    random_state : int, RandomState instance or None, default=None
        Seeds the hold-out split, the head re-initialisation and the sampling of
        stage two. When the stage-one estimator's own ``random_state`` is None it
        receives a seed drawn from this one.

    Attributes
    ----------
    estimator_ : estimator
        The fitted stage-one estimator (its backbone is the final backbone).
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of str
        Names of the features, when X had string column names.
    head_estimator_ : ImbalancedNetClassifier
        'crt' and 'lws': the network trained in stage two on the embeddings; its
        ``module_`` is the new head (for 'lws' a :class:`LearnableWeightScaling`).
    stage2_sampler_ : sampler object
        'crt' and 'lws': the sampler stage two used.
    lws_scale_ : ndarray of shape (n_classes,)
        'lws': the learned scales.
    tau_ : float
        'tau-norm': the exponent used.
    tau_scores_ : dict
        'tau-norm' with several candidates: balanced accuracy on the held-out
        training part for every candidate.
    class_means_ : ndarray of shape (n_classes, n_embedding)
        'ncm': unit-norm class means of the normalised embeddings.

    See Also
    --------
    BBNClassifier : one-stage alternative that learns both samplings at once.
    skimbal.sampling.ClassAwareSampler : the class-balanced sampler of stage two.

    Notes
    -----
    ``fit`` takes no ``sample_weight``: set weights on the stage-one estimator's
    loss (``class_weight``) instead. The tau-norm classifier has no bias (Kang
    et al. 2020, Sec. 4), so with ``tau=0`` it equals the stage-one classifier
    only when the head has none. ``predict_proba`` is the softmax of
    :meth:`decision_function`; for 'ncm' the cosines lie in [-1, 1] and the
    probabilities are flat, though ordered.

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
        "stage2_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "stage2_lr": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "stage2_sampler": [
            str, HasMethods(["epoch_indices"]), HasMethods(["epoch_data"]), None
        ],
        "tau": [StrOptions({"auto"}), Interval(numbers.Real, 0, None, closed="left"), "array-like"],
        "tau_validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "tau_refit": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        method="crt",
        stage2_epochs=10,
        stage2_lr=None,
        stage2_sampler=None,
        tau="auto",
        tau_validation_fraction=0.2,
        tau_refit=True,
        random_state=None,
    ):
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
        self._validate_params()
        taus = self._tau_candidates()
        X, y = validate_data(self, X, y, dtype=np.float32, allow_nd=True)
        check_classification_targets(y)
        encoded = LabelEncoder().fit_transform(y)
        if len(np.unique(encoded)) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                f"but the data contain only one class: {y[0]!r}."
            )
        rng = check_random_state(self.random_state)
        search_tau = self.method == "tau-norm" and len(taus) > 1
        if search_tau:
            fit_index, holdout_index = stratified_holdout(
                encoded, self.tau_validation_fraction, rng
            )
        else:
            fit_index, holdout_index = np.arange(len(y)), None
        stage_one_seed = int(rng.randint(np.iinfo(np.int32).max))
        stage_two_seed = int(rng.randint(np.iinfo(np.int32).max))

        self.estimator_ = self._fit_stage_one(X[fit_index], y[fit_index], stage_one_seed)
        self.classes_ = self.estimator_.classes_
        if search_tau:
            self._choose_tau(X[holdout_index], y[holdout_index], taus)
            if self.tau_refit:
                # tau_ is chosen; the final network learns from every training sample.
                self.estimator_ = self._fit_stage_one(X, y, stage_one_seed)
        elif self.method == "tau-norm":
            self.tau_ = float(taus[0])
        if self.method == "tau-norm":
            # tau-norm rescales the head: no embedding of the training data needed.
            features = target = None
        else:
            features, target = self._embed(X), self._encoded_target(y)
        self._fit_stage_two(features, target, seed=stage_two_seed)
        return self

    def _tau_candidates(self):
        if self.method != "tau-norm":
            return None
        if isinstance(self.tau, str):
            return TAU_GRID
        taus = np.atleast_1d(np.asarray(self.tau, dtype=np.float64))
        if taus.ndim != 1 or len(taus) == 0 or not np.all(np.isfinite(taus)) or np.any(taus < 0):
            raise ValueError(f"tau must be 'auto' or non-negative numbers, got {self.tau!r}.")
        return np.unique(taus)

    def _fit_stage_one(self, X, y, seed):
        estimator = CrossEntropyClassifier() if self.estimator is None else clone(self.estimator)
        params = estimator.get_params(deep=False)
        if "random_state" in params and params["random_state"] is None:
            estimator.set_params(random_state=int(seed))
        if not isinstance(estimator, ImbalancedNetClassifier):
            raise ValueError(
                "DecoupledClassifier needs a skimbal estimator (an ImbalancedNetClassifier) "
                f"as estimator; got {type(estimator).__name__}."
            )
        estimator.fit(X, y)
        module = getattr(estimator, "module_", None)
        if not has_embedding(module) or not isinstance(getattr(module, "head", None),
                                                       torch.nn.Module):
            raise ValueError(
                "DecoupledClassifier needs a stage-one estimator whose module follows the "
                "embedding protocol (forward_features, forward_head and a head attribute); "
                f"got {type(module).__name__}."
            )
        return estimator

    def _encoded_target(self, y):
        return torch.as_tensor(
            np.searchsorted(self.classes_, y), dtype=torch.long, device=self._device()
        )

    def _device(self):
        return self.estimator_._compute_device()

    def _embed(self, X):
        """Embedding of validated X, in evaluation mode and without gradients."""
        module = self.estimator_.module_
        batch_size = self.estimator_.batch_size
        batch_size = len(X) if batch_size in (None, -1) else batch_size
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                chunks = [
                    module.forward_features(self.estimator_._to_device(X[start:start + batch_size]))
                    for start in range(0, len(X), batch_size)
                ]
        finally:
            module.train(was_training)
        return torch.cat(chunks)

    def _choose_tau(self, X_holdout, y_holdout, taus):
        """``tau_``: the candidate with the best balanced accuracy on held-out rows."""
        features = self._embed(X_holdout)
        target = self._encoded_target(y_holdout)
        self.tau_scores_ = _score_taus(self._head_weight(), features, target, taus)
        self.tau_ = float(max(self.tau_scores_, key=lambda t: (self.tau_scores_[t], -t)))

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
        with torch.random.fork_rng(devices=_cuda_devices()):
            torch.manual_seed(seed)
            if self.method == "crt":
                if reset_parameters(head) == 0:
                    raise ValueError(
                        f"cRT re-initialises the head, but {type(head).__name__} has no "
                        "sub-module with a reset_parameters() method."
                    )
            else:
                head = LearnableWeightScaling(head, n_classes)
        sampler = check_sampler(self.stage2_sampler)
        self.stage2_sampler_ = ClassAwareSampler(q=0.0) if sampler is None else sampler
        stage_one = self.estimator_
        optimizer_params = {
            f"optimizer__{name}": value
            for name, value in stage_one.get_params_for("optimizer").items()
        }
        self.head_estimator_ = ImbalancedNetClassifier(
            head,
            optimizer=stage_one.optimizer,
            lr=stage_one.lr if self.stage2_lr is None else self.stage2_lr,
            max_epochs=self.stage2_epochs,
            batch_size=stage_one.batch_size,
            sampler=self.stage2_sampler_,
            random_state=seed,
            device=stage_one.device,
            **optimizer_params,
        )
        self.head_estimator_.fit(features.cpu().numpy(), target.cpu().numpy())
        if self.method == "lws":
            self.lws_scale_ = self.head_estimator_.module_.scale.detach().cpu().numpy()

    # ------------------------------------------------------------ predict
    def decision_function(self, X):
        """Re-balanced logits (cosines for 'ncm').

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), or (n_samples,) for two
            classes (score of the second class minus that of the first).
        """
        scores = self._scores(X).cpu().numpy()
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def _scores(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float32, allow_nd=True)
        features = self._embed(X)
        device = features.device
        with torch.no_grad():
            if self.method == "ncm":
                means = torch.as_tensor(self.class_means_, device=device)
                return torch.nn.functional.normalize(features, dim=1) @ means.T
            if self.method == "tau-norm":
                return features @ torch.as_tensor(self.tau_weight_, device=device).T
            head = self.head_estimator_.module_
            was_training = head.training
            head.eval()
            try:
                return head(features)
            finally:
                head.train(was_training)

    def predict_proba(self, X):
        """Softmax of the re-balanced logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return torch.softmax(self._scores(X), dim=1).cpu().numpy()

    def predict(self, X):
        """Predicted labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        index = self._scores(X).argmax(1).cpu().numpy()
        return self.classes_[index]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags


def _score_taus(weight, features, target, taus):
    """Balanced accuracy of every candidate ``tau`` on held-out training embeddings."""
    y_true = target.cpu().numpy()
    scores = {}
    with warnings.catch_warnings():
        # The held-out part may lack classes that the predictions contain.
        warnings.simplefilter("ignore", UserWarning)
        for tau in taus:
            logits = features @ tau_normalized_weight(weight, float(tau)).T
            scores[float(tau)] = float(
                balanced_accuracy_score(y_true, logits.argmax(1).cpu().numpy())
            )
    return scores


def _class_means(features, target, n_classes):
    """Unit-norm means of the L2-normalised embeddings of each class."""
    normalised = torch.nn.functional.normalize(features, dim=1)
    sums = torch.zeros(n_classes, features.shape[1], dtype=features.dtype, device=features.device)
    sums.index_add_(0, target, normalised)
    counts = torch.bincount(target, minlength=n_classes).clamp_min(1).unsqueeze(1)
    return torch.nn.functional.normalize(sums / counts, dim=1)


def _cuda_devices():
    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
