"""Write the intersphinx inventories of this folder from the installed packages.

The documentation is built without network access (CI reaches PyPI and nothing
else), so ``conf.py`` points intersphinx at these files instead of the projects'
``objects.inv``. Each file lists the public API of one installed package with the
URL its project's documentation gives it:

scikit-learn
    ``modules/generated/<full name>.html`` for every class and function in the
    ``__all__`` of a public module; modules at ``api/<module>.html``.
imbalanced-learn
    ``references/generated/<full name>.html``; modules at
    ``references/<section>.html``.
skorch
    one page per module (``net.html``, ``callbacks.html``, ...) with an anchor per
    object; the package's re-exports (``skorch.NeuralNetClassifier``) point to the
    same anchors.
PyTorch
    ``generated/<full name>.html`` for the functions and classes of ``torch``,
    ``torch.nn``, ``torch.nn.functional``, ``torch.optim``, ``torch.func`` and
    ``torch.cuda``; the pages that document a whole module at once
    (``torch.utils.data``, ``torch.nn.init``, ``torch.Tensor``, ``torch.dtype``,
    ``torch.device``, the ``Optimizer`` base class) with anchors.

Methods are listed with their class (an anchor on the class's page, or a page of
their own for ``torch.Tensor``). Regenerate after upgrading one of the packages::

    python docs/_inventories/make_inventories.py

The script reads the files back through Sphinx's own reader to check them.
"""

import importlib
import inspect
import io
import pkgutil
import sys
import types
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: Modules a documentation reader never meets (tests, vendored code, optional
#: back ends whose import needs other packages).
SKIPPED_PARTS = {"tests", "externals", "conftest", "experimental", "keras", "tensorflow"}


def _public_modules(package_name):
    """The importable public modules of a package, the package included."""
    package = importlib.import_module(package_name)
    names = [package_name]
    for info in pkgutil.walk_packages(package.__path__, package_name + "."):
        parts = info.name.split(".")[1:]
        if any(part.startswith("_") or part in SKIPPED_PARTS for part in parts):
            continue
        names.append(info.name)
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(name))
        except Exception:  # noqa: BLE001 - an optional dependency is missing
            continue
    return modules


def _exported(module):
    """(name, object) of a module's ``__all__``, submodules left out.

    A module without ``__all__`` exports the public names it defines itself (in its
    own file or in a private module below it).
    """
    if hasattr(module, "__all__"):
        names = module.__all__
    else:
        names = [
            name for name, obj in vars(module).items()
            if not name.startswith("_")
            and str(getattr(obj, "__module__", "")).startswith(module.__name__)
        ]
    for name in names:
        obj = getattr(module, name, None)
        if obj is None or isinstance(obj, types.ModuleType):
            continue
        yield name, obj


def _role(obj):
    if inspect.isclass(obj):
        return "py:exception" if issubclass(obj, BaseException) else "py:class"
    if callable(obj):
        return "py:function"
    return None


def _methods(cls, *, inherited=True):
    """Public methods and properties of a class (its own only when not ``inherited``)."""
    names = dir(cls) if inherited else list(vars(cls))
    for name in sorted(set(names)):
        if name.startswith("_"):
            continue
        try:
            attribute = inspect.getattr_static(cls, name)
        except AttributeError:
            continue
        if isinstance(attribute, property):
            yield name, "py:property"
        elif callable(attribute) or isinstance(attribute, (classmethod, staticmethod)):
            yield name, "py:method"


