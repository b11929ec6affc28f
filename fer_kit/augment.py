"""Data augmentation, the paper's "Data augmentation" step: traditional transforms and GAN class
balancing, count-matched so that Table 6 compares like with like.

* **Traditional** — flip, rotation, shift, zoom, brightness and contrast as Keras preprocessing
  layers, applied on the fly to whole batches inside a ``tf.data`` pipeline
  (:func:`training_dataset`), or offline (:func:`traditional_expand`) to add exactly as many images
  per class as the GAN mode adds.
* **GAN balancing** — :func:`balance_plan` says how many images each class needs;
  :func:`choose_sources` draws their sources from the *other* expressions of the training split
  (the same subject where ids exist, so each new face is "this person with that expression");
  :func:`gan_balance` generates them in batches and writes a folder the readers load, with a
  manifest (one row per image: file, source file, target label, generator checkpoint, seed).

Only the training split may feed augmentation: sources from validation/test images, or a generator
whose training images include any of them, are refused with :class:`~fer_kit.data.LeakError`.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fer_kit.data import DataError, FaceSet, LeakError, Split
from fer_kit.provenance import run_metadata

MANIFEST_FIELDS = ("file", "label", "source_file", "source_index", "source_label", "subject", "method",
                   "generator", "seed")


# ------------------------------------------------------------------ traditional augmentation
@dataclass(frozen=True)
class TraditionalConfig:
    """Ranges of the traditional transforms (0 / False switches one off)."""

    flip: bool = True            # horizontal mirror
    rotation: float = 10.0       # ± degrees
    shift: float = 0.1           # ± fraction of the side
    zoom: float = 0.1            # ± fraction
    brightness: float = 0.2      # ± fraction of the value range
    contrast: float = 0.2        # ± fraction

    def to_dict(self) -> dict:
        return asdict(self)


def traditional_layers(cfg: TraditionalConfig = TraditionalConfig(), seed: int = 0):
    """A ``keras.Sequential`` of random transforms for float images in [0, 1], shape (B, 48, 48, 1).

    Active only when called with ``training=True``; every layer is seeded.
    """
    import keras
    from keras import layers

    steps = []
    if cfg.flip:
        steps.append(layers.RandomFlip("horizontal", seed=seed))
    if cfg.rotation:
        steps.append(layers.RandomRotation(cfg.rotation / 360.0, fill_mode="reflect", seed=seed + 1))
    if cfg.shift:
        steps.append(layers.RandomTranslation(cfg.shift, cfg.shift, fill_mode="reflect", seed=seed + 2))
    if cfg.zoom:
        steps.append(layers.RandomZoom(cfg.zoom, fill_mode="reflect", seed=seed + 3))
    if cfg.brightness:
        steps.append(layers.RandomBrightness(cfg.brightness, value_range=(0.0, 1.0), seed=seed + 4))
    if cfg.contrast:
        steps.append(layers.RandomContrast(cfg.contrast, seed=seed + 5))
    return keras.Sequential(steps, name="traditional_augmentation")


def training_dataset(images_u8: np.ndarray, labels: np.ndarray, *, batch_size: int = 64, augment: bool = False,
                     cfg: TraditionalConfig = TraditionalConfig(), seed: int = 0, shuffle: bool = True,
                     extra_transform=None):
    """A ``tf.data`` pipeline of (images in [0, 1], labels): shuffle → batch → augment whole batches
    in parallel → prefetch.

    The uint8 arrays are held once, as tensors (4× smaller than floats); what is shuffled is the index
    vector, and each batch is one vectorised gather — shuffling and batching images one by one cost
    more CPU than the model's own step on a 2-core machine.
    """
    import tensorflow as tf

    n = len(images_u8)
    images = tf.constant(np.asarray(images_u8, np.uint8)[..., None])
    targets = tf.constant(np.asarray(labels))
    ds = tf.data.Dataset.range(n)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    # Every batch has the same even size (the remainder is dropped; shuffling changes which images each
    # epoch): oneDNN in TF 2.21 on CPU crashes in the backward pass of mini-Xception on odd batch sizes,
    # and equal batches keep one compiled graph.
    ds = ds.batch(batch_size if n >= batch_size else max(2, n - n % 2), drop_remainder=True)
    ds = ds.map(lambda i: (tf.cast(tf.gather(images, i), tf.float32) / 255.0, tf.gather(targets, i)),
                num_parallel_calls=tf.data.AUTOTUNE)
    transforms = [traditional_layers(cfg, seed)] if augment else []
    if extra_transform is not None:
        transforms.append(extra_transform)
    for t in transforms:
        ds = ds.map(lambda x, y, t=t: (tf.clip_by_value(t(x, training=True), 0.0, 1.0), y),
                    num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def augment_images(images_u8: np.ndarray, cfg: TraditionalConfig = TraditionalConfig(), seed: int = 0,
                   batch_size: int = 256) -> np.ndarray:
    """Apply one random traditional transform to each uint8 face (offline); returns uint8 faces."""
    import keras

    keras.utils.set_random_seed(seed)
    pipeline = traditional_layers(cfg, seed)
    out = []
    for i in range(0, len(images_u8), batch_size):
        x = np.asarray(images_u8[i:i + batch_size], np.float32)[..., None] / 255.0
        y = np.clip(np.asarray(pipeline(x, training=True)), 0.0, 1.0)
        out.append(np.rint(y[..., 0] * 255.0).astype(np.uint8))
    return np.concatenate(out) if out else np.zeros((0, 48, 48), np.uint8)


# ------------------------------------------------------------------ how many images, from which sources
def balance_plan(counts, target: str | float | int = "max") -> np.ndarray:
    """Images to add per class.

    ``target``: ``"max"`` — every class reaches the largest; a float ``r`` in (0, 1] — every class
    reaches ``ceil(r · largest)`` (classes already above stay as they are); an int — every class
    reaches that count.
    """
    counts = np.asarray(counts, dtype=np.int64)
    if target == "max":
        goal = int(counts.max())
    elif isinstance(target, float) and 0 < target <= 1:
        goal = math.ceil(target * counts.max())
    elif isinstance(target, (int, np.integer)) and not isinstance(target, bool) and target > 0:
        goal = int(target)
    else:
        raise ValueError(f"target must be 'max', a ratio in (0, 1] or a positive count, not {target!r}")
    return np.maximum(goal - counts, 0)


def check_training_only(split: Split, sources: np.ndarray) -> None:
    """Refuse source images outside ``split.train`` (they would leak validation/test faces)."""
    sources = np.asarray(sources, dtype=np.int64)
    for part in ("val", "test"):
        bad = np.intersect1d(sources, getattr(split, part))
        if len(bad):
            raise LeakError(f"{len(bad)} source image(s) belong to the {part} split of protocol "
                            f"{split.protocol!r} (e.g. index {bad[0]}); augmentation may only use training "
                            "images — pass sources from split.train")
    outside = np.setdiff1d(sources, split.train)
    if len(outside):
        raise LeakError(f"{len(outside)} source image(s) (e.g. index {outside[0]}) are not in the training split")


def check_generator(run_dir: str | os.PathLike, faces: FaceSet, split: Split) -> None:
    """Refuse a generator that was trained on another data set or on any validation/test image."""
    run_dir = Path(run_dir)
    meta_file, idx_file = run_dir / "config.json", run_dir / "train_indices.npy"
    if not meta_file.is_file() or not idx_file.is_file():
        raise LeakError(f"{run_dir}: no config.json/train_indices.npy, so it cannot be checked that the generator "
                        "was trained on the training split only; train it with fer_kit.gan_training.train_cgan")
    meta = json.loads(meta_file.read_text())
    if meta.get("data_fingerprint") != faces.fingerprint:
        raise LeakError(f"{run_dir}: the generator was trained on {meta.get('data')!r} (fingerprint "
                        f"{meta.get('data_fingerprint')}), not on {faces.name!r} ({faces.fingerprint})")
    seen = np.load(idx_file)
    for part in ("val", "test"):
        bad = np.intersect1d(seen, getattr(split, part))
        if len(bad):
            raise LeakError(f"{run_dir}: the generator trained on {len(bad)} image(s) of the {part} split of "
                            f"{split.protocol!r}; its images would leak them into training")


def choose_sources(faces: FaceSet, split: Split, plan: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(source indices, target labels) for the plan, drawn from ``split.train``.

    For target class *c*, sources are training images of other expressions, spread evenly over the
    training subjects (round-robin over subjects in random order; without subject ids, over
    images), so no single face dominates the new class.
    """
    rng = np.random.default_rng(seed)
    train = np.asarray(split.train, dtype=np.int64)
    sources, targets = [], []
    for c, n in enumerate(np.asarray(plan, dtype=np.int64)):
        if n <= 0:
            continue
        pool = train[faces.labels[train] != c]
        if not len(pool):
            raise DataError(f"{faces.name}: no training image of another expression to turn into "
                            f"{faces.class_names[c]!r}")
        if faces.has_subjects:
            subjects = rng.permutation(np.unique(faces.subjects[pool]))
            groups = [rng.permutation(pool[faces.subjects[pool] == s]) for s in subjects]
            width = max(len(g) for g in groups)
            order = np.array([g[i] for i in range(width) for g in groups if i < len(g)])  # round-robin
        else:
            order = rng.permutation(pool)
        reps = int(math.ceil(n / len(order)))
        sources.append(np.concatenate([order] * reps)[:n])
        targets.append(np.full(n, c, dtype=np.int64))
    if not sources:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(sources), np.concatenate(targets)


