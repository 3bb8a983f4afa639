"""The core of skimbal: everything an estimator needs and no method knows about.

- :mod:`.base`: :class:`ImbalancedNetClassifier`, the fit pipeline and its hooks;
- :mod:`.targets`: label encoding and class statistics (multi-class and
  multi-label);
- :mod:`.data`: the in-memory data path (datasets, batch loader, sharding);
- :mod:`.batch`: the batch structure (:class:`Target`, :class:`ModelOutput`);
- :mod:`.reduction`: the one weighted reduction of per-sample losses;
- :mod:`.validation`: input and parameter validation;
- :mod:`.schedule`: epochs given as fractions of a run;
- :mod:`.random`: seeds and generators of a fit;
- :mod:`.docstrings`: shared docstring fragments;
- :mod:`.persistence`: the weights-only file format (safetensors and JSON).

This package imports nothing from :mod:`skimbal.methods` or :mod:`skimbal.compare`
(``tests/test_layout.py`` checks it). Its ``__init__`` imports nothing, so a loss
can use :mod:`.reduction` without pulling in skorch.
"""
