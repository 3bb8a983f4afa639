"""The architecture holds: package layout and import rules, read from the source.

- the package root holds ``__init__.py`` and subpackages only;
- the core, the losses, the samplers and the network modules never import the
  methods or the comparison command;
- no module outside ``compare`` imports ``compare``;
- a loss imports no skorch (losses work in any PyTorch loop);
- callbacks touch the net through public attributes only (no ``net._name``);
- every module stays under 400 lines, the estimator base under 350.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "skimbal"
MODULES = sorted(PACKAGE.rglob("*.py"))


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path):
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rsplit(".", 1)[0]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _in(path, *subpackages):
    name = _module_name(path)
    return any(name == f"skimbal.{s}" or name.startswith(f"skimbal.{s}.") for s in subpackages)


def _imports_any(path, *prefixes):
    return sorted(
        name for name in _imports(path)
        if any(name == p or name.startswith(p + ".") for p in prefixes)
    )


def test_package_root_holds_only_init_and_subpackages():
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert loose == []


@pytest.mark.parametrize(
    "path", [p for p in MODULES if _in(p, "_core", "losses", "sampling", "nn")],
    ids=_module_name,
)
def test_lower_layers_never_import_methods_or_compare(path):
    assert _imports_any(path, "skimbal.methods", "skimbal.compare") == []


@pytest.mark.parametrize("path", [p for p in MODULES if not _in(p, "compare")], ids=_module_name)
def test_only_compare_imports_compare(path):
    assert _imports_any(path, "skimbal.compare") == []


@pytest.mark.parametrize("path", [p for p in MODULES if _in(p, "losses")], ids=_module_name)
def test_losses_import_no_skorch(path):
    assert _imports_any(path, "skorch") == []


@pytest.mark.parametrize("path", [p for p in MODULES if _in(p, "callbacks")], ids=_module_name)
def test_callbacks_touch_the_net_through_public_attributes(path):
    private = [
        f"line {node.lineno}: net.{node.attr}"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        and node.value.id == "net" and node.attr.startswith("_")
    ]
    assert private == []


@pytest.mark.parametrize("path", MODULES, ids=_module_name)
def test_modules_stay_small(path):
    limit = 350 if _module_name(path) == "skimbal._core.base" else 400
    assert len(path.read_text().splitlines()) < limit
