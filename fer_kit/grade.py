"""Grading a Table 6 reproduction: ``python -m fer_kit grade RESULTS_DIR``.

Checks (each passes, fails, or is skipped with the reason):

* ``completeness`` — every setting × seed × fold that the recorded config asks for has a results
  file, all files of one experiment share its config and data fingerprint;
* ``provenance`` — seed, protocol, data fingerprint, package versions and git commit are recorded;
* ``leaks`` — selection never on the reported set; a leaky protocol (the paper's random CK+ split) is
  flagged, and must be labelled as leaky in its files;
* ``ordering`` — the paper's claims GAN ≥ traditional ≥ none against 95 % confidence intervals of the
  paired (same seed, same folds) differences: fails only when the interval contradicts a claim;
* ``paper`` — distance to the paper's test accuracies within ``tolerance`` points, for the paper's
  protocols (FER2013 official, CK+ random split) on the real data sets;
* ``reference`` — distance to a reference run's cells within ``reference_tolerance`` points.

Instructors can also run the checks as tests:
``FER_KIT_RESULTS=DIR python -m pytest --pyargs fer_kit.grading_tests``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer_kit.experiment import SETTINGS
from fer_kit.report import PAPER_TABLE6, ResultsError, load_results, paper_family, t_interval

CHECKS = ("completeness", "provenance", "leaks", "ordering", "paper", "reference")
PAPER_PROTOCOLS = {"fer2013": "fer2013-official", "ckplus": "random"}


@dataclass
class Check:
    name: str
    status: str          # "pass", "fail" or "skip"
    details: list[str] = field(default_factory=list)


@dataclass
class GradeReport:
    folder: str
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def text(self) -> str:
        mark = {"pass": "PASS", "fail": "FAIL", "skip": "skip"}
        lines = [f"Grading {self.folder}"]
        for c in self.checks:
            lines.append(f"  [{mark[c.status]}] {c.name}")
            lines += [f"         {d}" for d in c.details]
        lines.append("RESULT: " + ("all checks passed" if self.passed else
                                   "failed: " + ", ".join(c.name for c in self.checks if c.status == "fail")))
        return "\n".join(lines)


def _groups(results: list[dict]) -> dict[tuple[str, str], list[dict]]:
    out: dict[tuple[str, str], list[dict]] = {}
    for r in results:
        out.setdefault((r["data"], r["protocol"]), []).append(r)
    return out


def check_completeness(results: list[dict]) -> Check:
    details, ok = [], True
    for (data_name, protocol), runs in _groups(results).items():
        cfg = runs[0]["config"]
        for r in runs[1:]:
            if r["config"] != cfg or r["data_fingerprint"] != runs[0]["data_fingerprint"]:
                ok = False
                details.append(f"{r['path']}: another config or data set than {runs[0]['path']}")
        folds = runs[0]["folds"]
        expected = {(s, seed, f) for s in cfg["settings"] for seed in cfg["seeds"] for f in range(folds)}
        have = {(r["setting"], r["seed"], r["fold"]) for r in runs}
        missing = sorted(expected - have)
        if missing:
            ok = False
            shown = ", ".join(f"{s}/seed{seed}/fold{f}" for s, seed, f in missing[:8])
            details.append(f"{data_name} {protocol}: {len(missing)} of {len(expected)} runs missing ({shown}"
                           + (", ..." if len(missing) > 8 else "") + ")")
        absent = set(SETTINGS) - set(cfg["settings"])
        if absent:
            ok = False
            details.append(f"{data_name} {protocol}: settings {sorted(absent)} were not run")
        if len(cfg["seeds"]) < 2:
            details.append(f"{data_name} {protocol}: a single seed — no seed-to-seed spread")
        if ok:
            details.append(f"{data_name} {protocol}: {len(have)} runs = {len(cfg['settings'])} settings × "
                           f"{len(cfg['seeds'])} seeds × {folds} fold(s)")
    return Check("completeness", "pass" if ok else "fail", details)


def check_provenance(results: list[dict]) -> Check:
    bad = []
    for r in results:
        gaps = [k for k in ("seed", "data_fingerprint", "git_commit") if r.get(k) in (None, "")]
        versions = set(r.get("versions") or {})
        if "keras" not in versions or not any(v.startswith("tensorflow") for v in versions):
            gaps.append("versions of tensorflow/keras")
        if not r.get("split", {}).get("protocol"):
            gaps.append("split protocol")
        if gaps:
            bad.append(f"{r['path']}: missing {', '.join(gaps)}")
    commits = sorted({r["git_commit"] for r in results})
    details = bad[:10] or [f"{len(results)} files record seed, protocol, data fingerprint, versions, commit "
                           f"({', '.join(c[:10] for c in commits)})"]
    return Check("provenance", "fail" if bad else "pass", details)


def check_leaks(results: list[dict]) -> Check:
    details, ok = [], True
    for (data_name, protocol), runs in _groups(results).items():
        same = [r for r in runs if r["selected_on"] == r["reported_on"]]
        if same:
            ok = False
            details.append(f"{data_name} {protocol}: {len(same)} run(s) selected on the set they report "
                           f"({same[0]['reported_on']})")
        if any(r["split"].get("val", 1) == 0 for r in runs):
            ok = False
            details.append(f"{data_name} {protocol}: runs without a validation part (selection on the test set)")
        leaky = [r for r in runs if r["leaky"]]
        if leaky:
            labelled = protocol == "random" and all("leaky" in r["split"].get("protocol", "") for r in leaky)
            if not labelled:
                ok = False
                details.append(f"{data_name} {protocol}: leaky split not labelled as such")
            else:
                details.append(f"FLAG {data_name} {protocol}: the paper's random split — frames of one subject on "
                               "both sides; its accuracy is inflated (labelled leaky in every file)")
        elif protocol == "random":
            ok = False
            details.append(f"{data_name} {protocol}: a random split not marked leaky")
    if ok and not details:
        details.append("no leaky protocol; selection and report on separate data")
    return Check("leaks", "pass" if ok else "fail", details)


def _per_seed(runs: list[dict], setting: str) -> dict[int, float]:
    seeds = sorted({r["seed"] for r in runs if r["setting"] == setting})
    return {s: 100 * float(np.mean([r["metrics"]["test_accuracy"] for r in runs
                                     if r["setting"] == setting and r["seed"] == s])) for s in seeds}


def check_ordering(results: list[dict]) -> Check:
    details, ok = [], True
    for (data_name, protocol), runs in _groups(results).items():
        for better, worse in (("gan", "traditional"), ("traditional", "none")):
            a, b = _per_seed(runs, better), _per_seed(runs, worse)
            common = sorted(set(a) & set(b))
            if not common:
                continue
            diff = np.array([a[s] - b[s] for s in common])
            low, high = t_interval(diff)
            if math.isnan(low):
                verdict = "inconclusive (one seed: no interval)"
            elif low > 0:
                verdict = "supported"
            elif high < 0:
                verdict, ok = "contradicted", False
            else:
                verdict = "inconclusive (the interval includes 0)"
            ci = "" if math.isnan(low) else f", 95 % CI [{low:+.2f}, {high:+.2f}]"
            details.append(f"{data_name} {protocol}: {better} ≥ {worse}: {diff.mean():+.2f} points over "
                           f"{len(common)} seed(s){ci} → {verdict}")
    return Check("ordering", "pass" if ok else "fail", details)


def _cell_means(results: list[dict]) -> dict[tuple[str, str, str], float]:
    out = {}
    for (data_name, protocol), runs in _groups(results).items():
        for setting in SETTINGS:
            per_seed = _per_seed(runs, setting)
            if per_seed:
                out[(data_name, protocol, setting)] = float(np.mean(list(per_seed.values())))
    return out


def check_paper(results: list[dict], tolerance: float) -> Check:
    details, ok, compared = [], True, 0
    for (data_name, protocol, setting), mean in _cell_means(results).items():
        family = paper_family(data_name)
        if data_name.startswith("synthetic"):
            continue
        if PAPER_PROTOCOLS[family] != protocol:
            details.append(f"{data_name} {protocol} {setting}: {mean:.2f} % — not the paper's protocol, not compared")
            continue
        paper = PAPER_TABLE6[family]["test"][setting]
        compared += 1
        good = abs(mean - paper) <= tolerance
        ok &= good
        details.append(f"{data_name} {protocol} {setting}: {mean:.2f} % vs paper {paper:.2f} % "
                       f"({mean - paper:+.2f}; tolerance ±{tolerance:g}) {'ok' if good else 'OUTSIDE'}")
    if not compared:
        return Check("paper", "skip", details + ["no real-data run under the paper's protocols to compare"])
    return Check("paper", "pass" if ok else "fail", details)


def check_reference(results: list[dict], reference: dict | None, tolerance: float) -> Check:
    if reference is None:
        return Check("reference", "skip", ["no reference given (--reference FILE_OR_DIR)"])
    ref = {(c["data"], c["protocol"], c["setting"]): c["test_accuracy"] for c in reference["cells"]}
    details, ok = [], True
    for key, mean in _cell_means(results).items():
        if key not in ref:
            ok = False
            details.append(f"{' '.join(key)}: not in the reference")
            continue
        good = abs(mean - ref[key]) <= tolerance
        ok &= good
        details.append(f"{' '.join(key)}: {mean:.2f} % vs reference {ref[key]:.2f} % ({mean - ref[key]:+.2f}; "
                       f"tolerance ±{tolerance:g}) {'ok' if good else 'OUTSIDE'}")
    missing = sorted(set(ref) - set(_cell_means(results)))
    if missing:  # a run of part of the reference (one protocol, say): completeness judges what was asked for
        details.append(f"not run here, so not compared: {', '.join(' '.join(k) for k in missing)}")
    if len(missing) == len(ref):
        ok = False
    return Check("reference", "pass" if ok else "fail", details)


def reference_from(results: list[dict], note: str = "") -> dict:
    """A reference (cell means in %) made from a results folder, to grade later runs against."""
    cells = [{"data": d, "protocol": p, "setting": s, "test_accuracy": round(m, 4)}
             for (d, p, s), m in sorted(_cell_means(results).items())]
    return {"note": note, "cells": cells, "git_commit": results[0]["git_commit"],
            "data_fingerprints": sorted({r["data_fingerprint"] for r in results})}


def load_reference(path: str | Path) -> dict:
    """A reference JSON file, or a results folder (its cell means)."""
    path = Path(path)
    if path.is_dir():
        return reference_from(load_results(path))
    try:
        ref = json.loads(path.read_text())
        ref["cells"]  # noqa: B018 — validates the shape
        return ref
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ResultsError(f"{path}: not a reference file ({err})") from err


def grade(folder: str | Path, *, reference: str | Path | dict | None = None, tolerance: float = 5.0,
          reference_tolerance: float = 5.0, checks: tuple[str, ...] = CHECKS) -> GradeReport:
    """Run the checks on a results folder. Raises :class:`ResultsError` for a missing/corrupt folder or file."""
    unknown = set(checks) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown check(s) {sorted(unknown)}; choose from {CHECKS}")
    results = load_results(folder)
    ref = load_reference(reference) if isinstance(reference, (str, Path)) else reference
    run = {"completeness": lambda: check_completeness(results), "provenance": lambda: check_provenance(results),
           "leaks": lambda: check_leaks(results), "ordering": lambda: check_ordering(results),
           "paper": lambda: check_paper(results, tolerance),
           "reference": lambda: check_reference(results, ref, reference_tolerance)}
    return GradeReport(str(folder), [run[name]() for name in checks])
