"""Class Rectification Loss (Dong, Gong and Zhu, ICCV 2017; TPAMI 2019).

The estimator wires three parts together: the training objective
``alpha * CRL + (1 - alpha) * data loss`` (:class:`skimbal.losses._crl.CRLCriterion`
around :class:`skimbal.losses.ClassRectificationLoss`), the embedding of the
batch for the instance level (:class:`skimbal._core.batch.ModelOutput`) and the
per-epoch mining counts (:class:`skimbal.callbacks.CRLStatistics`). Multi-label
targets are handled by the base (``accepts_multilabel``).
"""

import numbers

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions

from .._core.base import ImbalancedNetClassifier
from .._core.batch import ModelOutput, as_model_output, as_target
from .._core.docstrings import substitute_docstring
from ..callbacks import CRLStatistics
from ..losses import AttributeBCELoss, ClassRectificationLoss
from ..losses._crl import CRLCriterion
from ..nn import has_embedding

__all__ = ["CRLClassifier", "crl_imbalance_alpha"]


def crl_imbalance_alpha(class_counts, eta=1.0):
    r"""Weight of the CRL term derived from the training set's imbalance.

    ``alpha = clip(eta * Omega_imb, 0, 1)`` (Dong et al. 2019, Eq. 11 sets
    ``alpha = eta * Omega_imb``). The papers leave ``Omega_imb`` loosely
    specified; **our choice** is one minus the minority-to-majority ratio,
    averaged over the tasks (attributes):

    .. math:: \Omega_{imb} = \mathrm{mean}_t \Big(1 - \frac{\min_j n_{tj}}{\max_j n_{tj}}\Big)

    so a balanced training set gives 0 (plain cross-entropy) and a very
    imbalanced one approaches ``eta``.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,) or (n_attributes, 2)
        Training counts, as in ``class_counts_`` of a fitted estimator.
    eta : float, default=1.0
        Scale of the imbalance measure.

    Returns
    -------
    alpha : float in [0, 1]

    Examples
    --------
    >>> from skimbal.methods._crl import crl_imbalance_alpha
    >>> crl_imbalance_alpha([100, 10], eta=0.5)
    0.45
    """
    counts = np.atleast_2d(np.asarray(class_counts, dtype=np.float64))
    if counts.shape[1] < 2 or np.any(counts < 0) or np.any(counts.max(1) <= 0):
        raise ValueError("class_counts must hold non-negative counts of at least 2 classes.")
    omega = float(np.mean(1.0 - counts.min(1) / counts.max(1)))
    return float(np.clip(eta * omega, 0.0, 1.0))