# ------------------------------------------------------------------ writing and reading augmented sets
@dataclass
class AugmentedSet:
    """Images added to a training set (a FaceSet), their manifest rows and the folder they live in."""

    faces: FaceSet
    manifest: list[dict]
    folder: Path


def _write(folder: Path, images: np.ndarray, class_names: tuple[str, ...], rows: list[dict],
           info: dict) -> None:
    """Write class folders of PNGs + manifest.csv + augmentation.json; atomic (temp folder, then rename)."""
    from PIL import Image

    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for img, row in zip(images, rows):
        path = tmp / row["file"]
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(img).save(path)
    with open(tmp / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    (tmp / "augmentation.json").write_text(json.dumps({**info, "class_names": list(class_names),
                                                       "images": int(len(images))}, indent=2))
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)


def read_manifest(folder: str | os.PathLike) -> list[dict]:
    path = Path(folder) / "manifest.csv"
    if not path.is_file():
        raise DataError(f"{folder}: no manifest.csv — not a folder written by fer_kit.augment")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def load_augmented(folder: str | os.PathLike, progress: bool = False) -> AugmentedSet:
    """Read a folder written by :func:`gan_balance` or :func:`traditional_expand`, in manifest order."""
    from fer_kit.data.readers import read_class_folders

    folder = Path(folder)
    rows = read_manifest(folder)
    info_file = folder / "augmentation.json"
    if not info_file.is_file():
        raise DataError(f"{folder}: augmentation.json is missing")
    info = json.loads(info_file.read_text())
    class_names = tuple(info["class_names"])
    if not rows:
        empty = np.zeros((0, 48, 48), np.uint8)
        faces = FaceSet(empty, np.zeros(0, np.int64), class_names, np.zeros(0, "<U1"), np.zeros(0, "<U1"),
                        np.zeros(0, "<U1"), name=folder.name, source=str(folder))
        return AugmentedSet(faces, rows, folder)
    read = read_class_folders(folder, name=folder.name, class_names=class_names, progress=progress)
    where = {p: i for i, p in enumerate(read.provenance)}
    missing = [r["file"] for r in rows if r["file"] not in where]
    if missing or len(read) != len(rows):
        raise DataError(f"{folder}: manifest.csv lists {len(rows)} images, the class folders hold {len(read)} "
                        f"(missing e.g. {missing[:3]})")
    order = np.array([where[r["file"]] for r in rows])
    for r, i in zip(rows, order):
        if class_names[read.labels[i]] != r["label"]:
            raise DataError(f"{folder}/{r['file']}: its folder says {class_names[read.labels[i]]!r}, "
                            f"the manifest {r['label']!r}")
    faces = FaceSet(images=read.images[order], labels=read.labels[order], class_names=class_names,
                    subjects=np.array([r["subject"] for r in rows]), splits=np.full(len(rows), "train"),
                    provenance=read.provenance[order], name=folder.name, source=str(folder))
    return AugmentedSet(faces, rows, folder)


