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
                        verbose=2)
    print(f"trained epochs {result.start_epoch + 1}-{result.epochs}; run folder {result.run_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
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
    p.set_defaults(func=_gan_train)
    args = parser.parse_args(argv)
    from fer_kit.data import DataError

    try:
        return args.func(args)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
