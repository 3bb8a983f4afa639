"""Sphinx configuration of the skimbal documentation.

The build needs no network: cross-project links come from the inventories in
``_inventories/`` (written by ``_inventories/make_inventories.py``), and the
notebooks of ``notebooks/`` are rendered with their stored outputs, not executed
(``python notebooks/run_notebooks.py`` executes them).
"""

import re
import shutil
from pathlib import Path

import nbformat
from docutils import nodes
from sphinx.directives.code import LiteralInclude

import skimbal

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
NOTEBOOKS = ROOT / "notebooks"
GALLERY = DOCS / "gallery"

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
    "myst_nb",
]
autosummary_generate = True
autodoc_default_options = {"members": False, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# Offline cross-project links: (documentation URL, local inventory).
_INVENTORIES = DOCS / "_inventories"
intersphinx_mapping = {
    "sklearn": ("https://scikit-learn.org/stable/", str(_INVENTORIES / "sklearn.inv")),
    "imblearn": ("https://imbalanced-learn.org/stable/", str(_INVENTORIES / "imblearn.inv")),
    "skorch": ("https://skorch.readthedocs.io/en/stable/", str(_INVENTORIES / "skorch.inv")),
    "torch": ("https://docs.pytorch.org/docs/stable/", str(_INVENTORIES / "torch.inv")),
}

# The notebooks are shown with the outputs stored in them.
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath"]

templates_path = ["_templates"]
exclude_patterns = ["_build", "_inventories", "**.ipynb_checkpoints"]
suppress_warnings = ["autosummary.import_cycle"]

html_theme = "pydata_sphinx_theme"
html_title = f"skimbal {release}"
html_static_path = []
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 6,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": [], "install": [], "changelog": []}


def _title(notebook):
    """The first Markdown heading of a notebook."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, flags=re.M)
            if match:
                return match.group(1).strip()
    return "Notebook"


def _last_figure(notebook):
    """The PNG bytes of the last figure a notebook's stored outputs hold, or None."""
    import base64

    figure = None
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                figure = base64.b64decode(data["image/png"])
    return figure


def copy_notebooks(app):
    """Copy the notebooks into ``gallery/`` and write the gallery's thumbnail grid.

    Sphinx reads sources only below ``docs/``; the copies are build inputs, not
    tracked (``docs/.gitignore``).
    """
    thumbnails = GALLERY / "_thumbnails"
    for stale in [*GALLERY.glob("*.ipynb"), *thumbnails.glob("*.png")]:
        stale.unlink()
    thumbnails.mkdir(exist_ok=True)
    entries = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        shutil.copy2(path, GALLERY / path.name)
        notebook = nbformat.read(path, as_version=4)
        figure = _last_figure(notebook)
        entry = f"   * - :doc:`{_title(notebook)} <{path.stem}>`\n"
        if figure is not None:
            (thumbnails / f"{path.stem}.png").write_bytes(figure)
            entry += (
                f"     - .. image:: _thumbnails/{path.stem}.png\n"
                f"          :width: 260px\n"
                f"          :target: {path.stem}.html\n"
                f"          :alt: {_title(notebook)}\n"
            )
        else:
            entry += "     - (no stored figure)\n"
        entries.append(entry)
    table = ".. list-table::\n   :widths: 40 60\n   :class: gallery-grid\n\n" + "".join(entries)
    target = GALLERY / "_notebooks.rst.inc"
    if not target.exists() or target.read_text() != table:
        target.write_text(table)


class ResultFile(LiteralInclude):
    """``literalinclude`` of a results file that a benchmark may not have written yet.

    ``.. result-file:: ../benchmarks/results/<run>/table.txt`` includes the file
    when it exists and says that it was not measured yet otherwise, so that the
    build passes before the benchmark has run.
    """

    def run(self):
        _, path = self.env.relfn2path(self.arguments[0])
        if not Path(path).is_file():
            text = f"Not measured yet: {self.arguments[0]} does not exist."
            return [nodes.note("", nodes.paragraph(text=text))]
        return super().run()


def setup(app):
    app.add_directive("result-file", ResultFile)
    app.connect("builder-inited", copy_notebooks)
