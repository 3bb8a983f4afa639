"""Post-hoc logit adjustment: plain cross-entropy, logits shifted by the prior at prediction.

Menon et al. (ICLR 2021, Sec. 4): a network trained with the plain loss
estimates the (imbalanced) posterior; subtracting ``tau * log(prior)`` from its
logits at prediction gives a balanced decision. ``tau`` is fixed or chosen on
held-out training data.
"""

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score
from sklearn.utils import check_random_state
from skorch.utils import to_numpy

from ._base import ImbalancedNetClassifier
from ._validation import check_bool, check_non_negative, stratified_holdout

__all__ = ["PostHocLogitAdjustedClassifier"]

# Held-out fraction of every class for tau='auto' when validation_fraction is None.
_TAU_HOLDOUT_FRACTION = 0.2


class PostHocLogitAdjustedClassifier(ImbalancedNetClassifier):
    """Plain cross-entropy training, logits adjusted by the class prior at prediction.

    ``predict`` returns ``argmax_j (z_j - tau * log pi_j)`` with ``pi`` the class
    prior of the training split (Menon et al., ICLR 2021, Sec. 4 "post-hoc
    logit adjustment"); ``decision_function`` returns the adjusted logits and
    ``predict_proba`` their softmax.

    With ``tau='auto'`` the temperature is chosen inside ``fit`` from
    ``tau_grid`` by the balanced accuracy on a held-out stratified part of the
    **training data passed to fit**: the validation split of
    ``validation_fraction`` or, when that is None, 20 % of every class (a class
    too small to spare a sample stays whole in training). In the second case the
    network is then, by default, trained again on all the training data with
    ``tau_`` kept (``tau_refit``). No other data are looked at: choosing ``tau``
    on test data would inflate the reported accuracy.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The network (default :class:`skimbal.nn.MLP`).
    tau : float >= 0 or 'auto', default=1.0
        Temperature; 1 is the paper's balanced-error choice, 0 plain CE.
    tau_grid : array-like of float >= 0, default=None
        Candidates for ``tau='auto'``; None uses ``0, 0.1, ..., 2``. Ties go to
        the value closest to 1.
    tau_refit : bool, default=True
        With ``tau='auto'`` and no ``validation_fraction``: after ``tau_`` is
        chosen on the 20 % held out, train the network again on all the training
        data (as ``GridSearchCV(refit=True)`` does), so that the choice does not
        cost the final model a fifth of the data; training then runs twice.
        False keeps the network trained on 80 %. With a ``validation_fraction``
        the network trains on the training split only, as always. ``partial_fit``
        never refits.
    **kwargs
        Every parameter of :class:`skimbal.ImbalancedNetClassifier`; the
        criterion defaults to :class:`torch.nn.CrossEntropyLoss`.

    Attributes
    ----------
    tau_ : float
        The temperature used by ``predict``.
    tau_scores_ : ndarray of shape (n_grid,)
        Held-out balanced accuracy of every ``tau_grid`` value (``tau='auto'``
        only).

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

    # True while fit trains the network again on all the data (tau_refit).
    _refitting = False

    def __init__(self, module=None, *, tau=1.0, tau_grid=None, tau_refit=True, **kwargs):
        kwargs.setdefault("criterion", torch.nn.CrossEntropyLoss)
        super().__init__(module, **kwargs)
        self.tau = tau
        self.tau_grid = tau_grid
        self.tau_refit = tau_refit

    def _check_params(self):
        super()._check_params()
        if not (isinstance(self.tau, str) and self.tau == "auto"):
            check_non_negative(self.tau, "tau")
        self._tau_candidates()
        check_bool(self.tau_refit, "tau_refit")

    def _tau_candidates(self):
        if self.tau_grid is None:
            return np.round(np.linspace(0.0, 2.0, 21), 10)
        grid = np.asarray(self.tau_grid, dtype=np.float64).ravel()
        if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid < 0):
            raise ValueError(
                f"tau_grid must hold at least one finite value >= 0, got {self.tau_grid!r}."
            )
        return grid

    def _split_indices(self, y_encoded):
        if self._refitting:
            return super()._split_indices(y_encoded)
        if self.tau == "auto" and self.validation_fraction is None:
            rng = check_random_state(self.random_state)
            train, holdout = stratified_holdout(y_encoded, _TAU_HOLDOUT_FRACTION, rng)
        else:
            train, holdout = super()._split_indices(y_encoded)
        if self.tau == "auto" and len(holdout) == 0:
            raise ValueError(
                "tau='auto' needs held-out training samples, but every class is too small "
                "to spare one; pass a float tau or more data."
            )
        self._holdout_index = holdout
        return train, holdout

    def _fit(self, X, y, sample_weight, reset, **fit_params):
        try:
            super()._fit(X, y, sample_weight, reset, **fit_params)
            if self.tau != "auto":
                self.tau_ = float(self.tau)
                return self
            self._select_tau(X, y)
        finally:
            vars(self).pop("_holdout_index", None)
        if reset and self.tau_refit and self.validation_fraction is None:
            tau, scores = self.tau_, self.tau_scores_
            self._refitting = True
            try:
                super()._fit(X, y, sample_weight, True, **fit_params)
            finally:
                del self._refitting
            self.tau_, self.tau_scores_ = tau, scores
        return self

    def _select_tau(self, X, y):
        """Pick ``tau_`` on the held-out rows of the training data."""
        index = self._holdout_index
        # A DataFrame keeps its feature names (no warning at prediction); anything
        # else is validated into an array first.
        if hasattr(X, "iloc"):
            X_holdout = X.iloc[index]
        else:
            X_holdout = self._validate_X(X, reset=False)[index]
        y_holdout = self._encode_targets(y, reset=False)[index]
        logits = super()._logits(X_holdout)
        log_prior = self._log_prior(logits)
        grid = self._tau_candidates()
        scores = np.array([
            balanced_accuracy_score(y_holdout, to_numpy((logits - tau * log_prior).argmax(1)))
            for tau in grid
        ])
        best = np.flatnonzero(scores == scores.max())
        self.tau_ = float(grid[best[np.argmin(np.abs(grid[best] - 1.0))]])
        self.tau_scores_ = scores

    def _log_prior(self, logits):
        prior = torch.as_tensor(self.class_prior_, dtype=logits.dtype, device=logits.device)
        return torch.log(prior.clamp_min(torch.finfo(logits.dtype).tiny))

    def _logits(self, X):
        logits = super()._logits(X)
        return logits - self.tau_ * self._log_prior(logits)
