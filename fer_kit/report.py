"""Results files → Table 6: mean ± std and a 95 % confidence interval per cell, beside the paper.

A *run* is one results JSON (setting × seed × fold). Within a seed the folds are pooled (their mean
test accuracy); the seeds are then the independent repetitions behind the mean, the standard
deviation and the t-interval. With a single seed, the folds play that part instead (the table says
which).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from fer_kit.experiment import SETTINGS

# Xu & Stirenko, Table 6 (accuracy, %): no / traditional / GAN augmentation
PAPER_TABLE6 = {
    "fer2013": {"test": {"none": 62.17, "traditional": 66.89, "gan": 69.47},
                "val": {"none": 63.11, "traditional": 67.70, "gan": 74.89}},
    "ckplus": {"test": {"none": 90.15, "traditional": 93.60, "gan": 95.14},
               "val": {"none": 96.36, "traditional": 97.02, "gan": 97.58}},
}
REQUIRED = ("version", "setting", "seed", "fold", "folds", "protocol", "leaky", "selected_on", "reported_on",
            "metrics", "config", "data", "data_fingerprint", "versions", "git_commit")


class ResultsError(ValueError):
    """A results folder or file is missing, partial or corrupt."""


def paper_family(data_name: str) -> str:
    """Which of the paper's two data sets a data set stands for ("fer2013" or "ckplus")."""
    return "fer2013" if "fer" in data_name.lower() else "ckplus"


def read_result(path: Path) -> dict:
    try:
        payload = json.loads(Path(path).read_text())
    except OSError as err:
        raise ResultsError(f"{path}: cannot be read ({err})") from err
    except ValueError as err:
        raise ResultsError(f"{path}: not valid JSON ({err}); the run was probably interrupted while writing — "
                           "delete the file and run the experiment again to redo that run") from err
    if not isinstance(payload, dict):
        raise ResultsError(f"{path}: expected a JSON object")
    missing = [k for k in REQUIRED if k not in payload]
    if missing:
        raise ResultsError(f"{path}: partial results file, missing {', '.join(missing)}")
    acc = payload["metrics"].get("test_accuracy") if isinstance(payload["metrics"], dict) else None
    if not isinstance(acc, (int, float)) or not 0 <= acc <= 1:
        raise ResultsError(f"{path}: metrics.test_accuracy must be a number in [0, 1], got {acc!r}")
    return payload


def load_results(folder: str | Path) -> list[dict]:
    """Every results file under ``folder`` (each with its ``path``), checked for completeness."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ResultsError(f"{folder}: no such results folder")
    files = sorted(folder.rglob("seed*-fold*.json"))
    if not files:
        raise ResultsError(f"{folder}: no results files (seed*-fold*.json) found")
    return [{**read_result(p), "path": str(p)} for p in files]


def model_name(result: dict) -> str:
    """The classifier a run trained (``config.train.model``)."""
    return result["config"]["train"]["model"]


def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Two-sided t confidence interval of the mean (NaN with fewer than two values)."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return float(values.mean() - half), float(values.mean() + half)


def cell_values(runs: list[dict], metric: str = "test_accuracy") -> tuple[np.ndarray, str]:
    """The repetitions of one cell, in %: per-seed means over folds (or the folds, with one seed)."""
    seeds = sorted({r["seed"] for r in runs})
    if len(seeds) > 1:
        values = [np.mean([r["metrics"][metric] for r in runs if r["seed"] == s]) for s in seeds]
        return 100 * np.array(values), "seeds"
    folds = {r["fold"] for r in runs}
    return 100 * np.array([r["metrics"][metric] for r in runs]), "folds" if len(folds) > 1 else "run"


def table6(results: list[dict]):
    """One row per (data, protocol, classifier, setting): test and validation accuracy (%) with std and 95 % CI,
    the paper's numbers and the difference, per-class accuracy means, macro-F1."""
    import pandas as pd

    rows = []
    keys = sorted({(r["data"], r["protocol"], model_name(r)) for r in results})
    for data_name, protocol, model in keys:
        family = paper_family(data_name)
        for setting in SETTINGS:
            runs = [r for r in results
                    if (r["data"], r["protocol"], model_name(r), r["setting"]) == (data_name, protocol, model, setting)]
            if not runs:
                continue
            test, unit = cell_values(runs)
            val, _ = cell_values(runs, "val_accuracy")
            low, high = np.clip(t_interval(test), 0.0, 100.0)  # an accuracy interval ends at 0 and 100 %
            paper = PAPER_TABLE6[family]
            rows.append({
                "data": data_name, "protocol": protocol + (" (leaky)" if runs[0]["leaky"] else ""),
                "model": model, "setting": setting, "runs": len(runs), "repetitions": f"{len(test)} {unit}",
                "test acc": test.mean(), "std": test.std(ddof=1) if len(test) > 1 else float("nan"),
                "CI low": low, "CI high": high, "val acc": val.mean(),
                "paper test": paper["test"][setting], "paper val": paper["val"][setting],
                "test − paper": test.mean() - paper["test"][setting],
                "macro-F1": 100 * np.mean([r["metrics"]["macro_f1"] for r in runs]),
                "reported on": runs[0]["reported_on"],
            })
    return pd.DataFrame(rows)


def per_class(results: list[dict]):
    """Mean per-class test accuracy (%) for each (data, protocol, setting)."""
    import pandas as pd

    rows = []
    for r in results:
        for c, v in r["metrics"]["per_class_accuracy"].items():
            rows.append({"data": r["data"], "protocol": r["protocol"], "setting": r["setting"], "class": c,
                         "accuracy": 100 * v})
    frame = pd.DataFrame(rows)
    return frame.groupby(["data", "protocol", "class", "setting"], sort=False)["accuracy"].mean().unstack("setting")


def markdown_table6(table) -> str:
    """Table 6 as markdown: mean ± std [95 % CI] beside the paper, per data set, protocol and classifier."""
    lines = ["| data | protocol | classifier | setting | test accuracy % (mean ± std [95 % CI]) | paper | difference | "
             "validation % | paper val | repetitions | reported on |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        ci = "" if math.isnan(r["CI low"]) else f" [{r['CI low']:.2f}, {r['CI high']:.2f}]"
        std = "" if math.isnan(r["std"]) else f" ± {r['std']:.2f}"
        lines.append(f"| {r['data']} | {r['protocol']} | {r['model']} | {r['setting']} | "
                     f"{r['test acc']:.2f}{std}{ci} | {r['paper test']:.2f} | {r['test − paper']:+.2f} | "
                     f"{r['val acc']:.2f} | {r['paper val']:.2f} | {r['repetitions']} | {r['reported on']} |")
    return "\n".join(lines) + "\n"
