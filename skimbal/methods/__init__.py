"""The methods, one private module per family; the estimators are exported by :mod:`skimbal`.

==========================  ==============================================================
module                      estimators
==========================  ==============================================================
``_reweighting``            ``CrossEntropyClassifier``, ``WeightedCrossEntropyClassifier``,
                            ``FocalLossClassifier``, ``ClassBalancedClassifier``
``_margin``                 ``LDAMClassifier``, ``MaxMarginClassifier``, ``HingeLossClassifier``
``_large_margin_softmax``   ``LargeMarginSoftmaxClassifier``
``_logit_adjustment``       ``LogitAdjustedClassifier``, ``BalancedSoftmaxClassifier``,
                            ``PostHocLogitAdjustedClassifier``
``_crl``                    ``CRLClassifier``
``_lmle``, ``_cluster_knn`` ``LMLEClassifier``, ``ClusterKNNClassifier``
``_two_stage``              ``DecoupledClassifier`` (cRT, tau-norm, LWS, NCM)
``_bbn``                    ``BBNClassifier``
``_learned_rebalancing``    ``BalancedMetaSoftmaxClassifier``
==========================  ==============================================================

A family's loss, sampler and schedule sit in the module of the same name in
:mod:`skimbal.losses`, :mod:`skimbal.sampling` and :mod:`skimbal.callbacks`.
"""
