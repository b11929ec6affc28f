"""Every course notebook: stored clean, parameterised, and executed in reduced mode with papermill.

Executed copies land in ``build/notebooks/`` (git-ignored); the test command then re-runs them with
``pytest --nbval-lax``, which also checks that cells marked ``# NBVAL_CHECK_OUTPUT`` reproduce.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from conftest import ROOT

from fer_kit.notebooks import course_notebooks

NOTEBOOKS = course_notebooks()
BUILD = ROOT / "build" / "notebooks"


def _cells(nb_path):
    return json.loads(nb_path.read_text())["cells"]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_clean(nb):
    meta = json.loads(nb.read_text())["metadata"]
    assert meta["kernelspec"]["name"] == "python3"
    cells = _cells(nb)
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1 and "REDUCED" in "".join(params[0]["source"])
    assert "google.colab" in "".join(code[0]["source"])  # the Colab set-up cell comes first
    later = "".join("".join(c["source"]) for c in code[code.index(params[0]) + 1:])
    assert "config.reduced_mode(REDUCED)" in later  # the environment can force the reduced run


def _run(nb, out, report_figure) -> str:
    """Execute ``nb`` reduced into ``out`` in a fresh process (``python -m fer_kit run``), so kernels never
    share a process with TensorFlow state left by other tests; fail on any error; return printed text."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "fer_kit", "run", "--reduced", "--only", nb.name[:2],
                           "--out", str(out.parent)], capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    outputs = [o for c in json.loads(out.read_text())["cells"] for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    report_figure(f"{nb.name}: {seconds:.0f} s in reduced mode")
    return "".join("".join(o.get("text", "")) for o in outputs if o.get("output_type") == "stream")


@pytest.mark.notebook
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_reduced_on_embedded_data(nb, report_figure):
    text = _run(nb, BUILD / nb.name, report_figure)
    assert "reduced mode: True" in text
    assert "REAL DATA" not in text  # the session's data folder is empty: synthetic only


@pytest.mark.notebook
@pytest.mark.realdata
def test_notebook_01_runs_on_real_data(shared_data, monkeypatch, report_figure):
    monkeypatch.setenv("FER_KIT_DATA", str(shared_data))
    nb = next(p for p in NOTEBOOKS if p.name.startswith("01_"))
    text = _run(nb, ROOT / "build" / "notebooks-realdata" / nb.name, report_figure)
    assert "REAL DATA   FaceSet('fer2013'" in text and "REAL DATA   FaceSet('ckplus48'" in text
