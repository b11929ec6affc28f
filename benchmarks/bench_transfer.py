"""Time to expression transfer: how fast the course cGAN learns to make the asked-for expression.

    python benchmarks/bench_transfer.py [--epochs 16] [--steps 100] [--seed 0] [--judge-epochs 40] [--json FILE]

Trains the default cGAN (batch 64) on the training subjects of the embedded synthetic set and, after
every epoch, scores it on held-out subjects with an independent judge (``quality.synthetic_judge``,
trained on another draw of the synthetic faces). Prints, per epoch, the training seconds (scoring and
the judge's own training excluded), the steps and the expression score, then the first time the
score reached 0.5 and 0.8 and the score after 300 s of training. Machines here are shared and noisy:
the seconds are what this run measured, the scores are seeded.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from fer_kit import data, quality  # noqa: E402
from fer_kit.gan_training import train_cgan  # noqa: E402

THRESHOLDS = (0.5, 0.8)
BUDGET_S = 300.0


class ScoreEachEpoch(keras.callbacks.Callback):
    """Training seconds (cumulative, scoring excluded) and the held-out expression score per epoch."""

    def __init__(self, judge, sources, n_classes: int, steps_per_epoch: int):
        super().__init__()
        self.judge, self.sources, self.n_classes, self.steps = judge, sources, n_classes, steps_per_epoch
        self.rows: list[dict] = []
        self.train_s = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.train_s += time.perf_counter() - self.start
        score = quality.expression_score(self.model, self.judge.predict, self.sources, self.n_classes)
        self.rows.append({"epoch": epoch + 1, "steps": (epoch + 1) * self.steps, "train_s": round(self.train_s, 1),
                          "score": round(score["mean"], 4),
                          "per_target": [round(v, 3) for v in score["per_target"]]})
        print(f"  epoch {epoch + 1:3d}  {self.rows[-1]['steps']:5d} steps  {self.train_s:7.1f} s  "
              f"expression score {score['mean']:.3f}", flush=True)


def first_reaching(rows: list[dict], threshold: float) -> dict | None:
    return next((r for r in rows if r["score"] >= threshold), None)


def measure(epochs: int = 16, steps: int = 100, seed: int = 0, judge_epochs: int = 40, batch_size: int = 64,
            judge_scale: float = 2.0) -> dict:
    """Train the course cGAN, scoring it after every epoch; the figures as a dict (also printed).
    ``batch_size`` and ``judge_scale`` (the size of the judge's synthetic draw) shrink only for smoke runs."""
    faces = data.load("synthetic", progress=False)
    split = data.subject_split(faces, seed=seed)
    start = time.perf_counter()
    judge = quality.synthetic_judge(seed=seed + 1, scale=judge_scale, epochs=judge_epochs)
    print(f"judge: {judge.accuracy:.3f} on its own test faces ({time.perf_counter() - start:.0f} s to train)")
    scorer = ScoreEachEpoch(judge, faces.images[split.test], len(faces.class_names), steps)
    print(f"cGAN on {len(split.train)} training images of {faces.name}, {os.cpu_count()} CPU core(s):")
    with tempfile.TemporaryDirectory() as run_dir:
        train_cgan(faces, split, run_dir, epochs=epochs, steps_per_epoch=steps, batch_size=batch_size, seed=seed,
                   verbose=0, callbacks=[scorer])
    rows = scorer.rows
    within = [r for r in rows if r["train_s"] <= BUDGET_S]
    out = {"judge_accuracy": judge.accuracy, "batch_size": batch_size, "epochs": rows, "budget_s": BUDGET_S,
           "score_within_budget": within[-1]["score"] if within else None,
           "best_score": max(r["score"] for r in rows)}
    for threshold in THRESHOLDS:
        hit = first_reaching(rows, threshold)
        out[f"first_{threshold}_steps"] = hit and hit["steps"]
        out[f"first_{threshold}_s"] = hit and hit["train_s"]
        print(f"score ≥ {threshold}: " + (f"after {hit['steps']} steps, {hit['train_s']:.0f} s of training"
                                          if hit else "not reached"))
    print(f"score after ≤ {BUDGET_S:.0f} s of training: "
          + (f"{out['score_within_budget']:.3f}" if within else "no epoch ended within the budget"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=100, help="steps per epoch (batch 64)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--judge-epochs", type=int, default=40)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    out = measure(args.epochs, args.steps, args.seed, args.judge_epochs)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
