"""Training the cGAN with ``fit``: a ``keras.Model`` with a custom ``train_step``, batch feeds for paired
and unpaired data, per-epoch sample grids, a loss-history CSV, and checkpoints that survive a kill.

A run folder holds everything a run needs to be resumed or audited::

    run/config.json          GANConfig, seed, data fingerprint, protocol, versions, git commit
    run/history.csv          one row of mean losses per epoch (appended across resumes)
    run/samples/epoch_0003.png   source row → G(x, y) for every expression
    run/checkpoints/epoch_0003/  weights + optimiser state + epoch (written atomically)
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from keras import ops

from fer_kit import devices, gan
from fer_kit.data import FaceSet, Split, make_pairs
from fer_kit.provenance import run_metadata


def to_unit_range(images: np.ndarray) -> np.ndarray:
    """uint8 N×48×48 → float32 N×48×48×1 in [−1, 1] (the generator's scale)."""
    return (np.asarray(images, dtype=np.float32) / 127.5 - 1.0)[..., None]


def to_uint8(images) -> np.ndarray:
    """[−1, 1] N×48×48×1 → uint8 N×48×48."""
    arr = np.asarray(images)[..., 0]
    return np.clip(np.rint((arr + 1.0) * 127.5), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------ the model
class CGAN(keras.Model):
    """G, D1 and D2 trained together; ``fit`` runs one simultaneous update of all three per batch."""

    def __init__(self, cfg: gan.GANConfig, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.cfg = cfg
        self.generator, self.encoder, self.d1, self.d2 = gan.build_models(cfg)
        # The generator that makes images: an exponential moving average of G's weights (Karras et al. 2018;
        # Yazıcı et al. 2019). GAN weights oscillate from step to step; their average does not. On the
        # synthetic set (two seeds, scored after every 100 steps) the average's expression score held at
        # 0.85-0.87 (seed 0) and 0.75-0.81 (seed 1) over the last 800 of 1600 steps, where the raw G wandered
        # over 0.80-0.87 and 0.72-0.79. Trained by nothing: train_step blends G into it after each update.
        self.generator_ema = gan.build_generator(cfg) if cfg.g_ema else None
        if self.generator_ema is not None:
            self.generator_ema.trainable = False
            self.generator_ema.set_weights(self.generator.get_weights())
        self.noise_seed = keras.random.SeedGenerator(seed)
        self.prior_seed = keras.random.SeedGenerator(seed + 1)  # D2's U(−1, 1) samples (seeded state, not global)
        self.trackers: dict[str, keras.metrics.Mean] = {}
        self.built = True  # the three networks are functional models, already built

    def compile(self, g_optimizer=None, d1_optimizer=None, d2_optimizer=None, **kwargs) -> None:
        super().compile(**kwargs)
        cfg = self.cfg
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(cfg.lr_g, beta_1=cfg.beta_1)
        self.d1_optimizer = d1_optimizer or keras.optimizers.Adam(cfg.lr_d, beta_1=cfg.beta_1)
        self.d2_optimizer = d2_optimizer or keras.optimizers.Adam(cfg.lr_d, beta_1=cfg.beta_1)
        if self.generator.dtype_policy.compute_dtype == "float16":  # float16 gradients underflow unscaled
            scaled = keras.optimizers.LossScaleOptimizer
            self.g_optimizer, self.d1_optimizer, self.d2_optimizer = (
                opt if isinstance(opt, scaled) else scaled(opt)
                for opt in (self.g_optimizer, self.d1_optimizer, self.d2_optimizer))
        # the loss trackers exist before the first (traced, maybe replicated) step: tf.distribute forbids
        # creating variables inside it
        for name in gan.loss_names(cfg):
            self.trackers.setdefault(name, keras.metrics.Mean(name=name))
        for opt, model in ((self.g_optimizer, self.generator), (self.d1_optimizer, self.d1),
                           (self.d2_optimizer, self.d2)):
            opt.build(model.trainable_variables)

    @property
    def metrics(self) -> list:
        return list(self.trackers.values())

    def _noise(self, x):
        """Seeded z ~ N(0, 1) for a batch like ``x``, or None when the config has no noise."""
        if not self.cfg.z_dim:
            return None
        return keras.random.normal((ops.shape(x)[0], self.cfg.z_dim), seed=self.noise_seed)

    @property
    def image_generator(self) -> keras.Model:
        """The generator that makes images: the weight average when the config keeps one, else G."""
        return self.generator if self.generator_ema is None else self.generator_ema

    def call(self, inputs, training: bool = False):
        """``G(x, y)`` from :attr:`image_generator` (noise drawn here when the config has any)."""
        x, y = inputs[0], inputs[1]
        z = self._noise(x)
        return self.image_generator([x, y] if z is None else [x, y, z], training=training)

    def _update_average(self):
        """generator_ema ← d · generator_ema + (1 − d) · G, with ``d = min(g_ema, (1 + t) / (10 + t))`` after
        ``t`` generator updates (the warm-up keeps the average from remembering the random start)."""
        import tensorflow as tf

        t = ops.cast(self.g_optimizer.iterations, "float32")
        decay = ops.minimum(self.cfg.g_ema, (1.0 + t) / (10.0 + t))

        def blend(average, current):
            return average.assign(decay * average + (1.0 - decay) * current)

        def update_all(strategy):  # cross-replica context: update every replica's copy
            for average, current in zip(self.generator_ema.weights, self.generator.weights):
                strategy.extended.update(average.value, blend, args=(current.value,), group=False)

        tf.__internal__.distribute.interim.maybe_merge_call(update_all, tf.distribute.get_strategy())

    def _track(self, losses: dict) -> dict:
        for name, value in losses.items():
            if name not in self.trackers:
                self.trackers[name] = keras.metrics.Mean(name=name)
            self.trackers[name].update_state(value)
        return {name: self.trackers[name].result() for name in losses}

    def train_step(self, data):
        import tensorflow as tf  # the custom step is written for the TensorFlow backend

        x, y_src, y_tgt, x_tgt = data[0] if len(data) == 1 else data  # the feed sends ((x, y, y′, x′),)
        paired = x_tgt.shape[1] is not None and x_tgt.shape[1] > 1  # unpaired feeds send a (B, 1, 1, 1) dummy
        z = self._noise(x)
        updates = (("d1_loss", self.d1_optimizer, self.d1), ("d2_loss", self.d2_optimizer, self.d2),
                   ("g_loss", self.g_optimizer, self.generator))
        # Under a tf.distribute strategy each replica sees its share of the batch and the gradients are
        # summed across replicas: dividing by the replica count keeps the update that of the global batch.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape(persistent=True) as tape:
            losses = gan.compute_losses(self.generator, self.encoder, self.d1, self.d2, self.cfg, x, y_src, y_tgt,
                                        z=z, x_tgt=x_tgt if paired else None, training=True,
                                        prior=gan.sample_prior(ops.shape(x)[0], self.cfg.feature_dim, self.prior_seed))
            scaled = {name: opt.scale_loss(losses[name] / replicas) for name, opt, _ in updates}
        for loss_name, opt, model in updates:
            grads = tape.gradient(scaled[loss_name], model.trainable_variables)
            # D1's auxiliary head gets no gradient when its weight is 0: skip it rather than warn
            opt.apply_gradients([(g, v) for g, v in zip(grads, model.trainable_variables) if g is not None])
        del tape
        if self.generator_ema is not None:
            self._update_average()
        return self._track(losses)

    def translate(self, images_u8: np.ndarray, targets: np.ndarray, batch_size: int = 256,
                  seed: int | None = None) -> np.ndarray:
        """G(x, y) for uint8 faces → uint8 faces. ``targets``: integer labels, or rows of condition
        vectors (one-hot, or a blend of two expressions). With ``seed``, the noise z comes from that
        seed alone, so the same call always gives the same images."""
        out = []
        targets = np.asarray(targets)
        conditions = (targets.astype(np.float32) if targets.ndim == 2 else
                      np.eye(self.cfg.n_classes, dtype=np.float32)[targets])
        z = (np.random.default_rng(seed).standard_normal((len(images_u8), self.cfg.z_dim)).astype(np.float32)
             if seed is not None and self.cfg.z_dim else None)
        for i in range(0, len(images_u8), batch_size):
            x = to_unit_range(images_u8[i:i + batch_size])
            y = conditions[i:i + batch_size]
            fake = self([x, y], training=False) if z is None else self.image_generator(
                [x, y, z[i:i + batch_size]], training=False)
            out.append(to_uint8(fake))
        return np.concatenate(out) if out else np.zeros((0, 48, 48), np.uint8)


# ------------------------------------------------------------------ batches
class PairFeed(keras.utils.PyDataset):
    """Batches of (x, y_src, y_tgt, x′) for training.

    Paired mode: shuffled (source, target) pairs of one subject. Unpaired mode: each source gets a
    random other expression as target and a dummy x′. The order of epoch ``e`` depends only on
    (seed, e), so a resumed run sees the batches an uninterrupted one would have.
    """

    def __init__(self, faces: FaceSet, indices: np.ndarray, *, paired: bool, batch_size: int = 64,
                 steps_per_epoch: int | None = None, seed: int = 0, epoch: int = 0):
        super().__init__(workers=1, use_multiprocessing=False)
        self.images = to_unit_range(faces.images)
        self.labels, self.k = faces.labels, len(faces.class_names)
        self.paired, self.batch_size, self.seed, self.epoch = paired, batch_size, seed, epoch
        self.items = make_pairs(faces, indices) if paired else np.asarray(indices, dtype=np.int64)
        if len(self.items) < batch_size:
            raise ValueError(f"only {len(self.items)} training {'pairs' if paired else 'images'} for batch size "
                             f"{batch_size}")
        full = len(self.items) // batch_size
        self.steps = min(full, steps_per_epoch) if steps_per_epoch else full
        self._shuffle()

    def _shuffle(self) -> None:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.order = rng.permutation(len(self.items))
        if not self.paired:
            offset = rng.integers(1, self.k, size=len(self.items))  # any expression but the source's
            self.targets = (self.labels[self.items] + offset) % self.k

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, i: int):
        sel = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        eye = np.eye(self.k, dtype=np.float32)
        if self.paired:
            src, tgt = self.items[sel, 0], self.items[sel, 1]
            return ((self.images[src], eye[self.labels[src]], eye[self.labels[tgt]], self.images[tgt]),)
        src = self.items[sel]
        dummy = np.zeros((len(sel), 1, 1, 1), np.float32)
        return ((self.images[src], eye[self.labels[src]], eye[self.targets[sel]], dummy),)

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._shuffle()


# ------------------------------------------------------------------ checkpoints
class Checkpoints:
    """Atomic, resumable checkpoints: weights, optimiser state and the epoch reached."""

    def __init__(self, folder: str | os.PathLike, keep: int = 2):
        self.folder, self.keep = Path(folder), keep

    def latest(self) -> Path | None:
        done = sorted(p for p in self.folder.glob("epoch_*") if (p / "state.json").is_file())
        return done[-1] if done else None

    def save(self, model: CGAN, epoch: int) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"epoch_{epoch:04d}"
        tmp = Path(tempfile.mkdtemp(dir=self.folder, prefix=".saving-"))
        try:
            model.save_weights(tmp / "model.weights.h5")
            opt_state = {f"{name}_{i}": np.asarray(v) for name in ("g", "d1", "d2")
                         for i, v in enumerate(getattr(model, f"{name}_optimizer").variables)}
            opt_state["noise_seed"] = np.asarray(model.noise_seed.state)
            opt_state["prior_seed"] = np.asarray(model.prior_seed.state)
            np.savez(tmp / "optimizers.npz", **opt_state)
            (tmp / "state.json").write_text(json.dumps({"epoch": epoch}))  # written last: marks completeness
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for old in sorted(self.folder.glob("epoch_*"))[:-self.keep]:
            shutil.rmtree(old, ignore_errors=True)
        return target

    def restore(self, model: CGAN, checkpoint: Path | None = None) -> int:
        """Load the latest (or given) checkpoint into a compiled model; return its epoch (0 if none)."""
        checkpoint = checkpoint or self.latest()
        if checkpoint is None:
            return 0
        model.load_weights(checkpoint / "model.weights.h5")
        with np.load(checkpoint / "optimizers.npz") as z:
            for name in ("g", "d1", "d2"):
                for i, v in enumerate(getattr(model, f"{name}_optimizer").variables):
                    v.assign(z[f"{name}_{i}"])
            model.noise_seed.state.assign(z["noise_seed"])
            if "prior_seed" in z:
                model.prior_seed.state.assign(z["prior_seed"])
        model.checkpoint_path = str(checkpoint)
        return int(json.loads((checkpoint / "state.json").read_text())["epoch"])


class CheckpointEvery(keras.callbacks.Callback):
    """Save a checkpoint every ``interval`` epochs (and after the last)."""

    def __init__(self, checkpoints: Checkpoints, interval: int, last_epoch: int):
        super().__init__()
        self.checkpoints, self.interval, self.last_epoch = checkpoints, interval, last_epoch

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        done = epoch + 1
        if done % self.interval == 0 or done == self.last_epoch:
            self.checkpoints.save(self.model, done)


class HistoryCSV(keras.callbacks.Callback):
    """Append one row per epoch to ``history.csv`` (flushed, so a kill loses nothing written)."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
        new = not self.path.exists()
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(logs))
            if new:
                writer.writeheader()
            writer.writerow(logs)


def read_history(path: Path) -> list[dict]:
    """Rows of ``history.csv``, keeping for each epoch the last row written (a resumed run may rewrite
    the epochs after its checkpoint)."""
    if not Path(path).exists():
        return []
    rows: dict[int, dict] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            rows[int(row["epoch"])] = {k: float(v) for k, v in row.items()}
    return [rows[e] for e in sorted(rows)]


def sample_grid(model: CGAN, sources: np.ndarray, class_names: tuple[str, ...]) -> np.ndarray:
    """uint8 mosaic: one row per source — the source, then G(x, y) for every expression."""
    n, k = len(sources), len(class_names)
    targets = np.tile(np.arange(k), n)
    fakes = model.translate(np.repeat(sources, k, axis=0), targets).reshape(n, k, 48, 48)
    rows = [np.concatenate([sources[i], np.full((48, 4), 255, np.uint8), *fakes[i]], axis=1) for i in range(n)]
    return np.concatenate(rows, axis=0)


class SampleGrids(keras.callbacks.Callback):
    """Save ``samples/epoch_NNNN.png``: fixed sources → every expression, after each epoch."""

    def __init__(self, folder: Path, sources: np.ndarray, class_names: tuple[str, ...]):
        super().__init__()
        self.folder, self.sources, self.class_names = folder, sources, class_names

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        from PIL import Image

        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"epoch_{epoch + 1:04d}.png"
        partial = target.with_suffix(".png.part")
        Image.fromarray(sample_grid(self.model, self.sources, self.class_names)).save(partial, format="PNG")
        os.replace(partial, target)  # a kill mid-write leaves no truncated grid


# ------------------------------------------------------------------ one call to train
@dataclass
class TrainResult:
    model: CGAN
    run_dir: Path
    start_epoch: int
    epochs: int
    history: list[dict]


def train_cgan(faces: FaceSet, split: Split, run_dir: str | os.PathLike, *, cfg: gan.GANConfig | None = None,
               epochs: int = 20, batch_size: int = 64, steps_per_epoch: int | None = None, seed: int = 0,
               checkpoint_every: int = 1, paired: bool | None = None, n_samples: int = 4,
               verbose: int | str = "auto", strategy=None, mixed_precision: bool | None = None,
               callbacks: list | None = None, jit_compile: bool | str = "auto") -> TrainResult:
    """Train (or resume) the cGAN on ``split.train`` only; everything is written under ``run_dir``.

    ``paired`` defaults to True when the data set has subject ids (CK+, synthetic) and False
    otherwise (FER2013: identity + cycle + auxiliary classifier instead of paired L1). ``strategy``: a
    ``tf.distribute`` strategy to train under (``batch_size`` is then the global batch). ``mixed_precision``:
    ``None`` uses float16 compute exactly when a GPU is present (:func:`fer_kit.devices.precision`).
    ``callbacks``: extra Keras callbacks, run after the kit's history, sample-grid and checkpoint ones.
    ``jit_compile``: compile the train step with XLA (``True``), not (``False``), or Keras' ``"auto"``: XLA
    on a GPU, not on a CPU or under a strategy. Whether XLA helps on a CPU depends on the machine:
    ``benchmarks/bench_gan.py`` measures it (on one kind of 2-core machine here XLA made training 2-4×
    slower, on another it made the cGAN step 2× faster).
    """
    from fer_kit.config import seed_everything

    run_dir = Path(run_dir)
    paired = faces.has_subjects if paired is None else paired
    cfg = cfg or (gan.GANConfig(n_classes=len(faces.class_names)) if paired else
                  gan.GANConfig(n_classes=len(faces.class_names), w_l1=0.0, w_cls=1.0, w_cycle=10.0))
    if cfg.n_classes != len(faces.class_names):
        raise ValueError(f"cfg.n_classes={cfg.n_classes} but {faces.name} has {len(faces.class_names)} classes")
    run_dir.mkdir(parents=True, exist_ok=True)
    meta_file = run_dir / "config.json"
    meta = {"gan": cfg.to_dict(), "seed": seed, "paired": paired, "batch_size": batch_size,
            "steps_per_epoch": steps_per_epoch, "train_images": int(len(split.train)),
            **run_metadata(faces, split)}
    if meta_file.exists():
        old = json.loads(meta_file.read_text())
        old_cfg = gan.GANConfig.from_dict(old["gan"]).to_dict()
        changed = [f"{k}: {old_cfg.get(k)} → {v}" for k, v in meta["gan"].items() if old_cfg.get(k) != v]
        if old["data_fingerprint"] != meta["data_fingerprint"]:
            changed.append("the data set")
        if changed:
            raise ValueError(f"{run_dir} holds a run with another config ({'; '.join(changed)}); "
                             "use a new run folder, or delete this one to retrain")
    else:
        meta_file.write_text(json.dumps(meta, indent=2))
    seen_file, train_idx = run_dir / "train_indices.npy", np.sort(np.asarray(split.train, dtype=np.int64))
    if seen_file.exists() and not np.array_equal(np.load(seen_file), train_idx):
        raise ValueError(f"{run_dir} was trained on another training split; use a new run folder")
    np.save(seen_file, train_idx)  # the images G may have seen (fer_kit.augment checks them)

    seed_everything(seed)
    with devices.scope(strategy), devices.precision(mixed_precision):
        model = CGAN(cfg, seed=seed)
        model.compile(jit_compile=jit_compile)
        checkpoints = Checkpoints(run_dir / "checkpoints")
        start = checkpoints.restore(model)
    if start:
        print(f"resuming {run_dir} from its epoch-{start} checkpoint")
    if start >= epochs:
        return TrainResult(model, run_dir, start, epochs, read_history(run_dir / "history.csv"))
    feed = PairFeed(faces, split.train, paired=paired, batch_size=batch_size, steps_per_epoch=steps_per_epoch,
                    seed=seed, epoch=start)
    rng = np.random.default_rng(seed)
    sources = faces.images[rng.choice(split.train, size=min(n_samples, len(split.train)), replace=False)]
    # the checkpoint comes last: once it marks an epoch done, that epoch's history row and sample grid exist
    kit_callbacks = [HistoryCSV(run_dir / "history.csv"), SampleGrids(run_dir / "samples", sources, faces.class_names),
                     CheckpointEvery(checkpoints, checkpoint_every, epochs)]
    model.fit(feed, epochs=epochs, initial_epoch=start, callbacks=kit_callbacks + list(callbacks or []),
              verbose=verbose)
    return TrainResult(model, run_dir, start, epochs, read_history(run_dir / "history.csv"))


def load_generator(run_dir: str | os.PathLike) -> CGAN:
    """The model of a run folder's latest checkpoint, ready for ``translate``."""
    run_dir = Path(run_dir)
    meta = json.loads((run_dir / "config.json").read_text())
    model = CGAN(gan.GANConfig.from_dict(meta["gan"]), seed=meta["seed"])
    model.compile()
    if Checkpoints(run_dir / "checkpoints").restore(model) == 0:
        raise FileNotFoundError(f"{run_dir} has no checkpoint yet")
    return model
