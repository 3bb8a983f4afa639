"""Class Rectification Loss estimator (Dong, Gong and Zhu)."""

import numbers

import numpy as np
import torch

from ._base import ImbalancedNetClassifier
from ._multilabel import MultiLabelMixin
from ._validation import check_non_negative
from .losses._crl import ClassRectificationLoss
from .nn import has_embedding

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
    >>> from skimbal import crl_imbalance_alpha
    >>> crl_imbalance_alpha([100, 10], eta=0.5)
    0.45
    """
    counts = np.atleast_2d(np.asarray(class_counts, dtype=np.float64))
    if counts.shape[1] < 2 or np.any(counts < 0) or np.any(counts.max(1) <= 0):
        raise ValueError("class_counts must hold non-negative counts of at least 2 classes.")
    omega = float(np.mean(1.0 - counts.min(1) / counts.max(1)))
    return float(np.clip(eta * omega, 0.0, 1.0))


class CRLClassifier(MultiLabelMixin, ImbalancedNetClassifier):
    """Network trained with the Class Rectification Loss plus cross-entropy.

    ``L = alpha * CRL + (1 - alpha) * CE`` (Dong, Gong and Zhu, ICCV 2017; TPAMI
    2019), where CRL (:class:`skimbal.losses.ClassRectificationLoss`) mines hard
    positives and negatives for the minority classes of every batch and CE is
    the softmax cross-entropy for a 1-D ``y`` or the per-attribute binary
    cross-entropy (with logits) for a multi-label indicator matrix ``y``.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The network (default :class:`skimbal.nn.MLP`). The instance level needs
        the embedding protocol (``forward_features`` / ``forward_head``).
    rho : float in (0, 1], default=0.5
        Batch-wise minority profiling: the minority classes of a batch are the
        largest group of its smallest classes holding together at most
        ``rho * batch_size`` samples (paper: 0.5).
    kappa : int, default=3
        Hard positives and hard negatives per anchor; the papers find one worse
        than a few (3 is our choice).
    criterion_type : {'relative', 'absolute', 'distribution'}, default='relative'
        Triplet hinge, contrastive, or histogram loss over the mined examples.
        The papers find 'relative' the best overall.
    level : {'class', 'instance'}, default='class'
        Mine on the predicted class scores or on embedding distances.
    margin : float, default=0.5
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
    n_bins : int, default=25
        Histogram nodes of the distribution criterion.
    class_distance : {'signed', 'absolute'}, default='signed'
        Class-level distance ``s_c(a) - s_c(b)`` or the literal
        ``|s_c(a) - s_c(b)|`` (see :class:`skimbal.losses.ClassRectificationLoss`).
    normalize_embedding : bool, default=True
        Instance level: measure distances between L2-normalised embeddings.
    **kwargs
        Every parameter of :class:`skimbal.ImbalancedNetClassifier`. ``criterion``
        (default :class:`torch.nn.CrossEntropyLoss`) is the CE part for 1-D
        targets; multi-label targets always use the binary cross-entropy.

    Attributes
    ----------
    alpha_ : float
        The CRL weight used in training.
    crl_criterion_ : ClassRectificationLoss
        The CRL term.
    multilabel_ : bool
        Whether ``y`` was an indicator matrix.
    label_values_ : ndarray of shape (2,)
        The two values of a multi-label ``y`` (only then).
    class_counts_ : ndarray of int64, shape (n_classes,) or (n_attributes, 2)
        Training counts; per attribute (low value, high value) for multi-label.
    history_ : skorch History
        Besides skorch's entries, every epoch records ``crl_triplets`` (mined
        triplets summed over the batches), ``crl_minority_classes`` (minority
        classes over the batches and tasks) and ``crl_skipped_classes``
        (minority classes skipped for having a single sample in their batch).

    See Also
    --------
    skimbal.losses.ClassRectificationLoss : The CRL term and its formulas.

    Notes
    -----
    The multi-label behaviour (shapes, ``predict`` in the original values,
    validation) is that of :class:`skimbal._multilabel.MultiLabelMixin`.
    ``sample_weight`` and ``class_weight`` weight the cross-entropy part only;
    CRL works on the mined examples of each batch. CRL does not move the
    decision threshold towards the minority; on our synthetic rare attributes
    it helped only as an addition to ``class_weight='balanced'`` (see the user
    guide's CRL page).

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

    # Per-epoch [triplets, minority classes, skipped classes] (a device tensor).
    _crl_epoch_counts = None
    # True while skorch computes the validation loss (the embedding is needed then).
    _crl_validating = False

    def __init__(
        self,
        module=None,
        *,
        rho=0.5,
        kappa=3,
        criterion_type="relative",
        level="class",
        margin=0.5,
        alpha=0.1,
        eta=0.1,
        n_bins=25,
        class_distance="signed",
        normalize_embedding=True,
        **kwargs,
    ):
        kwargs.setdefault("criterion", torch.nn.CrossEntropyLoss)
        super().__init__(module, **kwargs)
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

    def _check_params(self):
        super()._check_params()
        alpha = self.alpha
        if not (alpha == "auto" or (
            isinstance(alpha, numbers.Real) and not isinstance(alpha, bool) and 0 <= alpha <= 1
        )):
            raise ValueError(f"alpha must be a float in [0, 1] or 'auto', got {alpha!r}.")
        check_non_negative(self.eta, "eta")

    def initialize_criterion(self):
        """Build the cross-entropy part and the CRL term, and resolve ``alpha_``."""
        super().initialize_criterion()
        self.crl_criterion_ = ClassRectificationLoss(
            rho=self.rho,
            kappa=self.kappa,
            criterion_type=self.criterion_type,
            level=self.level,
            margin=self.margin,
            n_bins=self.n_bins,
            class_distance=self.class_distance,
            normalize_embedding=self.normalize_embedding,
        )
        if self.alpha == "auto":
            self.alpha_ = crl_imbalance_alpha(self.class_counts_, eta=self.eta)
        else:
            self.alpha_ = float(self.alpha)
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
    def _wants_embedding(self):
        return self.level == "instance" and (self.module_.training or self._crl_validating)

    def infer(self, x, **fit_params):
        """Forward a batch; ``(logits, embedding)`` when the instance level needs it."""
        if isinstance(x, torch.Tensor) and self._wants_embedding():
            embedding = self.module_.forward_features(x, **fit_params)
            return self.module_.forward_head(embedding), embedding
        return super().infer(x, **fit_params)

    def validation_step(self, batch, **fit_params):
        self._crl_validating = True
        try:
            return super().validation_step(batch, **fit_params)
        finally:
            self._crl_validating = False

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """``alpha_ * CRL + (1 - alpha_) * CE`` of one batch."""
        logits, embedding = y_pred if isinstance(y_pred, tuple) else (y_pred, None)
        target, sample_weight = y_true, None
        if isinstance(y_true, dict):
            target, sample_weight = y_true["y"], y_true["sample_weight"]
        if self.multilabel_:
            data_term = self._attribute_bce(logits, target, sample_weight)
        else:
            data_term = super().get_loss(logits, y_true, X=X, training=training)
        if self.alpha_ == 0 or (self.level == "instance" and embedding is None):
            return data_term
        crl = self.crl_criterion_(logits, target, embedding)
        if training:
            criterion = self.crl_criterion_
            counts = torch.stack([criterion.n_triplets_, criterion.n_minority_,
                                  criterion.n_skipped_])
            previous = self._crl_epoch_counts
            self._crl_epoch_counts = counts if previous is None else previous + counts
        return self.alpha_ * crl + (1.0 - self.alpha_) * data_term

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        self._crl_epoch_counts = None
        super().on_epoch_begin(net, dataset_train, dataset_valid, **kwargs)

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        counts = self._crl_epoch_counts
        triplets, minority, skipped = [0, 0, 0] if counts is None else counts.tolist()
        self.history.record("crl_triplets", int(triplets))
        self.history.record("crl_minority_classes", int(minority))
        self.history.record("crl_skipped_classes", int(skipped))
        self._crl_epoch_counts = None
        super().on_epoch_end(net, dataset_train, dataset_valid, **kwargs)
