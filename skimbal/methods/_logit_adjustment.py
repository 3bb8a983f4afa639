"""Logit adjustment: by the class prior in the loss, or after training.

Menon et al. (ICLR 2021): ``z_j - tau * log(pi_j)`` are balanced-error-optimal
scores when ``z`` estimates the training posterior. The adjustment goes into the
loss (:class:`LogitAdjustedClassifier`, :class:`BalancedSoftmaxClassifier`: train on
``z + tau log pi``, predict with ``z``) or into the prediction
(:class:`PostHocLogitAdjustedClassifier`: train plain cross-entropy, predict with
``z - tau log pi``, ``tau`` fixed or chosen on held-out training rows).
"""

import numbers

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from .._core.base import ImbalancedNetClassifier
from .._core.data import TensorDataset
from .._core.docstrings import substitute_docstring
from ..losses import BalancedSoftmaxLoss, LogitAdjustedLoss
from ._holdout import TAU_GRID, check_grid, choose_by_balanced_accuracy, holdout_split

__all__ = [
    "BalancedSoftmaxClassifier",
    "LogitAdjustedClassifier",
    "PostHocLogitAdjustedClassifier",
]

#: Held-out fraction of every class for ``tau='auto'`` without ``validation_fraction``.
TAU_HOLDOUT_FRACTION = 0.2


