"""``python -m fer_kit``: run the course, inspect data, draw the synthetic set."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _run(args: argparse.Namespace) -> int:
    from fer_kit.notebooks import run_course

    run_course(args.out, reduced=args.reduced, only=args.only)
    return 0


def _data_info(args: argparse.Namespace) -> int:
    from fer_kit import data

    faces = data.load(args.source, data_dir=args.data_dir, skip_bad_rows=args.skip_bad_rows)
    print(faces)
    print(f"source: {faces.source}")
    print(data.class_counts(faces).to_string())
    imb = data.imbalance(faces)
    print(f"imbalance: {imb['largest']} / {imb['smallest']} = {imb['ratio']:.1f}x")
    for note in faces.notes:
        print(f"note: {note}")
    return 0


def _synth(args: argparse.Namespace) -> int:
    from fer_kit import synth

    folder = synth.write(Path(args.out), synth.SynthSpec(args.profile, args.seed, args.scale))
    print(f"wrote the synthetic {args.profile} set to {folder}")
    return 0


def _gan_train(args: argparse.Namespace) -> int:
    from fer_kit import data
    from fer_kit.gan_training import train_cgan

    faces = data.load(args.source, data_dir=args.data_dir)
    split = data.default_split(faces, seed=args.seed)
    result = train_cgan(faces, split, args.run_dir, epochs=args.epochs, batch_size=args.batch_size,
                        steps_per_epoch=args.steps, seed=args.seed, checkpoint_every=args.checkpoint_every,
                        verbose=2, jit_compile=True if args.xla else "auto")
    print(f"trained epochs {result.start_epoch + 1}-{result.epochs}; run folder {result.run_dir}")
    return 0


def _experiment(args: argparse.Namespace) -> int:
    import json

    from fer_kit.experiment import ExperimentConfig, run_experiment

    cfg = ExperimentConfig.from_dict(json.loads(Path(args.config).read_text())) if args.config else ExperimentConfig()
    overrides = {k: v for k, v in (("data", args.data), ("protocol", args.protocol), ("seeds", args.seeds),
                                   ("folds", args.folds), ("run_folds", args.run_folds)) if v is not None}
    if overrides:
        cfg = ExperimentConfig.from_dict({**cfg.to_dict(), **overrides})
    out = run_experiment(cfg, args.out, data_dir=args.data_dir, save_models=args.save_models)
    print(f"results in {out}; grade them with: python -m fer_kit grade {out}")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    """Run the reference configuration(s) of a data set, then publish the results files (numbers only) and
    TABLE6.md under ``--publish``."""
    import json
    import os
    import resource
    import time

    from fer_kit import devices, report
    from fer_kit.experiment import publish_results, reference_configs, run_experiment
    from fer_kit.provenance import git_commit

    work = Path(args.work or f"runs/reference-{args.data}")
    resumed = any(work.glob("results/*/*/*.json")) or any(work.glob("generators/*/checkpoints/epoch_*"))
    start = time.perf_counter()
    for cfg in reference_configs(args.data):
        if args.seeds:
            cfg.seeds = tuple(args.seeds)
        run_experiment(cfg, work, data_dir=args.data_dir, save_models=args.save_models)
    info = {"command": "python -m fer_kit reproduce " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["reproduce"]
            else f"python -m fer_kit reproduce {args.data}", "wall_s": round(time.perf_counter() - start, 1),
            "resumed": resumed, "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "machine": os.uname().machine, **devices.describe(),
            "git_commit": git_commit(), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (work / "run-info.json").write_text(json.dumps(info, indent=1) + "\n")
    print(f"wall time {info['wall_s'] / 60:.1f} min{' (resumed run)' if resumed else ''}, "
          f"peak memory {info['peak_rss_mb'] / 1024:.2f} GB")
    if args.publish:
        dest = publish_results(work, Path(args.publish) / args.data)
        print(f"published the results files under {dest}")
    print(report.markdown_table6(report.table6(report.load_results(work))))
    return 0


def _table6(args: argparse.Namespace) -> int:
    import json

    from fer_kit import report
    from fer_kit.grade import reference_from

    results = report.load_results(args.results)
    print(report.markdown_table6(report.table6(results)))
    if args.save_reference:
        Path(args.save_reference).write_text(json.dumps(reference_from(results, args.note or ""), indent=1) + "\n")
        print(f"reference written to {args.save_reference}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from fer_kit.grade import CHECKS, grade

    checks = tuple(args.checks.split(",")) if args.checks else CHECKS
    result = grade(args.results, reference=args.reference, tolerance=args.tolerance,
                   reference_tolerance=args.reference_tolerance, checks=checks)
    print(result.text())
    return 0 if result.passed else 1


# the published reference runs (fer_kit.experiment.REFERENCES; not imported here, to keep --help fast)
REFERENCE_CHOICES = ("ckplus48", "fer2013", "ckplus48-xception")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fer_kit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="execute the course's notebooks in order into a run folder")
    p.add_argument("--out", help="run folder (default: runs/<timestamp>)")
    p.add_argument("--reduced", action="store_true", help="CI-sized run")
    p.add_argument("--only", nargs="*", help="notebook number prefixes, e.g. 01 02")
    p.set_defaults(func=_run)
    p = sub.add_parser("data", help="load a data set and print what it holds")
    p.add_argument("source", help="fer2013 | ckplus48 | ckplus | synthetic | a folder, .zip or .csv")
    p.add_argument("--data-dir", help="data folder (default: $FER_KIT_DATA or ~/fer_kit_data)")
    p.add_argument("--skip-bad-rows", action="store_true", help="drop (and count) malformed CSV rows")
    p.set_defaults(func=_data_info)
    p = sub.add_parser("synth", help="write the synthetic face set in the CK+48 layout")
    p.add_argument("out")
    p.add_argument("--profile", default="ckplus", choices=["ckplus", "fer2013", "balanced"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale", type=float, default=1.0)
    p.set_defaults(func=_synth)
    p = sub.add_parser("gan-train", help="train (or resume) the cGAN on a data set's training split")
    p.add_argument("source", help="ckplus48 | fer2013 | synthetic | a folder, .zip or .csv")
    p.add_argument("run_dir", help="run folder (config, history, samples, checkpoints); rerun to resume")
    p.add_argument("--data-dir")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--steps", type=int, default=None, help="steps per epoch (default: all pairs)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--checkpoint-every", type=int, default=1, help="epochs between checkpoints")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--xla", action="store_true",
                   help="compile the train step with XLA on a CPU too (faster on some CPUs, slower on others: "
                        "benchmarks/bench_gan.py measures it; on a GPU Keras uses XLA anyway)")
    p.set_defaults(func=_gan_train)
    p = sub.add_parser("experiment", help="run (or resume) Table 6: none / traditional / GAN augmentation")
    p.add_argument("out", help="experiment folder (rerun to resume)")
    p.add_argument("--config", help="an ExperimentConfig as JSON")
    p.add_argument("--data", help="ckplus48 | fer2013 | synthetic | a folder")
    p.add_argument("--protocol", choices=["subject-kfold", "random", "fer2013-official"])
    p.add_argument("--seeds", type=int, nargs="+")
    p.add_argument("--folds", type=int)
    p.add_argument("--run-folds", type=int, help="run only the first n folds")
    p.add_argument("--data-dir")
    p.add_argument("--save-models", action="store_true", help="keep every trained classifier (.keras)")
    p.set_defaults(func=_experiment)
    p = sub.add_parser("reproduce", help="run a published reference experiment (Table 6 on real data)")
    p.add_argument("data", choices=REFERENCE_CHOICES)
    p.add_argument("--work", help="experiment folder (default runs/reference-<data>; rerun to resume)")
    p.add_argument("--publish", help="copy the results files (no images) to PUBLISH/<data>/ with TABLE6.md")
    p.add_argument("--seeds", type=int, nargs="+", help="override the reference seeds (e.g. a one-seed slice)")
    p.add_argument("--data-dir", help="data folder (default: $FER_KIT_DATA or ~/fer_kit_data)")
    p.add_argument("--save-models", action="store_true")
    p.set_defaults(func=_reproduce)
    p = sub.add_parser("table6", help="print Table 6 from a results folder, beside the paper")
    p.add_argument("results")
    p.add_argument("--save-reference", help="also write the cell means as a reference JSON for grading")
    p.add_argument("--note", help="what the reference is (stored in it)")
    p.set_defaults(func=_table6)
    p = sub.add_parser("grade", help="grade a Table 6 reproduction (exit 1 when a check fails)")
    p.add_argument("results", help="a results folder (an experiment folder, or several under one)")
    p.add_argument("--reference", help="a reference JSON or results folder to compare with")
    p.add_argument("--tolerance", type=float, default=5.0, help="points from the paper's numbers (default 5)")
    p.add_argument("--reference-tolerance", type=float, default=5.0, help="points from the reference (default 5)")
    p.add_argument("--checks", help="comma-separated subset of: completeness,provenance,leaks,ordering,paper,reference")
    p.set_defaults(func=_grade)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from fer_kit.data import DataError
    from fer_kit.report import ResultsError

    try:
        return args.func(args)
    except ResultsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
