"""The published reference results (results/reference/): complete, leak-checked, and reproducible — a
one-seed slice of the CK+48 reference run, rerun here, lands within a stated tolerance of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fer_kit.experiment import REFERENCES, reference_configs, result_path, run_experiment
from fer_kit.grade import grade

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "results" / "reference"
# Same seed, same code, same data. On the machine that made the reference the rerun gave the very same
# accuracies (TF on one CPU type is repeatable here); another CPU (other oneDNN kernels, thread counts)
# may not be bit-identical, and on ~200 test faces one face is 0.5 points: the tolerance leaves room
# for that, not for a change of method (seeds alone move a cell by 2-4 points).
TOLERANCE_POINTS = 5.0


@pytest.mark.parametrize("name", REFERENCES)
def test_reference_results_are_complete_and_leak_checked(name):
    folder = REFERENCE / name
    if not folder.is_dir():
        pytest.skip(f"{folder} not published yet")
    report = grade(folder, checks=("completeness", "provenance", "leaks"))
    assert report.passed, report.text()
    assert (folder / "TABLE6.md").is_file()
    assert not [p for p in folder.rglob("*") if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".npy", ".npz",
                                                                      ".keras", ".h5"}]


def test_reference_slice_reproduces(shared_data, tmp_path):
    """Seed 0, first fold, no augmentation, the leak-free subject k-fold: the reference configuration itself
    (one protocol keeps CI within its budget; ``python -m fer_kit reproduce ckplus48`` reruns everything)."""
    folder = REFERENCE / "ckplus48"
    if not folder.is_dir():
        pytest.skip(f"{folder} not published yet")
    cfg = reference_configs("ckplus48")[0]
    assert cfg.protocol == "subject-kfold"
    cfg.seeds, cfg.run_folds, cfg.settings = (0,), 1, ("none",)
    run_experiment(cfg, tmp_path, data_dir=shared_data, progress=False)
    mine = json.loads(result_path(tmp_path, cfg.protocol, "none", 0, 0).read_text())
    ref = json.loads(result_path(folder, cfg.protocol, "none", 0, 0).read_text())
    assert mine["data_fingerprint"] == ref["data_fingerprint"]
    assert mine["split"] == ref["split"]
    got, want = 100 * mine["metrics"]["test_accuracy"], 100 * ref["metrics"]["test_accuracy"]
    assert abs(got - want) <= TOLERANCE_POINTS, f"{cfg.protocol}: {got:.1f} % vs reference {want:.1f} %"