def _rows(faces: FaceSet, sources: np.ndarray, targets: np.ndarray, method: str, generator: str, seed: int):
    rows = []
    for i, (s, t) in enumerate(zip(sources, targets)):
        name = faces.class_names[t]
        rows.append({"file": f"{name}/{method}_{i:06d}.png", "label": name, "source_file": str(faces.provenance[s]),
                     "source_index": int(s), "source_label": faces.class_names[faces.labels[s]],
                     "subject": str(faces.subjects[s]), "method": method, "generator": generator, "seed": seed})
    return rows


def gan_balance(model, faces: FaceSet, split: Split, folder: str | os.PathLike, *, target="max", seed: int = 0,
                generator_run: str | os.PathLike | None = None, batch_size: int = 128,
                progress: bool = True) -> AugmentedSet:
    """Balance ``split.train`` with images of the trained generator ``model`` (a ``CGAN``).

    ``generator_run`` (the generator's run folder) is checked with :func:`check_generator`; pass it
    whenever you have it. Writes ``folder`` and returns what was written.
    """
    from tqdm.auto import tqdm

    if generator_run is not None:
        check_generator(generator_run, faces, split)
    plan = balance_plan(faces.class_counts(split.train), target)
    sources, targets = choose_sources(faces, split, plan, seed)
    check_training_only(split, sources)
    checkpoint = getattr(model, "checkpoint_path", "") or generator_run
    checkpoint = str(Path(checkpoint).resolve()) if checkpoint else "in-memory generator"
    images = []
    with tqdm(total=len(sources), desc="generating", unit="img", disable=not progress) as bar:
        for b, i in enumerate(range(0, len(sources), batch_size)):
            images.append(model.translate(faces.images[sources[i:i + batch_size]], targets[i:i + batch_size],
                                          seed=seed * 1_000_003 + b))  # z: seeded per batch, reproducible
            bar.update(len(images[-1]))
    images = np.concatenate(images) if images else np.zeros((0, 48, 48), np.uint8)
    rows = _rows(faces, sources, targets, "gan", checkpoint, seed)
    info = {"method": "gan", "target": target, "plan": dict(zip(faces.class_names, map(int, plan))), "seed": seed,
            "generator": checkpoint, **run_metadata(faces, split)}
    _write(Path(folder), images, faces.class_names, rows, info)
    return load_augmented(folder)


