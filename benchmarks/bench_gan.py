"""Benchmark one cGAN training step (G + D1 + D2 updated together) on this machine's CPU.

    python benchmarks/bench_gan.py [--batch 64] [--steps 30]

Compares eager execution, ``tf.function`` (Keras' default) and XLA (``jit_compile=True``) in one run
and prints images per second and the ratio to the default: machines here are shared and noisy, so
compare the ratios, not absolute figures across runs.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from fer_kit import data, gan  # noqa: E402
from fer_kit.gan_training import CGAN, PairFeed  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def images_per_second(mode: str, faces, split, batch: int, steps: int) -> float:
    keras.utils.set_random_seed(0)
    model = CGAN(gan.GANConfig(n_classes=len(faces.class_names)))
    model.compile(run_eagerly=mode == "eager", jit_compile=mode == "xla")
    feed = PairFeed(faces, split.train, paired=True, batch_size=batch, steps_per_epoch=steps)
    timer = EpochTimer()
    model.fit(feed, epochs=2, verbose=0, callbacks=[timer])  # epoch 1 traces/compiles; epoch 2 is timed
    return steps * batch / timer.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    faces = data.load("synthetic", progress=False)
    split = data.subject_split(faces)
    rates = {}
    for mode in ("tf.function", "eager", "xla"):
        steps = max(5, args.steps // 3) if mode == "eager" else args.steps
        rates[mode] = images_per_second(mode, faces, split, args.batch, steps)
    base = rates["tf.function"]
    print(f"cGAN train step, batch {args.batch}, {os.cpu_count()} CPU core(s):")
    for mode, rate in rates.items():
        print(f"  {mode:12s} {rate:7.0f} images/s  ({rate / base:.2f}x tf.function)  "
              f"{1000 * args.batch / rate:6.0f} ms/step")


if __name__ == "__main__":
    main()