class Inventory:
    """Entries of one project; written in Sphinx's inventory format, version 2."""

    def __init__(self, project, version):
        self.project, self.version = project, version
        self.entries = {}

    def add(self, name, role, uri, priority=1):
        # The first URI given for a name wins (the most specific page comes first).
        self.entries.setdefault((name, role), (priority, uri))

    def add_class(self, name, cls, uri, *, methods_inherited=True, method_uri=None):
        self.add(name, _role(cls), uri)
        if not inspect.isclass(cls):
            return
        for method, role in _methods(cls, inherited=methods_inherited):
            full = f"{name}.{method}"
            self.add(full, role, method_uri(full) if method_uri else uri.split("#")[0] + "#$")

    def dumps(self):
        header = (
            "# Sphinx inventory version 2\n"
            f"# Project: {self.project}\n"
            f"# Version: {self.version}\n"
            "# The remainder of this file is compressed using zlib.\n"
        )
        lines = []
        for (name, role), (priority, uri) in sorted(self.entries.items()):
            if uri.endswith("#" + name):
                uri = uri[: -len(name)] + "$"
            lines.append(f"{name} {role} {priority} {uri} -\n")
        return header.encode() + zlib.compress("".join(lines).encode(), 9)


def sklearn_inventory():
    import sklearn

    inventory = Inventory("scikit-learn", sklearn.__version__)
    for module in _public_modules("sklearn"):
        if module.__name__.count(".") == 1:
            inventory.add(module.__name__, "py:module", f"api/{module.__name__}.html#module-$", 0)
        _add_exported(inventory, module, "modules/generated/{}.html#$")
    return inventory


def _add_exported(inventory, module, page):
    """Add the classes and functions ``module`` exports, each on ``page.format(full name)``."""
    for name, obj in _exported(module):
        if _role(obj) is not None:
            full = f"{module.__name__}.{name}"
            inventory.add_class(full, obj, page.format(full))


IMBLEARN_SECTIONS = {
    "imblearn": "miscellaneous",
    "imblearn.over_sampling": "over_sampling",
    "imblearn.under_sampling": "under_sampling",
    "imblearn.combine": "combine",
    "imblearn.ensemble": "ensemble",
    "imblearn.pipeline": "pipeline",
    "imblearn.metrics": "metrics",
    "imblearn.datasets": "datasets",
    "imblearn.utils": "utils",
    "imblearn.model_selection": "model_selection",
}


def imblearn_inventory():
    import imblearn

    inventory = Inventory("imbalanced-learn", imblearn.__version__)
    for module in _public_modules("imblearn"):
        section = IMBLEARN_SECTIONS.get(module.__name__)
        if section is not None and module.__name__ != "imblearn":
            inventory.add(module.__name__, "py:module", f"references/{section}.html#module-$", 0)
        _add_exported(inventory, module, "references/generated/{}.html#$")
    return inventory


#: skorch's API pages: one per module, ``automodule`` with ``:members:``.
SKORCH_PAGES = [
    "callbacks", "classifier", "dataset", "exceptions", "helper", "history", "net",
    "probabilistic", "regressor", "scoring", "toy", "utils", "hf", "llm",
]


def skorch_inventory():
    import skorch

    inventory = Inventory("skorch", skorch.__version__)
    anchors = {}
    for page in SKORCH_PAGES:
        module_name = f"skorch.{page}"
        try:
            module = importlib.import_module(module_name)
        except Exception:  # noqa: BLE001 - an optional dependency is missing
            continue
        inventory.add(module_name, "py:module", f"{page}.html#module-$", 0)
        for name, obj in _exported(module):
            if _role(obj) is None or not getattr(obj, "__doc__", None):
                continue
            full = f"{module_name}.{name}"
            uri = f"{page}.html#{full}"
            # autodoc's :members: shows what a class defines itself.
            inventory.add_class(full, obj, uri, methods_inherited=False)
            anchors.setdefault(id(obj), (full, uri))
    # The package's re-exports, as users write them.
    for name in skorch.__all__:
        obj = getattr(skorch, name)
        if id(obj) in anchors:
            full, uri = anchors[id(obj)]
            inventory.add(f"skorch.{name}", _role(obj), uri)
            for method, role in _methods(obj, inherited=False):
                inventory.add(f"skorch.{name}.{method}", role, f"{uri}.{method}")
    inventory.add("skorch", "py:module", "index.html", 0)
    return inventory


