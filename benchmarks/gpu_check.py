"""The quick GPU check: the kit's trainers with mixed precision where a GPU is present.

    python benchmarks/gpu_check.py [--json PATH]

Detects GPUs (never assumes one). On each of float32 and (on a GPU) mixed_float16 it trains, for a few
steps, the cGAN (G + D1 + D2, batch 64) and the compact classifier (batch 256), checks that the losses
stay finite, and prints images/s and the mixed / float32 ratio. With several GPUs it also runs the cGAN
under ``MirroredStrategy``. About a minute on a GPU; on a CPU it says so and times float32 only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from fer_kit import data, devices, gan  # noqa: E402
from fer_kit.augment import training_dataset  # noqa: E402
from fer_kit.classify import TrainConfig, build_model, compile_classifier  # noqa: E402
from fer_kit.gan_training import CGAN, PairFeed  # noqa: E402


class _Timer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds, self.logs = time.perf_counter() - self.start, dict(logs or {})


def cgan_rate(faces, split, steps: int, strategy=None, mixed: bool = False) -> tuple[float, dict]:
    keras.utils.set_random_seed(0)
    with devices.scope(strategy), devices.precision(mixed):
        model = CGAN(gan.GANConfig(n_classes=len(faces.class_names)))
        model.compile()
    feed = PairFeed(faces, split.train, paired=True, batch_size=64, steps_per_epoch=steps)
    timer = _Timer()
    model.fit(feed, epochs=2, verbose=0, callbacks=[timer])  # epoch 1 traces; epoch 2 is timed
    return steps * 64 / timer.seconds, timer.logs


def classifier_rate(faces, steps: int, mixed: bool = False) -> tuple[float, dict]:
    cfg = TrainConfig(batch_size=256)
    with devices.precision(mixed):
        model = compile_classifier(build_model(cfg.model, len(faces.class_names), seed=0), cfg)
    n = min(len(faces), steps * cfg.batch_size)
    timer = _Timer()
    model.fit(training_dataset(faces.images[:n], faces.labels[:n], batch_size=cfg.batch_size), epochs=2, verbose=0,
              callbacks=[timer])
    return (n // cfg.batch_size) * cfg.batch_size / timer.seconds, timer.logs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    gpus = devices.gpus()
    print(f"GPUs: {[g.name for g in gpus] or 'none'}; CPU cores: {os.cpu_count()}")
    faces = data.load("synthetic", progress=False)
    split = data.subject_split(faces)
    figures, ok = {"gpus": [g.name for g in gpus]}, True
    for policy in ("float32", "mixed_float16") if gpus else ("float32",):
        mixed = policy == "mixed_float16"
        rate, logs = cgan_rate(faces, split, args.steps, mixed=mixed)
        crate, clogs = classifier_rate(faces, args.steps, mixed=mixed)
        finite = all(math.isfinite(float(v)) for v in [*logs.values(), *clogs.values()])
        ok &= finite
        figures[policy] = {"cgan_images_per_s": rate, "classifier_images_per_s": crate, "finite_losses": finite,
                           "cgan_g_loss": float(logs.get("g_loss", np.nan)), "classifier_loss": float(clogs["loss"])}
        print(f"{policy:14s} cGAN {rate:8.0f} images/s   classifier {crate:8.0f} images/s   "
              f"losses finite: {finite}")
    if "mixed_float16" in figures:
        for what in ("cgan", "classifier"):
            r = figures["mixed_float16"][f"{what}_images_per_s"] / figures["float32"][f"{what}_images_per_s"]
            figures[f"{what}_mixed_over_float32"] = r
            print(f"{what}: mixed precision / float32 = {r:.2f}×")
    else:
        print("no GPU: mixed precision is not used on a CPU (it is slower there); nothing more to check")
    if len(gpus) > 1:
        import tensorflow as tf

        rate, _ = cgan_rate(faces, split, args.steps, tf.distribute.MirroredStrategy())
        figures["cgan_mirrored_images_per_s"] = rate
        print(f"cGAN under MirroredStrategy on {len(gpus)} GPUs: {rate:.0f} images/s")
    if args.json:
        Path(args.json).write_text(json.dumps({**figures, **devices.describe()}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
