"""Running the course: every notebook in ``notebooks/`` executed in order with papermill.

Executed copies go to a run folder (``runs/<timestamp>/`` by default), never over the sources.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

from fer_kit import config
from fer_kit.provenance import REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"


def course_notebooks(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The course's notebooks in order (``NN_name.ipynb``)."""
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no notebooks named NN_*.ipynb in {folder}")
    return found


def execute(notebook: Path, out: Path, *, reduced: bool = False, parameters: dict | None = None,
            timeout: int = 1800) -> float:
    """Execute one notebook into ``out`` with papermill; return the seconds it took.

    ``reduced`` both injects ``REDUCED=True`` and sets ``$FER_KIT_REDUCED`` for the kernel, so the
    run stays small even if the notebook's ``parameters`` tag was lost.
    """
    import papermill as pm

    params = {"REDUCED": True, **(parameters or {})} if reduced else dict(parameters or {})
    previous = os.environ.get(config.REDUCED_ENV)
    if reduced:
        os.environ[config.REDUCED_ENV] = "1"
    start = time.perf_counter()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        pm.execute_notebook(str(notebook), str(out), parameters=params, kernel_name="python3",
                            cwd=str(notebook.parent), execution_timeout=timeout, progress_bar=False)
    finally:
        if reduced:
            if previous is None:
                os.environ.pop(config.REDUCED_ENV, None)
            else:
                os.environ[config.REDUCED_ENV] = previous
    return time.perf_counter() - start


def run_course(out_dir: str | os.PathLike | None = None, *, reduced: bool = False,
               only: list[str] | None = None) -> Path:
    """Execute the course's notebooks in order into ``out_dir`` and return it."""
    out = Path(out_dir) if out_dir else REPO_ROOT / "runs" / datetime.now().strftime("%Y%m%d-%H%M%S")
    notebooks = [nb for nb in course_notebooks() if not only or any(nb.name.startswith(o) for o in only)]
    print(f"Executing {len(notebooks)} notebook(s) {'(reduced mode) ' if reduced else ''}into {out}")
    for nb in notebooks:
        print(f"  {nb.name} ...", end=" ", flush=True)
        seconds = execute(nb, out / nb.name, reduced=reduced)
        print(f"done in {seconds:.0f} s")
    print(f"Executed notebooks are in {out}")
    return out
