"""Table 6 as an experiment: three training sets (none / traditional / GAN augmentation) × a data set
× a protocol × seeds, one results JSON per run.

Protocols:

* ``"fer2013-official"`` — train ``Training``, select on ``PublicTest``, report ``PrivateTest``; when
  ``PrivateTest`` is absent (the shared copy), select on a held-out part of ``Training`` and report
  ``PublicTest`` — and every results file says so.
* ``"subject-kfold"`` — CK+: subject-grouped k-fold (the default; no subject on two sides).
* ``"random"`` — CK+: the paper's stratified random split of images. Leaky: frames of one sequence
  land in train and test; every file and table labels it.

The data split is fixed by ``split_seed``; the ``seeds`` vary everything trained (classifier
initialisation and batch order, augmentation draws). One generator is trained per split on that
split's training images only and shared by the seeds. Finished runs are skipped when the
experiment is run again, so an interrupted experiment resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fer_kit import augment, data
from fer_kit.classify import TrainConfig, train_classifier
from fer_kit.data import FaceSet, Split
from fer_kit.provenance import run_metadata

SETTINGS = ("none", "traditional", "gan")
PROTOCOLS = ("subject-kfold", "random", "fer2013-official")
RESULTS_VERSION = 1


@dataclass
class ExperimentConfig:
    """Everything that defines one experiment (saved in every results file)."""

    data: str = "ckplus48"         # a name data.load knows ("ckplus48", "fer2013", "synthetic", ...) or a path
    protocol: str = "subject-kfold"
    folds: int = 5                 # k of the subject k-fold
    run_folds: int | None = None   # run only the first n folds (a budget); None: all k
    seeds: tuple[int, ...] = (0, 1, 2)
    split_seed: int = 0
    settings: tuple[str, ...] = SETTINGS
    train: TrainConfig = field(default_factory=TrainConfig)
    gan_epochs: int = 10
    gan_steps_per_epoch: int = 100
    target: str | float = "max"    # GAN balancing target (and, count-matched, the traditional set's)
    synthetic_scale: float | None = None  # for synthetic data sets only

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, not {self.protocol!r}")
        unknown = set(self.settings) - set(SETTINGS)
        if unknown:
            raise ValueError(f"unknown setting(s) {sorted(unknown)}; choose from {SETTINGS}")
        if isinstance(self.train, dict):
            self.train = TrainConfig(**self.train)
        self.seeds, self.settings = tuple(self.seeds), tuple(self.settings)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ExperimentConfig:
        return cls(**d)


def reduced_config(protocol: str = "subject-kfold", data_name: str = "synthetic") -> ExperimentConfig:
    """The CI-sized experiment (minutes on 2 CPU cores): what ``fer_kit/references/reduced-synthetic.json``
    was made from. Its accuracies are those of barely trained models — a check of the machinery, not of
    the paper's claims."""
    # 4 classifier epochs: a 2-core CI machine spends ~15 s an epoch on each of its 6 runs a protocol.
    return ExperimentConfig(data=data_name, protocol=protocol, folds=3, run_folds=1, seeds=(0, 1),
                            train=TrainConfig(epochs=4, patience=4), gan_epochs=2, gan_steps_per_epoch=8)


REFERENCES = ("ckplus48", "fer2013", "ckplus48-xception")


def reference_configs(data_name: str = "ckplus48") -> list[ExperimentConfig]:
    """The published reference runs (``results/reference/``, ``python -m fer_kit reproduce``), sized to
    the budgets of the issue that asked for them on a 2-core CPU with the compact model:

    * CK+48 — both protocols, 3 seeds: the subject-grouped 5-fold split runs its first 2 folds (a 30-minute
      budget for everything, cGANs included), beside the paper's random split;
    * FER2013 — the official protocol (PrivateTest absent here: see :func:`describe_parts`), at most 16
      epochs, one seed (about 45 minutes; ``--seeds 0 1`` doubles it for a seed-to-seed spread);
    * ``ckplus48-xception`` — the paper's own network, ``keras.applications.Xception`` from scratch (no
      ImageNet weights offline), on the paper's random split only, two seeds, 12 epochs at Adam 1e-3
      (about 25 minutes): its 21 M parameters at 71×71 train at ~60 images/s on 2 cores, ~20× slower
      than the compact model.
    """
    if data_name == "ckplus48":
        train = TrainConfig(epochs=30, patience=10)
        return [ExperimentConfig(data="ckplus48", protocol=p, folds=5, run_folds=2, seeds=(0, 1, 2), train=train,
                                 gan_epochs=6, gan_steps_per_epoch=100) for p in ("subject-kfold", "random")]
    if data_name == "fer2013":
        return [ExperimentConfig(data="fer2013", protocol="fer2013-official", seeds=(0,),
                                 train=TrainConfig(epochs=16, patience=6), gan_epochs=8, gan_steps_per_epoch=100)]
    if data_name == "ckplus48-xception":
        train = TrainConfig(model="xception", epochs=12, patience=12, lr=1e-3)
        return [ExperimentConfig(data="ckplus48", protocol="random", seeds=(0, 1), train=train, gan_epochs=6,
                                 gan_steps_per_epoch=100)]
    raise ValueError(f"no reference configuration for {data_name!r}; choose one of {', '.join(REFERENCES)}")


