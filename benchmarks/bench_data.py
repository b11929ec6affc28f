"""Benchmark the data layer: first (decoding) load vs cached load, and drawing the synthetic set.

    python benchmarks/bench_data.py [DATA_SOURCE ...]     # default: ../shared/data/fer2013 if present

Prints seconds and the ratio measured in this one run (machines here are shared and noisy:
compare ratios, not absolute times across runs).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from fer_kit import config, data, synth


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main(sources: list[str]) -> None:
    with tempfile.TemporaryDirectory() as cache:
        os.environ[config.CACHE_ENV] = cache
        for source in sources:
            faces, first = _timed(lambda s=source: data.load(s, progress=False))
            _, second = _timed(lambda s=source: data.load(s, progress=False))
            print(f"{faces.name}: {len(faces)} images; first load {first:.2f} s, cached load {second:.3f} s "
                  f"({first / second:.0f}x faster)")
        spec = synth.SynthSpec("ckplus", 0, 1.0)
        _, seconds = _timed(lambda: synth.write(Path(cache) / "synth", spec, progress=False))
        print(f"synthetic ckplus profile (981 images): drawn and written in {seconds:.2f} s")


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013"
    main(sys.argv[1:] or ([str(default)] if default.is_dir() else ["synthetic-fer2013"]))