def traditional_expand(faces: FaceSet, split: Split, folder: str | os.PathLike, *, target="max", seed: int = 0,
                       plan: np.ndarray | None = None, cfg: TraditionalConfig = TraditionalConfig()) -> AugmentedSet:
    """The count-matched traditional counterpart of :func:`gan_balance`: for each class, as many new
    images as the GAN plan adds, each a random transform of a training image *of that class*."""
    rng = np.random.default_rng(seed)
    plan = balance_plan(faces.class_counts(split.train), target) if plan is None else np.asarray(plan)
    train = np.asarray(split.train, dtype=np.int64)
    sources, targets = [], []
    for c, n in enumerate(plan):
        if n <= 0:
            continue
        pool = train[faces.labels[train] == c]
        if not len(pool):
            raise DataError(f"{faces.name}: class {faces.class_names[c]!r} has no training image to transform")
        order = np.concatenate([rng.permutation(pool) for _ in range(int(math.ceil(n / len(pool))))])[:n]
        sources.append(order)
        targets.append(np.full(n, c, dtype=np.int64))
    sources = np.concatenate(sources) if sources else np.zeros(0, np.int64)
    targets = np.concatenate(targets) if targets else np.zeros(0, np.int64)
    check_training_only(split, sources)
    images = augment_images(faces.images[sources], cfg, seed)
    rows = _rows(faces, sources, targets, "traditional", "", seed)
    info = {"method": "traditional", "target": target, "plan": dict(zip(faces.class_names, map(int, plan))),
            "seed": seed, "transforms": cfg.to_dict(), **run_metadata(faces, split)}
    _write(Path(folder), images, faces.class_names, rows, info)
    return load_augmented(folder)


def with_extra_training(faces: FaceSet, split: Split, extra: FaceSet) -> tuple[FaceSet, Split]:
    """``faces`` with ``extra`` appended, and a split whose training part also holds the new images
    (validation and test untouched)."""
    if tuple(extra.class_names) != tuple(faces.class_names):
        raise DataError(f"class orders differ: {faces.class_names} vs {extra.class_names}")
    n = len(faces)
    both = FaceSet(images=np.concatenate([faces.images, extra.images]),
                   labels=np.concatenate([faces.labels, extra.labels]), class_names=faces.class_names,
                   subjects=np.concatenate([faces.subjects.astype(str), extra.subjects.astype(str)]),
                   splits=np.concatenate([faces.splits.astype(str), extra.splits.astype(str)]),
                   provenance=np.concatenate([faces.provenance.astype(str), extra.provenance.astype(str)]),
                   name=f"{faces.name}+{extra.name}", source=faces.source, notes=faces.notes)
    grown = Split(train=np.concatenate([split.train, n + np.arange(len(extra))]), val=split.val, test=split.test,
                  protocol=split.protocol, leaky=split.leaky, seed=split.seed, fold=split.fold,
                  note=(split.note + f"; training set + {len(extra)} augmented images").lstrip("; "))
    return both, grown


def random_blur(max_sigma: float = 1.6, seed: int = 0):
    """A batch transform: each image gets a Gaussian blur of random strength (σ from 0 to ``max_sigma``,
    in four steps). Used to train the quality judge, so that it scores expressions, not sharpness."""
    import tensorflow as tf

    sigmas = np.linspace(0, max_sigma, 5)[1:]
    radius = int(math.ceil(3 * max_sigma))
    grid = np.arange(-radius, radius + 1, dtype=np.float32)
    kernels = []
    for s in sigmas:
        k = np.exp(-grid**2 / (2 * s**2))
        kernels.append(k / k.sum())
    seed_gen = tf.random.Generator.from_seed(seed)

    def transform(x, training: bool = True):
        if not training:
            return x
        padded = tf.pad(x, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
        versions = [x]
        for k in kernels:
            h = tf.nn.conv2d(padded, k.reshape(1, -1, 1, 1), 1, "VALID")
            versions.append(tf.nn.conv2d(h, k.reshape(-1, 1, 1, 1), 1, "VALID"))
        pick = seed_gen.uniform([tf.shape(x)[0]], 0, len(versions), dtype=tf.int32)
        stacked = tf.stack(versions, axis=1)                           # (B, 5, H, W, 1)
        return tf.gather(stacked, pick, axis=1, batch_dims=1)

    return transform
