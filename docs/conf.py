"""Sphinx configuration of the skimbal documentation."""

import skimbal

project = "skimbal"
author = "the skimbal developers"
copyright = "2026, the skimbal developers"
version = release = skimbal.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
]
autosummary_generate = True
autodoc_default_options = {"members": False, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Local builds need no network: cross-project links are plain text.
intersphinx_mapping = {}
templates_path = ["_templates"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = []
suppress_warnings = ["autosummary.import_cycle"]
