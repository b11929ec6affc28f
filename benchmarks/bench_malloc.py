"""Benchmark the memory allocator under TensorFlow's CPU training: one cGAN train step per allocator.

    python benchmarks/bench_malloc.py [--batch 64] [--steps 8] [--rounds 2]

glibc's malloc hands large buffers (above its mmap threshold, which adapts only up to 32 MiB) back to
the kernel when they are freed, and TensorFlow frees and re-allocates its activation buffers every
step, so each step page-faults its memory in again. Compared here, each in a fresh process and
interleaved over ``--rounds`` (machines here are shared and noisy: compare the ratios):

* ``glibc`` — the default;
* ``glibc-tuned`` — glibc with environment settings only (:data:`TUNED`, nothing to install): large
  blocks stay in the heap and the heap is not trimmed;
* ``tcmalloc`` / ``jemalloc`` — preloaded, where Debian's libtcmalloc-minimal4 / libjemalloc2 is installed
  (``scripts/bootstrap.sh`` preloads tcmalloc when it is there).

Prints milliseconds per step, the ratio to glibc, minor page faults and system CPU seconds per step.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

TUNED = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**34),
         "MALLOC_TOP_PAD_": str(2**29)}
PRELOADS = {"tcmalloc": "libtcmalloc_minimal.so.4", "jemalloc": "libjemalloc.so.2"}
LIB_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib")


def _child(batch: int, steps: int) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from fer_kit import data, gan
    from fer_kit.gan_training import CGAN, PairFeed

    faces = data.load("synthetic", progress=False)
    split = data.subject_split(faces)
    keras.utils.set_random_seed(0)
    model = CGAN(gan.GANConfig(n_classes=len(faces.class_names)))
    model.compile()
    feed = PairFeed(faces, split.train, paired=True, batch_size=batch, steps_per_epoch=steps)
    model.fit(feed, epochs=1, verbose=0)  # traces the step
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    model.fit(feed, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"ms_per_step": 1000 * seconds / steps,
                      "faults_per_step": (after.ru_minflt - before.ru_minflt) / steps,
                      "sys_s_per_step": (after.ru_stime - before.ru_stime) / steps}))


def _find(lib: str) -> str | None:
    return next((str(Path(d) / lib) for d in LIB_DIRS if (Path(d) / lib).is_file()), None)


def allocators() -> dict[str, dict[str, str]]:
    """Allocator name → the environment changes that select it (the preloaded ones only where installed)."""
    found = {"glibc": {}, "glibc-tuned": dict(TUNED)}
    for name, lib in PRELOADS.items():
        if path := _find(lib):
            found[name] = {"LD_PRELOAD": path}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args.batch, args.steps)
    clean = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("MALLOC_")}
    results: dict[str, list[dict]] = {name: [] for name in allocators()}
    for _ in range(args.rounds):
        for name, extra in allocators().items():
            out = subprocess.run([sys.executable, __file__, "--child", "--batch", str(args.batch), "--steps",
                                  str(args.steps)], env={**clean, **extra}, capture_output=True, text=True)
            if out.returncode:
                raise SystemExit(f"{name}: the child failed:\n{out.stderr[-2000:]}")
            results[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = statistics.median(r["ms_per_step"] for r in results["glibc"])
    print(f"cGAN train step, batch {args.batch}, median of {args.rounds} interleaved run(s), "
          f"{os.cpu_count()} CPU core(s):")
    for name, runs in results.items():
        ms = statistics.median(r["ms_per_step"] for r in runs)
        faults = statistics.median(r["faults_per_step"] for r in runs)
        sys_s = statistics.median(r["sys_s_per_step"] for r in runs)
        print(f"  {name:12s} {ms:7.0f} ms/step  ({base / ms:.2f}x glibc)  {faults:9.0f} page faults/step  "
              f"{sys_s:5.2f} s system CPU/step")


if __name__ == "__main__":
    main()
