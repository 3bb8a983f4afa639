"""Execute every notebook of this folder with small settings (CI).

``SKIMBAL_QUICK=1`` makes the notebooks train for a few epochs only; the code
paths are the same. A failing cell fails the run.

Usage::

    python notebooks/run_notebooks.py [--full] [--write]

``--write`` stores the executed notebooks (outputs included) back in place.
"""

import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="full settings (no SKIMBAL_QUICK)")
    parser.add_argument("--write", action="store_true", help="save the executed notebooks")
    args = parser.parse_args(argv)
    if not args.full:
        os.environ["SKIMBAL_QUICK"] = "1"
    folder = Path(__file__).resolve().parent
    for path in sorted(folder.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        NotebookClient(notebook, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": str(folder)}}).execute()
        if args.write:
            nbformat.write(notebook, path)
        print(f"executed {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