def load_faces(cfg: ExperimentConfig, data_dir: str | os.PathLike | None = None) -> FaceSet:
    if cfg.data.startswith("synthetic"):
        options = {"scale": cfg.synthetic_scale} if cfg.synthetic_scale else {}
        return data.load(cfg.data, progress=False, **options)
    return data.load(cfg.data, data_dir=data_dir)


def make_splits(faces: FaceSet, cfg: ExperimentConfig) -> list[Split]:
    """The splits of the protocol (k folds, or one split)."""
    if cfg.protocol == "subject-kfold":
        return data.subject_kfold(faces, k=cfg.folds, seed=cfg.split_seed)[:cfg.run_folds or cfg.folds]
    if cfg.protocol == "random":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", data.LeakWarning)  # labelled in every file instead
            return [data.random_split(faces, seed=cfg.split_seed)]
    return [data.fer2013_official(faces, missing_private="holdout", seed=cfg.split_seed)]


def describe_parts(faces: FaceSet, split: Split, protocol: str) -> dict:
    """Which images trained, selected and were reported on, in words (for the results files)."""
    if protocol == "fer2013-official":
        private = "PrivateTest" in faces.split_names
        return {"trained_on": "Training" + ("" if private else " (minus a held-out part)"),
                "selected_on": "PublicTest" if private else "held-out part of Training (PrivateTest absent)",
                "reported_on": "PrivateTest" if private else "PublicTest (PrivateTest absent)"}
    what = "subject-disjoint folds" if protocol == "subject-kfold" else "random images (paper, leaky)"
    return {"trained_on": f"training part ({what})", "selected_on": "validation part", "reported_on": "test part"}


def result_path(out: Path, protocol: str, setting: str, seed: int, fold: int) -> Path:
    return out / "results" / protocol / setting / f"seed{seed}-fold{fold}.json"


def write_json_atomic(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=1)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _finished(path: Path) -> bool:
    try:
        return json.loads(path.read_text()).get("version") == RESULTS_VERSION
    except (OSError, ValueError):
        return False


def run_experiment(cfg: ExperimentConfig, out: str | os.PathLike, *, data_dir: str | os.PathLike | None = None,
                   save_models: bool = False, progress: bool = True, verbose: int = 0, strategy=None) -> Path:
    """Run (or resume) every (split, seed, setting) of ``cfg`` under ``out``; return ``out``.

    Layout: ``out/experiment-<protocol>.json``, ``out/results/<protocol>/<setting>/seed<s>-fold<f>.json``,
    ``out/generators/<protocol>-fold<f>/`` (cGAN runs), ``out/augmented/...`` (the written sets),
    ``out/models/...`` (with ``save_models``). ``strategy``: a ``tf.distribute`` strategy that every cGAN
    and classifier trains under (several GPUs, a TPU).
    """
    from tqdm.auto import tqdm

    from fer_kit.gan_training import train_cgan

    out = Path(out)
    faces = load_faces(cfg, data_dir)
    splits = make_splits(faces, cfg)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / f"experiment-{cfg.protocol}.json", {"config": cfg.to_dict(), **run_metadata(faces)})
    todo = [(f, s, setting) for f in range(len(splits)) for s in cfg.seeds for setting in cfg.settings]
    bar = tqdm(total=len(todo), desc=f"{faces.name} {cfg.protocol}", unit="run", disable=not progress)
    for f, split in enumerate(splits):
        pending = [(s, setting) for s in cfg.seeds for setting in cfg.settings
                   if not _finished(result_path(out, cfg.protocol, setting, s, f))]
        bar.update(len(cfg.seeds) * len(cfg.settings) - len(pending))
        if not pending:
            continue
        generator, gen_dir = None, out / "generators" / f"{cfg.protocol}-fold{f}"
        if any(setting == "gan" for _, setting in pending):
            bar.set_postfix_str(f"fold {f}: training the cGAN")
            generator = train_cgan(faces, split, gen_dir, epochs=cfg.gan_epochs,
                                   steps_per_epoch=cfg.gan_steps_per_epoch, seed=cfg.split_seed, verbose=0,
                                   strategy=strategy).model
        for seed in sorted({s for s, _ in pending}):
            for setting in [x for s, x in pending if s == seed]:
                bar.set_postfix_str(f"fold {f}, seed {seed}, {setting}")
                extra = None
                aug_dir = out / "augmented" / f"{cfg.protocol}-fold{f}-seed{seed}" / setting
                if setting == "traditional":
                    extra = augment.traditional_expand(faces, split, aug_dir, target=cfg.target, seed=seed).faces
                elif setting == "gan":
                    extra = augment.gan_balance(generator, faces, split, aug_dir, target=cfg.target, seed=seed,
                                                generator_run=gen_dir, progress=False).faces
                result = train_classifier(faces, split, cfg.train, seed=seed, extra=extra, verbose=verbose,
                                          strategy=strategy)
                payload = {
                    "version": RESULTS_VERSION, "setting": setting, "seed": seed, "fold": f,
                    "folds": len(splits), "protocol": cfg.protocol, "split": split.describe(),
                    "leaky": bool(split.leaky), **describe_parts(faces, split, cfg.protocol),
                    "added_images": int(len(extra)) if extra is not None else 0,
                    "generator": str(gen_dir.relative_to(out)) if setting == "gan" else None,
                    "metrics": result.metrics(), "config": cfg.to_dict(), **run_metadata(faces),
                }
                if save_models:
                    model_path = out / "models" / f"{cfg.protocol}-{setting}-seed{seed}-fold{f}.keras"
                    model_path.parent.mkdir(parents=True, exist_ok=True)
                    result.model.save(model_path)
                    payload["model_file"] = str(model_path.relative_to(out))
                write_json_atomic(result_path(out, cfg.protocol, setting, seed, f), payload)
                bar.update(1)
                bar.write(f"fold {f} seed {seed} {setting:<11} test accuracy {result.accuracy:.3f} "
                          f"(val {result.val_accuracy:.3f}, best epoch {result.best_epoch}, {result.seconds:.0f} s)")
    bar.close()
    return out