@substitute_docstring
class LogitAdjustedClassifier(ImbalancedNetClassifier):
    """Network trained with the logit-adjusted loss; plain logits at prediction.

    ``L = CE(z + tau * log(pi), y)`` with ``pi`` the class prior of the training
    split (:class:`skimbal.losses.LogitAdjustedLoss`); ``predict`` is the argmax of
    the raw logits ``z``, which then estimate balanced-error-optimal scores.

    Parameters
    ----------
    {module}
    tau : float >= 0, default=1.0
        Temperature of the adjustment (Menon et al., ICLR 2021: 1 is the
        balanced-error choice). ``tau=0`` is cross-entropy, ``tau=1`` balanced
        softmax.
    {net_params}

    See Also
    --------
    PostHocLogitAdjustedClassifier : the adjustment applied after CE training.

    References
    ----------
    .. [1] A. K. Menon, S. Jayasumana, A. S. Rawat, H. Jain, A. Veit, S. Kumar,
       "Long-tail learning via logit adjustment", ICLR 2021.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import LogitAdjustedClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LogitAdjustedClassifier(tau=1.5, max_epochs=5, random_state=0).fit(X, y)
    >>> clf.criterion_.tau
    1.5
    """

    _parameter_constraints = {
        **ImbalancedNetClassifier._parameter_constraints,
        "tau": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(self, module=None, *, criterion=LogitAdjustedLoss, tau=1.0, **kwargs):
        super().__init__(module, criterion=criterion, **kwargs)
        self.tau = tau

    def criterion_params(self):
        return {**super().criterion_params(), "tau": self.tau}


@substitute_docstring
class BalancedSoftmaxClassifier(ImbalancedNetClassifier):
    """Network trained with balanced softmax; plain logits at prediction.

    ``L = CE(z + log(n), y)``, the softmax of the training prior times the balanced
    class probabilities (Ren et al., NeurIPS 2020), identical to the logit-adjusted
    loss with ``tau=1`` (:class:`skimbal.losses.BalancedSoftmaxLoss`).

    Parameters
    ----------
    {module}
    {net_params}

    References
    ----------
    .. [1] J. Ren, C. Yu, S. Sheng, X. Ma, H. Zhao, S. Yi, H. Li, "Balanced
       Meta-Softmax for Long-Tailed Visual Recognition", NeurIPS 2020.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skimbal import BalancedSoftmaxClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = BalancedSoftmaxClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    def __init__(self, module=None, *, criterion=BalancedSoftmaxLoss, **kwargs):
        super().__init__(module, criterion=criterion, **kwargs)


@substitute_docstring
class PostHocLogitAdjustedClassifier(ImbalancedNetClassifier):
    """Plain cross-entropy training, logits adjusted by the class prior at prediction.

    ``predict`` returns ``argmax_j (z_j - tau * log pi_j)`` with ``pi`` the class
    prior of the training split (Menon et al., ICLR 2021, Sec. 4, "post-hoc logit
    adjustment"); ``decision_function`` returns the adjusted logits and
    ``predict_proba`` their softmax.

    With ``tau='auto'`` the temperature is chosen inside ``fit`` from ``tau_grid``
    by the balanced accuracy on a held-out stratified part of the **training data
    passed to fit**: the validation part of ``validation_fraction`` or, when that is
    None, 20 % of every class (a class too small to spare a sample stays whole in
    training). Ties go to the value closest to 1
    (:func:`skimbal.methods._holdout.choose_by_balanced_accuracy`). In the second
    case the network is then, by default, trained again on all the training data
    with ``tau_`` kept (``tau_refit``). No other data are looked at: choosing
    ``tau`` on test data would inflate the reported accuracy.

    Parameters
    ----------
    {module}
    tau : float >= 0 or 'auto', default=1.0
        Temperature; 1 is the paper's balanced-error choice, 0 plain CE.
    tau_grid : array-like of float >= 0, default=None
        Candidates for ``tau='auto'``; None uses ``0, 0.1, ..., 2``.
    tau_refit : bool, default=True
        With ``tau='auto'`` and no ``validation_fraction``: after ``tau_`` is chosen
        on the 20 % held out, train the network again on all the training data (as
        ``GridSearchCV(refit=True)`` does), so that the choice does not cost the
        final model a fifth of the data; training then runs twice. False keeps the
        network trained on 80 %. With a ``validation_fraction`` the network trains
        on the training part only, as always. Only a fresh ``fit`` refits, never
        ``partial_fit`` or a ``warm_start`` fit.
    {net_params}

    Attributes
    ----------
    tau_ : float
        The temperature used by ``predict``.
    tau_scores_ : ndarray of shape (n_grid,)
        Held-out balanced accuracy of every ``tau_grid`` value (``tau='auto'``
        only).

    Notes
    -----
    A class absent from the training part (possible with ``classes``) keeps its
    raw logit: ``log pi_j = -inf`` would make it win every prediction. During a
    fresh ``tau='auto'`` fit the validation score ``valid_bacc`` is that of the raw
    logits, as ``tau_`` is chosen at the end.

    References
    ----------
    .. [1] A. K. Menon, S. Jayasumana, A. S. Rawat, H. Jain, A. Veit, S. Kumar,
       "Long-tail learning via logit adjustment", ICLR 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from skimbal import PostHocLogitAdjustedClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(0, 1, (180, 2)), rng.normal(1.5, 1, (20, 2))]
    >>> y = np.r_[np.zeros(180), np.ones(20)]
    >>> clf = PostHocLogitAdjustedClassifier(tau="auto", max_epochs=5, random_state=0)
    >>> clf.fit(X, y).tau_scores_.shape
    (21,)
    """

    _parameter_constraints = {
        **ImbalancedNetClassifier._parameter_constraints,
        "tau": [StrOptions({"auto"}), Interval(numbers.Real, 0, None, closed="left")],
        "tau_grid": [None, "array-like"],
        "tau_refit": ["boolean"],
    }

    # True while fit trains the network again on all the data (tau_refit).
    _refitting = False
    # Rows held out to choose tau, between the split and the choice of one fit.
    _holdout_index = None

    def __init__(self, module=None, *, criterion=torch.nn.CrossEntropyLoss, tau=1.0,
                 tau_grid=None, tau_refit=True, **kwargs):
        super().__init__(module, criterion=criterion, **kwargs)
        self.tau = tau
        self.tau_grid = tau_grid
        self.tau_refit = tau_refit

    def _chooses_tau(self):
        return isinstance(self.tau, str) and not self._refitting

    def holds_out_validation(self):
        """``tau='auto'`` holds out rows to choose tau; they are also the validation part."""
        return super().holds_out_validation() or isinstance(self.tau, str)

    def _tau_candidates(self):
        return TAU_GRID if self.tau_grid is None else check_grid(self.tau_grid, "tau_grid")

    def _split(self, y_encoded):
        """The base's split; ``tau='auto'`` without a validation part holds out 20 %."""
        if not self._chooses_tau():
            return super()._split(y_encoded)
        if self.validation_fraction is None:
            train, holdout = holdout_split(y_encoded, TAU_HOLDOUT_FRACTION, self.seed_,
                                           stream="tau holdout")
        else:
            train, holdout = super()._split(y_encoded)
        if len(holdout) == 0:
            raise ValueError(
                "tau='auto' needs held-out training samples, but every class is too small "
                "to spare one; pass a float tau or more data."
            )
        self._holdout_index = holdout
        return train, holdout

    def _fit(self, X, y, sample_weight, *, fresh, routing, **kwargs):
        if self._chooses_tau():
            self._tau_candidates()  # a bad grid fails before training
        if fresh and not self._refitting:
            for name in ("tau_", "tau_scores_"):
                vars(self).pop(name, None)
        if not isinstance(self.tau, str):
            self.tau_ = float(self.tau)
        try:
            super()._fit(X, y, sample_weight, fresh=fresh, routing=routing, **kwargs)
            if self._chooses_tau():
                self._choose_tau(X, y)
        finally:
            vars(self).pop("_holdout_index", None)
        if (self._chooses_tau() and fresh and routing == "fit" and self.tau_refit
                and self.validation_fraction is None):
            choice = self.tau_, self.tau_scores_
            self._refitting = True
            try:
                super()._fit(X, y, sample_weight, fresh=True, routing=routing, **kwargs)
            finally:
                del self._refitting
            self.tau_, self.tau_scores_ = choice
        return self

    def _choose_tau(self, X, y):
        """``tau_`` and ``tau_scores_`` from the held-out rows of this fit."""
        index = self._holdout_index
        X_holdout = torch.as_tensor(self._validate_X(X, reset=False)[index],
                                    device=self._device())
        y_holdout = self.label_encoding_.encode(y)[index]
        vars(self).pop("tau_", None)  # raw logits: choose among the candidates afresh
        logits = self.decision_scores(TensorDataset(X_holdout))
        log_prior = self._log_prior(logits)
        choice = choose_by_balanced_accuracy(
            self._tau_candidates(),
            lambda tau: (logits - tau * log_prior).argmax(1).cpu().numpy(),
            y_holdout,
            reference=1.0,
        )
        self.tau_, self.tau_scores_ = choice.value, choice.scores

    def _log_prior(self, logits):
        """``log pi_j`` of the training prior; 0 for classes absent from training."""
        prior = torch.as_tensor(self.class_prior_, dtype=logits.dtype, device=logits.device)
        return torch.where(prior > 0, torch.log(prior.clamp_min(torch.finfo(logits.dtype).tiny)),
                           0.0)

    def batch_scores(self, output):
        """The adjusted logits ``z - tau_ * log(prior)`` (raw before ``tau_`` is known)."""
        logits = output.logits
        tau = getattr(self, "tau_", None)
        if tau is None:
            return logits
        return logits - tau * self._log_prior(logits)
