"""Table 6 machinery: classifiers, the experiment runner, the table, grading (on the reduced run)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fer_kit import classify, experiment, grade, report

REFERENCE = Path(experiment.__file__).parent / "references" / "reduced-synthetic.json"


@pytest.fixture(scope="module")
def reduced_run(tmp_path_factory):
    """The CI-sized experiment of the paper's (random) CK+ protocol, in a folder of its own: notebook 05
    (tests/test_notebooks.py, on another pytest-xdist worker) trains its reduced run at the same time."""
    out = tmp_path_factory.mktemp("table6") / "table6-synthetic-reduced"
    experiment.run_experiment(experiment.reduced_config("random"), out, progress=False)
    return out


def test_models_take_48x48_gray_faces():
    for name in ("mini_xception", "mini_xception_wide", "baseline"):
        model = classify.build_model(name, 7)
        assert model.input_shape == (None, 48, 48, 1) and model.output_shape == (None, 7)
    small, wide = (classify.build_model(n, 7).count_params() for n in ("mini_xception", "mini_xception_wide"))
    assert 40_000 < small < 80_000 and wide > 3 * small
    xception = classify.build_xception(7)
    assert xception.get_layer("resize").output.shape[1:] == (71, 71, 1) and xception.count_params() > 20e6
    norms = [la for la in xception.get_layer("xception").layers if "BatchNormalization" in type(la).__name__]
    assert len(norms) == 40 and {la.momentum for la in norms} == {0.9}  # 0.99 lags from scratch (see docstring)
    with pytest.raises(ValueError, match="at least 71"):
        classify.build_xception(7, size=64)
    with pytest.raises(classify.WeightsUnavailable, match="could not be loaded.*weights=None"):
        classify.build_xception(7, weights="/nowhere/xception.h5")


def test_scores_from_a_confusion_matrix():
    confusion = np.array([[3, 1], [0, 4]])
    accuracy, recall, f1 = classify.scores(confusion, ("a", "b"))
    assert accuracy == 7 / 8 and recall == {"a": 0.75, "b": 1.0}
    assert f1 == pytest.approx(np.mean([2 * 3 / (4 + 3), 2 * 4 / (4 + 5)]))


def test_reduced_run_writes_every_setting_with_provenance(reduced_run):
    results = report.load_results(reduced_run)
    assert {(r["protocol"], r["setting"], r["seed"]) for r in results} == {
        ("random", s, seed) for s in experiment.SETTINGS for seed in (0, 1)}
    for r in results:
        assert r["data"] == "synthetic-ckplus" and len(r["data_fingerprint"]) == 16 and r["git_commit"]
        assert r["leaky"] == (r["protocol"] == "random")
        assert r["selected_on"] != r["reported_on"]
        m = r["metrics"]
        assert sum(map(sum, m["confusion"])) == r["split"]["test"]
        assert len(m["history"]["val_accuracy"]) == m["epochs_run"] >= 1
        assert (r["added_images"] > 0) == (r["setting"] != "none")
    # GAN and traditional sets add the same number of images (count-matched)
    added = {(r["protocol"], r["seed"], r["setting"]): r["added_images"] for r in results}
    assert all(added[(p, s, "gan")] == added[(p, s, "traditional")] for p, s, _ in added)


def test_table6_beside_the_paper(reduced_run):
    table = report.table6(report.load_results(reduced_run))
    assert len(table) == 3 and set(table["setting"]) == set(experiment.SETTINGS)
    row = table[(table["protocol"] == "random (leaky)") & (table["setting"] == "gan")].iloc[0]
    assert row["paper test"] == 95.14 and row["test − paper"] == pytest.approx(row["test acc"] - 95.14)
    assert row["CI low"] <= row["test acc"] <= row["CI high"]
    text = report.markdown_table6(table)
    assert "random (leaky)" in text and text.count("\n") == 5


def test_rerun_resumes_without_retraining(reduced_run):
    before = {p: p.stat().st_mtime_ns for p in reduced_run.rglob("seed*-fold*.json")}
    experiment.run_experiment(experiment.reduced_config("random"), reduced_run, progress=False)
    assert {p: p.stat().st_mtime_ns for p in reduced_run.rglob("seed*-fold*.json")} == before


def test_grade_passes_against_the_reduced_reference(reduced_run):
    result = grade.grade(reduced_run, reference=REFERENCE, reference_tolerance=10.0,
                         checks=("completeness", "provenance", "leaks", "reference"))
    assert result.passed, result.text()
    assert "FLAG synthetic-ckplus random" in result.text()  # the paper's split is flagged


def test_grade_cli_reports_missing_and_corrupt_files(reduced_run, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(reduced_run / "results", broken / "results")
    victim = next(broken.rglob("seed1-fold0.json"))
    victim.unlink()
    done = subprocess.run([sys.executable, "-m", "fer_kit", "grade", str(broken), "--checks", "completeness"],
                          capture_output=True, text=True)
    assert done.returncode == 1 and "[FAIL] completeness" in done.stdout and "runs missing" in done.stdout
    victim.write_text('{"version": 1, "setting": "gan"')  # cut off mid-write
    done = subprocess.run([sys.executable, "-m", "fer_kit", "grade", str(broken)], capture_output=True, text=True)
    assert done.returncode == 2 and "not valid JSON" in done.stderr and victim.name in done.stderr
    victim.write_text(json.dumps({"version": 1, "setting": "gan", "seed": 1}))
    with pytest.raises(report.ResultsError, match="partial results file, missing fold"):
        grade.grade(broken)
    with pytest.raises(report.ResultsError, match="no such results folder"):
        grade.grade(tmp_path / "nowhere")


def test_grade_fails_selection_on_the_reported_set_and_unlabelled_leaks(reduced_run, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(reduced_run / "results", bad / "results")
    for p in bad.rglob("seed*-fold*.json"):
        r = json.loads(p.read_text())
        if r["seed"] == 0:
            r["selected_on"] = r["reported_on"]
        r["split"]["protocol"] = "random-stratified"  # the leak label removed
        p.write_text(json.dumps(r))
    leaks = grade.grade(bad, checks=("leaks",)).check("leaks")
    assert leaks.status == "fail"
    assert any("selected on the set they report" in d for d in leaks.details)
    assert any("not labelled" in d for d in leaks.details)


def test_ordering_verdicts_follow_the_intervals():
    def runs(setting, accs):
        return [{"data": "ckplus48", "protocol": "subject-kfold", "setting": setting, "seed": s, "fold": 0,
                 "metrics": {"test_accuracy": a}} for s, a in enumerate(accs)]

    clear = runs("none", [0.80, 0.81, 0.79]) + runs("traditional", [0.85, 0.86, 0.84]) + runs("gan", [0.90, 0.91, 0.89])
    check = grade.check_ordering(clear)
    assert check.status == "pass" and all("supported" in d for d in check.details)
    reversed_ = runs("none", [0.90, 0.91, 0.89]) + runs("traditional", [0.80, 0.81, 0.79])
    check = grade.check_ordering(reversed_)
    assert check.status == "fail" and "contradicted" in check.details[0]


def test_publish_copies_numbers_only(reduced_run, tmp_path):
    reduced_run = shutil.copytree(reduced_run, tmp_path / "experiment")  # other tests read the original
    (reduced_run / "run-info.json").write_text(json.dumps({"wall_s": 1.0}))
    dest = experiment.publish_results(reduced_run, tmp_path / "published")
    copied = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert "TABLE6.md" in copied and "run-info.json" in copied and "experiment-random.json" in copied
    assert sum(c.startswith("results/random/") for c in copied) == len(list(reduced_run.glob("results/*/*/*.json")))
    assert all(c.endswith((".json", ".md")) for c in copied)  # no generated faces, generators or models
    assert any((reduced_run / "augmented").rglob("*.png"))  # ... although the experiment folder has them
    assert "| synthetic-ckplus | random (leaky) | mini_xception | gan |" in (dest / "TABLE6.md").read_text()
    assert grade.grade(dest, checks=("completeness", "provenance", "leaks")).passed


def test_reference_configs_and_the_reproduce_command_agree():
    """Every published reference has a configuration, and ``reproduce`` offers exactly those."""
    from fer_kit import cli

    for name in experiment.REFERENCES:
        assert experiment.reference_configs(name)
    xception = experiment.reference_configs("ckplus48-xception")
    assert [(c.data, c.protocol, c.train.model) for c in xception] == [("ckplus48", "random", "xception")]
    assert cli.REFERENCE_CHOICES == experiment.REFERENCES
    assert cli.build_parser().parse_args(["reproduce", "ckplus48-xception"]).data == "ckplus48-xception"
    with pytest.raises(ValueError, match="ckplus48-xception"):
        experiment.reference_configs("not-a-reference")
