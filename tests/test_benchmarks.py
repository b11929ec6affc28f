"""The benchmark suite runs end to end at smoke sizes (figures printed and written; no timing asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_suite_smoke(tmp_path):
    out = tmp_path / "suite.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "suite.py"), "--smoke", "--json", str(out)],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    payload = json.loads(out.read_text())
    figures = payload["figures"]
    assert set(figures) >= {"data", "classifier", "cgan", "transfer", "generation", "demo"}
    for section in ("data", "classifier", "cgan", "transfer", "generation", "demo"):
        assert "error" not in figures[section], figures[section]
        assert figures[section]["peak_rss_mb"] > 0
    assert figures["classifier"]["kit_images_per_s"] > 0 and figures["classifier"]["naive_images_per_s"] > 0
    assert figures["demo"]["faces_found"] == 1
    assert [steps for steps, _, _ in figures["transfer"]["score_curve"]] == [3, 6]  # scored after each epoch
    assert payload["git_commit"] and payload["versions"]
    assert "kit pipeline" in result.stdout and "demo detect + classify" in result.stdout
    assert set(payload["targets"]) >= {"classifier.kit_over_naive", "demo.ms_per_frame"}