def publish_results(experiment_dir: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Copy an experiment's numbers — ``experiment-*.json``, ``run-info.json`` and ``results/**.json``, never
    an image, a generator or a model — to ``dest`` and write ``dest/TABLE6.md`` beside the paper's numbers."""
    import shutil

    from fer_kit import report

    experiment_dir, dest = Path(experiment_dir), Path(dest)
    files = sorted(experiment_dir.glob("experiment-*.json")) + sorted(experiment_dir.glob("results/*/*/*.json"))
    files += [experiment_dir / "run-info.json"] if (experiment_dir / "run-info.json").is_file() else []
    if not files:
        raise FileNotFoundError(f"{experiment_dir}: no results files to publish")
    for path in files:
        target = dest / path.relative_to(experiment_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    table = report.table6(report.load_results(dest))
    (dest / "TABLE6.md").write_text(report.markdown_table6(table))
    return dest


def export_classifier(experiment_dir: str | os.PathLike, dest: str | os.PathLike, *, protocol: str | None = None,
                      setting: str = "gan") -> Path:
    """Copy the classifier of the best run (highest validation accuracy) of ``setting`` to
    ``dest/model.keras`` with ``dest/model.json`` (class names, scores, protocol, provenance): the layout
    the webcam demo looks for under ``runs/classifiers/``. Needs ``run_experiment(..., save_models=True)``."""
    import shutil

    experiment_dir, dest = Path(experiment_dir), Path(dest)
    candidates = []
    for path in sorted(experiment_dir.glob(f"results/{protocol or '*'}/{setting}/seed*-fold*.json")):
        r = json.loads(path.read_text())
        if r.get("model_file") and (experiment_dir / r["model_file"]).is_file():
            candidates.append(r)
    if not candidates:
        raise FileNotFoundError(f"{experiment_dir}: no saved {setting!r} model (run with save_models=True)")
    best = max(candidates, key=lambda r: r["metrics"]["val_accuracy"])
    dest.mkdir(parents=True, exist_ok=True)
    partial = dest / "model.partial.keras"
    shutil.copyfile(experiment_dir / best["model_file"], partial)
    info = {"kind": f"{best['config']['train']['model']} from the Table 6 experiment ({setting} augmentation)",
            "class_names": best["metrics"]["class_names"], "accuracy": best["metrics"]["test_accuracy"],
            "val_accuracy": best["metrics"]["val_accuracy"], "protocol": best["protocol"], "leaky": best["leaky"],
            "setting": setting, "seed": best["seed"], "fold": best["fold"], "data": best["data"],
            "data_fingerprint": best["data_fingerprint"], "git_commit": best["git_commit"],
            "versions": best["versions"]}
    (dest / "model.json").write_text(json.dumps(info, indent=2))
    os.replace(partial, dest / "model.keras")
    return dest / "model.keras"
