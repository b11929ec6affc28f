"""The benchmark suite: every speed figure of the kit, measured in one run on the machine at hand.

    python benchmarks/suite.py                  # full figures (about 15 minutes on 2 cores, plus options)
    python benchmarks/suite.py --smoke          # tiny sizes: checks that every benchmark runs (CI)
    python benchmarks/suite.py --course         # also time the whole reduced course (python -m fer_kit run --reduced)
    python benchmarks/suite.py --reproduction   # also time the real CK+48 reproduction (needs ../shared/data)

Each benchmark runs in its own Python process, so its peak memory (max RSS) is its own. Prints a table of
figures, ratios and the targets of the speed issue (met / not met), and writes it all as JSON
(``--json``, default ``build/benchmarks/suite.json``) with the machine, versions and git commit. Machines
here are shared and noisy: compare ratios measured in one run, not absolute figures across runs.
Without ``--reproduction`` the CK+48 reproduction row quotes the wall time that ``python -m fer_kit
reproduce ckplus48`` recorded when it made ``results/reference/`` (marked as such).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FER_KIT_TEST_DATA", ROOT.parent / "shared" / "data"))
WORKERS = ("data", "classifier", "cgan", "transfer", "generation", "demo")
TARGETS = {  # figure name → (comparison, threshold, what the issue asks)
    "classifier.kit_over_naive": (">=", 2.0, "kit pipeline ≥ 2× naive fit, same model"),
    "classifier.fer2013_epoch_s": ("<=", 60.0, "one FER2013 epoch of the compact model ≤ 60 s"),
    "transfer.first_0.8_s": ("<=", 300.0, "course cGAN: expression score ≥ 0.8 within 5 min of training"),
    "course.reduced_s": ("<=", 900.0, "whole course, reduced mode ≤ 15 min"),
    "reproduction.ckplus48_s": ("<=", 1800.0, "real CK+48 reproduction ≤ 30 min"),
    "demo.ms_per_frame": ("<=", 30.0, "demo detect + classify ≤ 30 ms / 640×480 frame, one core"),
    "reproduction.fer2013_peak_gb": ("<=", 4.0, "peak memory of a full FER2013 run ≤ 4 GB"),
}


def _peak_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: KiB


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


class _EpochTimer:
    """A Keras callback timing each epoch (the first one traces the graph; later ones are steady)."""

    def __new__(cls):
        import keras

        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.seconds = getattr(self, "seconds", []) + [time.perf_counter() - self.start]

        return Timer()


# ------------------------------------------------------------------ workers (one process each)
def _train_data(smoke: bool):
    """FER2013's Training images when the shared data is here (the real size and content), else synthetic
    ones; at smoke sizes the small embedded set (a few hundred images are used)."""
    from fer_kit import data

    if smoke:
        return data.load("synthetic", progress=False)
    if (SHARED_DATA / "fer2013").is_dir():
        return data.load("fer2013", data_dir=SHARED_DATA, progress=False)
    return data.load("synthetic-fer2013", progress=False)


def worker_data(smoke: bool) -> dict:
    from fer_kit import config, data

    sources = [s for s in ("ckplus48", "fer2013") if (SHARED_DATA / s).is_dir()] or ["synthetic"]
    if smoke:
        sources = sources[:1]
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        os.environ[config.CACHE_ENV] = cache
        for source in sources:
            kwargs = {"data_dir": SHARED_DATA} if source != "synthetic" else {}
            faces, cold = _timed(lambda s=source, k=kwargs: data.load(s, progress=False, **k))
            _, cached = _timed(lambda s=source, k=kwargs: data.load(s, progress=False, **k))
            out[f"load_{faces.name}_cold_s"] = cold
            out[f"load_{faces.name}_cached_s"] = cached
            out[f"load_{faces.name}_images"] = len(faces)
            out[f"load_{faces.name}_cached_speedup"] = cold / cached
    return out


def worker_classifier(smoke: bool) -> dict:
    """Training images/s of the kit's pipeline against a naive ``model.fit`` on float NumPy arrays, same
    model (mini-Xception), same images, same batch size, same run; then one full FER2013 epoch."""
    import keras
    import numpy as np

    from fer_kit.augment import training_dataset
    from fer_kit.classify import TrainConfig, build_model, compile_classifier, to_model_input

    faces = _train_data(smoke)
    n = 256 if smoke else 8192
    rng = np.random.default_rng(0)
    idx = rng.choice(len(faces), size=min(n, len(faces)), replace=False)
    images, labels = faces.images[idx], faces.labels[idx]
    k = len(faces.class_names)
    cfg = TrainConfig()
    epochs = 2 if smoke else 3

    def rate(fit) -> float:
        timer = _EpochTimer()
        fit(timer)
        steady = timer.seconds[1:] or timer.seconds
        return len(images) / (sum(steady) / len(steady))

    def naive(timer):
        model = build_model(cfg.model, k, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(cfg.lr), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        model.fit(to_model_input(images), labels, batch_size=cfg.batch_size, epochs=epochs, verbose=0,
                  callbacks=[timer])

    def kit(timer):
        model = compile_classifier(build_model(cfg.model, k, seed=0), cfg)
        model.fit(training_dataset(images, labels, batch_size=cfg.batch_size), epochs=epochs, verbose=0,
                  callbacks=[timer])

    out = {"images": len(images), "batch_size": cfg.batch_size, "data": faces.name}
    out["naive_images_per_s"] = rate(naive)
    out["kit_images_per_s"] = rate(kit)
    out["kit_over_naive"] = out["kit_images_per_s"] / out["naive_images_per_s"]
    if faces.name == "fer2013" and not smoke:
        train = faces.where(split="Training")
        model = compile_classifier(build_model(cfg.model, k, seed=0), cfg)
        ds = training_dataset(faces.images[train], faces.labels[train], batch_size=cfg.batch_size)
        timer = _EpochTimer()
        model.fit(ds, epochs=2, verbose=0, callbacks=[timer])
        out["fer2013_epoch_s"] = timer.seconds[-1]
        out["fer2013_epoch_images"] = int(len(train))
    else:
        out["fer2013_epoch_s_estimate"] = 28709 / out["kit_images_per_s"]
    return out


def worker_cgan(smoke: bool) -> dict:
    """cGAN train step (G + D1 + D2), eager vs tf.function (Keras' default) vs XLA, batch 64 (smoke: 16)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_gan import images_per_second

    from fer_kit import data

    faces = data.load("synthetic", progress=False)
    split = data.subject_split(faces)
    steps, batch = (3, 16) if smoke else (30, 64)
    out = {"batch_size": batch}
    for mode in ("tf.function", "eager", "xla"):
        out[f"{mode}_images_per_s"] = images_per_second(mode, faces, split, batch,
                                                        max(3, steps // 3) if mode == "eager" else steps)
    out["tf.function_over_eager"] = out["tf.function_images_per_s"] / out["eager_images_per_s"]
    out["xla_over_tf.function"] = out["xla_images_per_s"] / out["tf.function_images_per_s"]
    return out


def worker_transfer(smoke: bool) -> dict:
    """Time to expression transfer: the course cGAN on the synthetic set, scored by an independent judge
    after every 100 steps (bench_transfer.py)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_transfer import measure

    figures = (measure(epochs=2, steps=3, judge_epochs=1, batch_size=16, judge_scale=0.5) if smoke
               else measure(epochs=12, steps=100))
    figures["score_curve"] = [(r["steps"], r["train_s"], r["score"]) for r in figures.pop("epochs")]
    return figures


def worker_generation(smoke: bool) -> dict:
    """G(x, y) images/s (inference, batch 256): what GAN balancing spends per generated face."""
    import numpy as np

    from fer_kit import gan
    from fer_kit.gan_training import CGAN

    model = CGAN(gan.GANConfig(n_classes=7))
    model.compile()
    n = 256 if smoke else 8192
    rng = np.random.default_rng(0)
    faces, targets = rng.integers(0, 256, (n, 48, 48), dtype=np.uint8), rng.integers(0, 7, n)
    model.translate(faces[:256], targets[:256], seed=0)  # warm-up
    _, seconds = _timed(lambda: model.translate(faces, targets, seed=0))
    return {"images": n, "images_per_s": n / seconds}


def worker_demo(smoke: bool) -> dict:
    """Demo detect + classify, ms per 640×480 frame on one core (bench_demo.py pins the process)."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_demo.py"), "--frames", "10" if smoke else "200",
           "--json", "-"]
    result = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["peak_rss_mb"] = _peak_mb(resource.RUSAGE_CHILDREN)
    return figures


def _run_worker(name: str, smoke: bool) -> dict:
    cmd = [sys.executable, __file__, "--worker", name] + (["--smoke"] if smoke else [])
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if result.returncode:
        return {"error": (result.stderr or result.stdout).strip().splitlines()[-1:] or ["failed"],
                "wall_s": time.perf_counter() - start}
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["wall_s"] = time.perf_counter() - start
    return figures


def _run_command(cmd: list[str]) -> dict:
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    out = {"wall_s": time.perf_counter() - start, "peak_rss_mb": _peak_mb(resource.RUSAGE_CHILDREN)}
    if result.returncode:
        out["error"] = (result.stderr or result.stdout).strip().splitlines()[-1:]
    return out


@contextlib.contextmanager
def _cold_reduced_runs():
    """The notebooks resume from their run folders (``runs/*-reduced*``): move those aside so that the course
    is timed from scratch, and put them back afterwards."""
    runs = ROOT / "runs"
    found = [p for pattern in ("*-reduced*", "classifiers/*-reduced*") for p in runs.glob(pattern) if p.is_dir()]
    with tempfile.TemporaryDirectory(dir=ROOT / "build" if (ROOT / "build").is_dir() else None) as aside:
        moved = []
        for i, path in enumerate(found):
            target = Path(aside) / str(i)
            shutil.move(str(path), target)
            moved.append((path, target))
        try:
            yield
        finally:
            for path, target in moved:
                if path.exists():
                    shutil.rmtree(path)
                shutil.move(str(target), path)


def _recorded_reproduction(name: str) -> dict | None:
    info = ROOT / "results" / "reference" / name / "run-info.json"
    return json.loads(info.read_text()) if info.is_file() else None


# ------------------------------------------------------------------ the table
def _rows(figures: dict, judge: bool = True) -> list[tuple[str, str, str]]:
    """(what, figure, target status) rows for the printed table (no target status at smoke sizes)."""
    rows = []

    def add(what: str, key: str, fmt: str) -> None:
        section, _, name = key.partition(".")
        value = figures.get(section, {}).get(name)
        if value is None:
            return
        status = ""
        if key in TARGETS and judge:
            op, threshold, _ = TARGETS[key]
            met = value >= threshold if op == ">=" else value <= threshold
            status = f"{'met' if met else 'NOT met'} (target {op} {threshold:g})"
        rows.append((what, fmt.format(value), status))

    for name in [k[5:-7] for k in figures.get("data", {}) if k.startswith("load_") and k.endswith("_cold_s")]:
        add(f"load {name}: first (decode)", f"data.load_{name}_cold_s", "{:.2f} s")
        add(f"load {name}: cached", f"data.load_{name}_cached_s", "{:.3f} s")
        add(f"load {name}: cached speed-up", f"data.load_{name}_cached_speedup", "{:.0f}×")
    add("classifier, naive model.fit on NumPy", "classifier.naive_images_per_s", "{:.0f} images/s")
    add("classifier, kit pipeline", "classifier.kit_images_per_s", "{:.0f} images/s")
    add("classifier, kit / naive", "classifier.kit_over_naive", "{:.2f}×")
    add("one FER2013 epoch (compact model)", "classifier.fer2013_epoch_s", "{:.0f} s")
    add("one FER2013 epoch (estimate from the rate)", "classifier.fer2013_epoch_s_estimate", "{:.0f} s")
    add("cGAN step, eager", "cgan.eager_images_per_s", "{:.0f} images/s")
    add("cGAN step, tf.function", "cgan.tf.function_images_per_s", "{:.0f} images/s")
    add("cGAN step, XLA", "cgan.xla_images_per_s", "{:.0f} images/s")
    add("cGAN, tf.function / eager", "cgan.tf.function_over_eager", "{:.1f}×")
    add("cGAN, XLA / tf.function", "cgan.xla_over_tf.function", "{:.2f}×")
    add("course cGAN: expression score after ≤ 300 s", "transfer.score_within_budget", "{:.3f}")
    add("course cGAN: training time to score ≥ 0.8", "transfer.first_0.8_s", "{:.0f} s")
    add("generation G(x, y)", "generation.images_per_s", "{:.0f} images/s")
    add("demo detect + classify, one core", "demo.ms_per_frame", "{:.1f} ms/frame")
    add("whole course, reduced mode", "course.reduced_s", "{:.0f} s")
    add("CK+48 reproduction", "reproduction.ckplus48_s", "{:.0f} s")
    add("FER2013 reproduction", "reproduction.fer2013_s", "{:.0f} s")
    add("FER2013 reproduction, peak memory", "reproduction.fer2013_peak_gb", "{:.2f} GB")
    for section in WORKERS:
        add(f"peak memory: {section}", f"{section}.peak_rss_mb", "{:.0f} MB")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (CI): every benchmark runs, quickly")
    parser.add_argument("--course", action="store_true", help="also time the whole course in reduced mode")
    parser.add_argument("--reproduction", action="store_true", help="also time the real CK+48 reproduction")
    parser.add_argument("--only", nargs="*", choices=WORKERS, help="run only these benchmarks (none: only the "
                        "--course / --reproduction timings)")
    parser.add_argument("--json", default=str(ROOT / "build" / "benchmarks" / "suite.json"))
    parser.add_argument("--worker", choices=WORKERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        figures = globals()[f"worker_{args.worker}"](args.smoke)
        figures.setdefault("peak_rss_mb", _peak_mb())
        print(json.dumps(figures))
        return 0

    from fer_kit.provenance import git_commit, versions

    figures: dict = {}
    for name in WORKERS if args.only is None else args.only:
        print(f"running {name} ...", flush=True)
        figures[name] = _run_worker(name, args.smoke)
    if args.course:
        print("running the whole course in reduced mode ...", flush=True)
        with tempfile.TemporaryDirectory() as tmp, _cold_reduced_runs():
            run = _run_command([sys.executable, "-m", "fer_kit", "run", "--reduced", "--out", tmp])
        figures["course"] = {"reduced_s": run["wall_s"], **run}
    reproduction = {}
    if args.reproduction and (SHARED_DATA / "ckplus48").is_dir():
        print("running the real CK+48 reproduction ...", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            run = _run_command([sys.executable, "-m", "fer_kit", "reproduce", "ckplus48", "--work", tmp,
                                "--data-dir", str(SHARED_DATA)])
        reproduction |= {"ckplus48_s": run["wall_s"], "ckplus48_peak_gb": run["peak_rss_mb"] / 1024,
                         "ckplus48_source": "measured in this run"}
    for name in ("ckplus48", "fer2013"):
        recorded = _recorded_reproduction(name)
        if recorded and f"{name}_s" not in reproduction:
            peak = recorded.get("peak_rss_mb")
            reproduction |= {f"{name}_s": recorded["wall_s"],
                             f"{name}_source": f"recorded in results/reference/{name}/run-info.json "
                                               f"({recorded.get('created', '?')})"}
            if peak is not None:
                reproduction[f"{name}_peak_gb"] = peak / 1024
    if reproduction:
        figures["reproduction"] = reproduction

    rows = _rows(figures, judge=not args.smoke)
    width = max(len(r[0]) for r in rows) if rows else 10
    print(f"\nfer_kit benchmark suite{' (smoke sizes)' if args.smoke else ''} — {os.cpu_count()} CPU core(s)")
    for what, value, status in rows:
        print(f"  {what:<{width}}  {value:>16}  {status}")
    for section, values in figures.items():
        if "error" in values:
            print(f"  {section}: FAILED — {values['error']}")
        for key, value in values.items():
            if key.endswith("_source"):
                print(f"  ({section} {key[:-7]}: {value})")
    targets = {}
    for key, (op, threshold, text) in TARGETS.items():
        section, _, name = key.partition(".")
        value = figures.get(section, {}).get(name)
        judged = value is not None and not args.smoke  # smoke sizes say nothing about the targets
        targets[key] = {"target": text, "value": value,
                        "met": (value >= threshold if op == ">=" else value <= threshold) if judged else None}
    payload = {"smoke": args.smoke, "figures": figures, "targets": targets, "cpu_count": os.cpu_count(),
               "versions": versions(), "git_commit": git_commit(),
               "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(payload, indent=1))
    print(f"\nfigures written to {args.json}")
    return 1 if any("error" in v for v in figures.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