@substitute_docstring
class CRLClassifier(ImbalancedNetClassifier):
    """Network trained with the Class Rectification Loss plus cross-entropy.

    ``L = alpha * CRL + (1 - alpha) * CE`` (Dong, Gong and Zhu, ICCV 2017; TPAMI
    2019), where CRL (:class:`skimbal.losses.ClassRectificationLoss`) mines hard
    positives and negatives for the minority classes of every batch and CE is
    the softmax cross-entropy for a 1-D ``y`` or the per-attribute binary
    cross-entropy (:class:`skimbal.losses.AttributeBCELoss`) for a multi-label
    indicator matrix ``y``.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The network (default :class:`skimbal.nn.MLP`). The instance level needs
        the embedding protocol (``forward_features`` / ``forward_head``).
    criterion : torch.nn.Module class or instance, default=torch.nn.CrossEntropyLoss
        The data (CE) part for a 1-D ``y``. A multi-label ``y`` uses
        :class:`skimbal.losses.AttributeBCELoss` unless another criterion is given.
        ``class_weight``, ``sample_weight`` and ``criterion__*`` reach this part only.
    rho : float in (0, 1], default=0.5
        Batch-wise minority profiling: the minority classes of a batch are the
        largest group of its smallest classes holding together at most
        ``rho * batch_size`` samples (paper: 0.5).
    kappa : int >= 1, default=3
        Hard positives and hard negatives per anchor; the papers find one worse
        than a few (3 is our choice).
    criterion_type : {'relative', 'absolute', 'distribution'}, default='relative'
        Triplet hinge, contrastive, or histogram loss over the mined examples.
        The papers find 'relative' the best overall.
    level : {'class', 'instance'}, default='class'
        Mine on the predicted class scores or on embedding distances.
    margin : float >= 0, default=0.5
        Margin of the relative and absolute criteria.
    alpha : float in [0, 1] or 'auto', default=0.1
        Weight of the CRL term. 'auto' derives it from the training split's
        imbalance, ``alpha_ = crl_imbalance_alpha(class_counts_, eta)``. The
        papers set it from the imbalance; 0.1 is our choice: with label noise,
        hard-mined pairs are mostly mislabelled or ambiguous samples, and
        ``alpha=0.5`` pulled our networks towards constant scores (see the user
        guide).
    eta : float >= 0, default=0.1
        Scale of the imbalance measure for ``alpha='auto'`` (unused otherwise):
        ``alpha_ = clip(eta * Omega_imb, 0, 1)``. 0.1 is our choice: a strongly
        imbalanced split (``Omega_imb`` near 1, e.g. 0.95 at imbalance ratio 20)
        then gets about the default weight 0.1, while ``eta=1`` would give
        weights near 1, where our networks collapsed.
    n_bins : int >= 2, default=25
        Histogram nodes of the distribution criterion.
    class_distance : {'signed', 'absolute'}, default='signed'
        Class-level distance ``s_c(a) - s_c(b)`` or the literal
        ``|s_c(a) - s_c(b)|`` (see :class:`skimbal.losses.ClassRectificationLoss`).
    normalize_embedding : bool, default=True
        Instance level: measure distances between L2-normalised embeddings.
    {net_params}

    Attributes
    ----------
    alpha_ : float
        The CRL weight used in training.
    criterion_ : CRLCriterion
        The objective: ``criterion_.data_loss`` (the CE part) and
        ``criterion_.rectification`` (the CRL term).
    classes_, class_counts_, class_prior_, class_weight_, multilabel_, label_values_
        As in :class:`skimbal.ImbalancedNetClassifier`; ``class_counts_`` has shape
        (n_attributes, 2) for a multi-label ``y``.
    history_ : skorch History
        Besides skorch's entries, every epoch records ``crl_triplets`` (mined
        triplets summed over the training batches), ``crl_minority_classes``
        (minority classes over the batches and tasks) and ``crl_skipped_classes``
        (minority classes skipped for having a single sample in their batch);
        :class:`skimbal.callbacks.CRLStatistics`, the default callback
        'crl_statistics'.

    See Also
    --------
    skimbal.losses.ClassRectificationLoss : The CRL term and its formulas.

    Notes
    -----
    ``sample_weight`` and ``class_weight`` weight the cross-entropy part only;
    CRL works on the mined examples of each batch. The validation loss includes
    the CRL term (at the instance level the validation batches are embedded
    too). CRL does not move the decision threshold towards the minority; on our
    synthetic rare attributes it helped only as an addition to
    ``class_weight='balanced'`` (see the user guide's CRL page).

    References
    ----------
    .. [1] Q. Dong, S. Gong and X. Zhu, "Class Rectification Hard Mining for
       Imbalanced Deep Learning", ICCV 2017.
    .. [2] Q. Dong, S. Gong and X. Zhu, "Imbalanced Deep Learning by Minority
       Class Incremental Rectification", IEEE TPAMI 41(6), 2019.

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from skimbal import CRLClassifier
    >>> X, Y = make_multilabel_classification(n_samples=200, n_classes=4, random_state=0)
    >>> clf = CRLClassifier(max_epochs=3, random_state=0).fit(X, Y)
    >>> clf.predict(X[:2]).shape, clf.class_counts_.shape
    ((2, 4), (4, 2))
    >>> clf.history[-1, 'crl_triplets'] > 0
    True
    """

    _parameter_constraints = {
        **ImbalancedNetClassifier._parameter_constraints,
        "rho": [Interval(numbers.Real, 0, 1, closed="right")],
        "kappa": [Interval(numbers.Integral, 1, None, closed="left")],
        "criterion_type": [StrOptions({"relative", "absolute", "distribution"})],
        "level": [StrOptions({"class", "instance"})],
        "margin": [Interval(numbers.Real, 0, None, closed="left")],
        "alpha": [Interval(numbers.Real, 0, 1, closed="both"), StrOptions({"auto"})],
        "eta": [Interval(numbers.Real, 0, None, closed="left")],
        "n_bins": [Interval(numbers.Integral, 2, None, closed="left")],
        "class_distance": [StrOptions({"signed", "absolute"})],
        "normalize_embedding": ["boolean"],
    }
    accepts_multilabel = True
    multilabel_criterion = AttributeBCELoss

    # True while skorch computes the validation loss (the instance level embeds then).
    _validating = False

    def __init__(
        self, module=None, *, criterion=torch.nn.CrossEntropyLoss, rho=0.5, kappa=3,
        criterion_type="relative", level="class", margin=0.5, alpha=0.1, eta=0.1, n_bins=25,
        class_distance="signed", normalize_embedding=True, **kwargs,
    ):
        super().__init__(module, criterion=criterion, **kwargs)
        self.rho = rho
        self.kappa = kappa
        self.criterion_type = criterion_type
        self.level = level
        self.margin = margin
        self.alpha = alpha
        self.eta = eta
        self.n_bins = n_bins
        self.class_distance = class_distance
        self.normalize_embedding = normalize_embedding

    def _validate_params(self):
        super()._validate_params()
        # sklearn's real intervals accept bools; a weight of True is a mistake.
        for name in ("alpha", "eta"):
            if isinstance(getattr(self, name), bool):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {type(self).__name__} must be a real number, "
                    f"got {getattr(self, name)!r}."
                )

    @property
    def _default_callbacks(self):
        callbacks = list(super()._default_callbacks)
        # Before print_log, so that the epoch table shows the counts.
        callbacks.insert(len(callbacks) - 1, ("crl_statistics", CRLStatistics()))
        return callbacks

    def initialize_criterion(self):
        """Build the data loss (the base's criterion) and wrap it with the CRL term.

        ``alpha_`` is resolved here, from the training split's class counts for
        ``alpha='auto'``.
        """
        super().initialize_criterion()
        if self.alpha == "auto":
            counts = getattr(self, "class_counts_", None)
            if counts is None:
                raise ValueError("alpha='auto' needs the class counts of a fit; call fit.")
            self.alpha_ = crl_imbalance_alpha(counts, eta=self.eta)
        else:
            self.alpha_ = float(self.alpha)
        rectification = ClassRectificationLoss(
            rho=self.rho, kappa=self.kappa, criterion_type=self.criterion_type, level=self.level,
            margin=self.margin, n_bins=self.n_bins, class_distance=self.class_distance,
            normalize_embedding=self.normalize_embedding,
        )
        self.criterion_ = CRLCriterion(self.criterion_, rectification, alpha=self.alpha_)
        return self

    def initialize_module(self):
        """Build the module; the instance level checks its embedding protocol."""
        super().initialize_module()
        if self.level == "instance" and not has_embedding(self.module_):
            raise ValueError(
                "level='instance' needs a module with forward_features and forward_head "
                f"(the embedding protocol of skimbal.nn.MLP); {type(self.module_).__name__} "
                "has not."
            )
        return self

    # --------------------------------------------------------------- training
    def infer(self, x, **fit_params):
        """Forward a batch; a :class:`ModelOutput` with the embedding when the
        instance level needs it (training and validation batches)."""
        wants_embedding = self.level == "instance" and (self.module_.training or self._validating)
        if wants_embedding and isinstance(x, torch.Tensor):
            embedding = self.module_.forward_features(x, **fit_params)
            return ModelOutput(self.module_.forward_head(embedding), embedding)
        return super().infer(x, **fit_params)

    def validation_step(self, batch, **fit_params):
        """skorch's validation step, with the embedding of the batch at the instance level."""
        self._validating = True
        try:
            return super().validation_step(batch, **fit_params)
        finally:
            self._validating = False

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """``alpha_ * CRL + (1 - alpha_) * CE`` of one batch (:class:`CRLCriterion`)."""
        output, target = as_model_output(y_pred), as_target(y_true)
        y = target.y.to(output.logits.device)
        return self.criterion_(
            output.logits, y, output.embedding, sample_weight=target.sample_weight
        )