#: PyTorch objects documented on a page of their own module rather than generated/.
TORCH_SHARED_PAGES = {
    "torch.Tensor": "tensors.html",
    "torch.dtype": "tensor_attributes.html",
    "torch.device": "tensor_attributes.html",
    "torch.layout": "tensor_attributes.html",
    "torch.memory_format": "tensor_attributes.html",
    "torch.Size": "size.html",
    "torch.optim.Optimizer": "optim.html",
    "torch.nn.Parameter": "generated/torch.nn.parameter.Parameter.html",
}
#: Modules whose objects are all documented on the module's page.
TORCH_MODULE_PAGES = {"torch.utils.data": "data.html", "torch.nn.init": "nn.init.html"}
#: Modules whose functions and classes each have a generated page.
TORCH_GENERATED = ["torch", "torch.nn", "torch.nn.functional", "torch.optim",
                   "torch.optim.lr_scheduler", "torch.func", "torch.cuda"]
TORCH_MODULES = {
    "torch": "torch.html", "torch.nn": "nn.html", "torch.nn.functional": "nn.functional.html",
    "torch.optim": "optim.html", "torch.func": "func.html", "torch.cuda": "cuda.html",
    "torch.utils.data": "data.html", "torch.nn.init": "nn.init.html",
}


def torch_inventory():
    import torch

    inventory = Inventory("PyTorch", torch.__version__.split("+")[0])
    for module_name, page in TORCH_MODULES.items():
        inventory.add(module_name, "py:module", f"{page}#module-$", 0)
    for full, page in TORCH_SHARED_PAGES.items():
        module_name, _, name = full.rpartition(".")
        cls = getattr(importlib.import_module(module_name), name)
        if full == "torch.Tensor":  # every method has a page of its own
            inventory.add_class(full, cls, f"{page}#$",
                                method_uri=lambda method: f"generated/{method}.html#$")
        elif page.startswith("generated/"):  # documented under its defining module
            for alias in (full, "torch.nn.parameter.Parameter"):
                inventory.add(alias, "py:class", page + "#torch.nn.parameter.Parameter")
        else:
            inventory.add_class(full, cls, f"{page}#$")
    for module_name, page in TORCH_MODULE_PAGES.items():
        for name, obj in _exported(importlib.import_module(module_name)):
            if _role(obj) is not None:
                inventory.add_class(f"{module_name}.{name}", obj, f"{page}#$",
                                    methods_inherited=False)
    for module_name in TORCH_GENERATED:
        module = importlib.import_module(module_name)
        for name, obj in _exported(module):
            role = _role(obj)
            # Storage and legacy tensor types are not documented one by one.
            if role is None or name.endswith(("Storage", "Tensor")):
                continue
            full = f"{module_name}.{name}"
            inventory.add_class(full, obj, f"generated/{full}.html#$",
                                methods_inherited=False)
    return inventory


INVENTORIES = {
    "sklearn": sklearn_inventory,
    "imblearn": imblearn_inventory,
    "skorch": skorch_inventory,
    "torch": torch_inventory,
}


def check(path, base_url):
    """Read an inventory back with Sphinx's reader; the number of its entries."""
    from sphinx.util.inventory import InventoryFile

    data = path.read_bytes()
    if hasattr(InventoryFile, "loads"):  # Sphinx >= 8.2
        inventory = InventoryFile.loads(data, uri=base_url)
        return sum(len(items) for items in inventory.data.values())
    loaded = InventoryFile.load(io.BytesIO(data), base_url, lambda a, b: a + b)
    return sum(len(items) for items in loaded.values())


def main(argv=None):
    names = (argv if argv is not None else sys.argv[1:]) or list(INVENTORIES)
    for name in names:
        path = HERE / f"{name}.inv"
        path.write_bytes(INVENTORIES[name]().dumps())
        print(f"{path.name}: {check(path, 'https://example.org/')} entries, "
              f"{path.stat().st_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
