"""Execute every notebook of this folder; small settings by default (CI).

``SKIMBAL_QUICK=1`` (set unless ``--full``) makes the notebooks train for a few
epochs over small grids; the code paths are the same. A failing cell fails the
run. The outputs stored in the notebooks (and shown in the documentation, which
does not execute them) come from ``--full --write``.

Usage::

    python notebooks/run_notebooks.py [--full] [--write] [NOTEBOOK ...]

``--write`` stores the executed notebooks (outputs included) back in place.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="full settings (no SKIMBAL_QUICK)")
    parser.add_argument("--write", action="store_true", help="save the executed notebooks")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: every one of this folder)")
    args = parser.parse_args(argv)
    if args.full:
        os.environ.pop("SKIMBAL_QUICK", None)
    else:
        os.environ["SKIMBAL_QUICK"] = "1"
    folder = Path(__file__).resolve().parent
    paths = [path.resolve() for path in args.notebooks] or sorted(folder.glob("*.ipynb"))
    total = time.perf_counter()
    for path in paths:
        start = time.perf_counter()
        notebook = nbformat.read(path, as_version=4)
        NotebookClient(
            notebook, timeout=3600, kernel_name="python3", record_timing=False,
            resources={"metadata": {"path": str(folder)}},
        ).execute()
        if args.write:
            nbformat.write(notebook, path)
        print(f"executed {path.name} in {time.perf_counter() - start:.0f} s", flush=True)
    print(f"{len(paths)} notebooks in {time.perf_counter() - total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
