"""Check your notebook before you hand it in: `python check.py` (shipped in the hand-out as check.py).

Runs a copy of the notebook top to bottom in a fresh kernel, headless (your file is not changed), and
prints for each part whether it is done, not done (a `raise NotImplementedError()` is still there) or
failing (with the first error message). It runs the visible checks only: the hidden tests run when your
notebook is graded, on other inputs, and check everything API.md states. The training is shortened
(TINYGPT_TRAIN_STEPS, 200 steps unless you set it) so that the check takes a minute or two.
Exit code 0 when every part is done.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import nbformat
import zmq
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from traitlets.config import Config

HEADING = re.compile(r"^##\s+(.+)$", flags=re.MULTILINE)  # a part starts at a level-2 heading
ANSI = re.compile(r"\x1b\[[0-9;]*m")
RAISED_IN = re.compile(r"Cell In\[\d+\], line \d+, in ([\w.]+)")  # IPython's traceback frame of a notebook cell
HERE = Path(__file__).resolve().parent
# Beside the notebook (the assignment folder nbgrader's exchange hands out), or in the hand-out's root.
DEFAULT_NOTEBOOK = next((p for p in (HERE / "tinygpt.ipynb", HERE / "tinygpt" / "tinygpt.ipynb") if p.is_file()),
                        HERE / "tinygpt" / "tinygpt.ipynb")


def parts(notebook: nbformat.NotebookNode) -> list[tuple[str, list[nbformat.NotebookNode]]]:
    """(heading, code cells) of each level-2 section that has code, in notebook order."""
    sections: list[tuple[str, list[nbformat.NotebookNode]]] = [("Setup (imports)", [])]
    for cell in notebook.cells:
        heading = HEADING.search(cell.source) if cell.cell_type == "markdown" else None
        if heading:
            sections.append((heading.group(1).strip(), []))
        elif cell.cell_type == "code":
            sections[-1][1].append(cell)
    return [(title, cells) for title, cells in sections if cells]


def status(cells: list[nbformat.NotebookNode]) -> str:
    """'done', 'not done' or 'failing: <error>' from the first error the part's cells raised."""
    for cell in cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                if output.get("ename") == "NotImplementedError":
                    frames = RAISED_IN.findall(ANSI.sub("", "\n".join(output.get("traceback", []))))
                    return f"not done (NotImplementedError in {frames[-1]})" if frames else "not done"
                message = (output.get("evalue") or "").strip().splitlines()
                return f"failing: {output.get('ename')}: {message[0] if message else ''}"
        if cell.get("execution_count") is None:
            return "not run (an earlier cell stopped the notebook)"
    return "done"


def kernel_config() -> Config:
    """Encrypt the kernel's local TCP traffic where jupyter_client and pyzmq can (CurveZMQ keys made for this
    run), so that no other program on the machine reads it and ipykernel has no plain-text TCP to warn about."""
    if zmq.has("curve") and "transport_encryption" in KernelManager.class_trait_names():
        return Config({"KernelManager": {"transport_encryption": "auto"}})
    return Config()


def run(path: Path, timeout: int = 600) -> nbformat.NotebookNode:
    """A copy of the notebook at `path`, executed in its folder with errors recorded as outputs."""
    notebook = nbformat.read(path, as_version=4)
    os.environ.setdefault("TINYGPT_TRAIN_STEPS", "200")
    os.environ.setdefault("MPLBACKEND", "Agg")
    NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True, config=kernel_config(),
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return notebook


UNCOUNTED = re.compile(r"optional|ungraded", re.IGNORECASE)  # sections students need not finish


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the notebook's visible checks and print each part's status.")
    parser.add_argument("notebook", nargs="?", type=Path, default=DEFAULT_NOTEBOOK,
                        help="the notebook to check (default: tinygpt.ipynb or tinygpt/tinygpt.ipynb next to check.py)")
    args = parser.parse_args(argv)
    if not args.notebook.is_file():
        print(f"check: no notebook at {args.notebook}; expected the path of your tinygpt.ipynb", file=sys.stderr)
        return 2
    print(f"Running {args.notebook} top to bottom (a copy; about two minutes)...", flush=True)
    results = [(title, status(cells)) for title, cells in parts(run(args.notebook))]
    width = max(len(title) for title, _ in results)
    for title, result in results:
        print(f"{title:<{width}}  {result}")
    required = [result for title, result in results if not UNCOUNTED.search(title)]
    done = required.count("done")
    print(f"{done} of {len(required)} required parts done (sections marked optional or ungraded are not counted).")
    return 0 if done == len(required) else 1


if __name__ == "__main__":
    sys.exit(main())
