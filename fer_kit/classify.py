"""Expression classifiers and the one training procedure they all share.

Models (``MODELS``; every one takes uint8 faces scaled by :func:`to_model_input`, 48×48×1 in [0, 1]):

* ``"xception"`` — the paper's network: ``keras.applications.Xception`` (``weights=None`` by default,
  ``"imagenet"`` where the weights can be had), the face resized to 71×71 and repeated to three
  channels. About 21 M parameters: slow on a CPU.
* ``"mini_xception"`` — the compact Xception-style network of Arriaga et al. (2017): two plain
  convolutions, then four residual blocks of depthwise-separable convolutions; ~60 k parameters,
  made for FER2013 and fast on a CPU.
* ``"mini_xception_wide"`` — the same at twice the width (~4× the parameters): the stronger
  CPU-feasible option.
* ``"baseline"`` — a small VGG-style CNN used to check data sets.

:func:`train_classifier` trains any of them with one :class:`TrainConfig` — the same optimiser,
schedule, early stopping and epochs whatever the training data — so that in Table 6 the training
set is the only thing that changes.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from fer_kit import devices
from fer_kit.config import seed_everything
from fer_kit.data import FaceSet, Split


class WeightsUnavailable(RuntimeError):
    """Pretrained weights could not be downloaded or read."""


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 N×48×48 → float32 N×48×48×1 in [0, 1] (the scaling every classifier uses)."""
    return (np.asarray(images, dtype=np.float32) / 255.0)[..., None]


# ------------------------------------------------------------------ models
def build_baseline_cnn(n_classes: int, input_size: int = 48, width: int = 32, seed: int = 0):
    """A small VGG-style CNN: three conv blocks, global pooling, dropout, softmax."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((input_size, input_size, 1))
    x = inputs
    for i, filters in enumerate((width, width * 2, width * 4)):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}a")(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}b")(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(n_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="baseline_cnn")


def build_mini_xception(n_classes: int, input_size: int = 48, width: int = 8, seed: int = 0):
    """Mini-Xception: conv(w) → conv(w) → 4 × [separable conv ×2 + max-pool, 1×1 strided residual]
    with 2w, 4w, 8w, 16w channels → 3×3 conv to the classes → global average → softmax."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((input_size, input_size, 1))
    x = inputs
    for i in range(2):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"stem{i}_conv")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"stem{i}_bn")(x)
        x = layers.ReLU(name=f"stem{i}_relu")(x)
    for b, filters in enumerate((2 * width, 4 * width, 8 * width, 16 * width)):
        residual = layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False, name=f"block{b}_skip")(x)
        residual = layers.BatchNormalization(momentum=0.9, name=f"block{b}_skip_bn")(residual)
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"block{b}_sep1")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"block{b}_bn1")(x)
        x = layers.ReLU(name=f"block{b}_relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"block{b}_sep2")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"block{b}_bn2")(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"block{b}_pool")(x)
        x = layers.Add(name=f"block{b}_add")([x, residual])
    x = layers.Conv2D(n_classes, 3, padding="same", name="class_maps")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Softmax(dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=f"mini_xception_w{width}")


def build_mini_xception_wide(n_classes: int, input_size: int = 48, seed: int = 0):
    """Mini-Xception at twice the width: the stronger CPU-feasible option."""
    return build_mini_xception(n_classes, input_size, width=16, seed=seed)


def build_xception(n_classes: int, input_size: int = 48, size: int = 71, weights: str | None = None, seed: int = 0,
                   bn_momentum: float = 0.9):
    """The paper's Xception on 48×48 gray faces: resize to ``size`` (Xception's minimum is 71), repeat
    to RGB, scale to [−1, 1], ``keras.applications.Xception`` without its top, global average, softmax.

    ``bn_momentum``: Keras builds Xception's 40 batch normalisations with momentum 0.99, whose moving
    statistics lag far behind a network trained from scratch on a few hundred faces — on the CK+ random
    split training accuracy reached 100 % while validation stayed at chance for 20 epochs. At 0.9
    validation followed training (98 % after 5 epochs)."""
    import keras
    from keras import layers

    if size < 71:
        raise ValueError(f"keras.applications.Xception needs inputs of at least 71×71, not {size}")
    keras.utils.set_random_seed(seed)
    try:
        base = keras.applications.Xception(include_top=False, weights=weights, input_shape=(size, size, 3),
                                           pooling="avg")
    except Exception as err:  # noqa: BLE001 — URL, HTTP, file and format errors all mean the same here
        raise WeightsUnavailable(
            f"Xception weights {weights!r} could not be loaded ({type(err).__name__}: {err}). Offline? Download "
            "xception_weights_tf_dim_ordering_tf_kernels_notop.h5 on a connected machine into ~/.keras/models/, "
            "or pass a local weights file, or use weights=None (the default: trained from scratch).") from err
    for layer in base.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = bn_momentum
    inputs = keras.Input((input_size, input_size, 1))
    x = layers.Resizing(size, size, name="resize")(inputs)
    x = layers.Concatenate(name="to_rgb")([x, x, x])
    x = layers.Rescaling(2.0, offset=-1.0, name="to_unit_range")(x)
    x = base(x)
    x = layers.Dropout(0.3, name="dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="xception")


MODELS = {"mini_xception": build_mini_xception, "mini_xception_wide": build_mini_xception_wide,
          "xception": build_xception, "baseline": build_baseline_cnn}


def build_model(name: str, n_classes: int, seed: int = 0, **options):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return MODELS[name](n_classes, seed=seed, **options)


# ------------------------------------------------------------------ one training procedure
@dataclass(frozen=True)
class TrainConfig:
    """How every classifier is trained (saved with each result)."""

    model: str = "mini_xception"
    epochs: int = 60             # the most epochs; early stopping usually ends sooner
    batch_size: int = 32         # with lr 5e-3 it learned ~2× faster per epoch than 64 / 2e-3 (synthetic set)
    lr: float = 5e-3             # Adam; cosine decay over ``epochs`` to lr/100
    patience: int = 12           # early stopping on validation accuracy; the best epoch's weights are kept
    augment: bool = False        # traditional transforms on the fly (off: Table 6's settings differ by data only)
    blur: float = 0.0            # random Gaussian blur up to this σ (the quality judge uses it)
    weights: str | None = None   # Xception only: None or "imagenet" / a local file
    mixed_precision: bool | None = None  # float16 compute; None: exactly when a GPU is present

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ClassifierResult:
    """Scores of one trained classifier on ``split.test`` (and its best validation epoch)."""

    accuracy: float
    recall: dict[str, float]
    confusion: np.ndarray
    class_names: tuple[str, ...]
    train_counts: dict[str, int]
    epochs: int
    seed: int
    model: object = None  # the trained keras model (inputs: to_model_input(images))
    val_accuracy: float = float("nan")
    macro_f1: float = float("nan")
    best_epoch: int = 0
    history: dict = field(default_factory=dict)
    seconds: float = 0.0

    def predict(self, images_u8: np.ndarray) -> np.ndarray:
        """Class probabilities for uint8 N×48×48 faces."""
        return self.model.predict(to_model_input(images_u8), batch_size=256, verbose=0)

    def metrics(self) -> dict:
        """JSON-friendly scores (no model)."""
        return {"test_accuracy": self.accuracy, "val_accuracy": self.val_accuracy, "macro_f1": self.macro_f1,
                "class_names": list(self.class_names),
                "per_class_accuracy": self.recall, "confusion": self.confusion.tolist(),
                "train_counts": self.train_counts, "best_epoch": self.best_epoch, "epochs_run": len(
                    self.history.get("loss", [])), "history": self.history, "seconds": self.seconds}


def confusion_matrix(truth: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((k, k), dtype=np.int64)
    np.add.at(out, (truth, pred), 1)
    return out


def scores(confusion: np.ndarray, class_names) -> tuple[float, dict[str, float], float]:
    """(accuracy, per-class accuracy = recall, macro-F1) from a confusion matrix (rows: truth)."""
    support, predicted, hits = confusion.sum(1), confusion.sum(0), np.diag(confusion)
    recall = {c: float(hits[i] / support[i]) if support[i] else float("nan") for i, c in enumerate(class_names)}
    f1 = [2 * hits[i] / (support[i] + predicted[i]) for i in range(len(class_names)) if support[i] + predicted[i]]
    accuracy = float(hits.sum() / max(1, confusion.sum()))
    return accuracy, recall, float(np.mean(f1)) if f1 else float("nan")


# Training steps per call into the compiled graph: fewer Python round trips per epoch. Measured on a 2-core
# CPU with mini-Xception at batch 32 (benchmarks/suite.py): about 1.1–1.4× the images/s of one step per call.
STEPS_PER_EXECUTION = 8


def compile_classifier(model, cfg: TrainConfig, steps_per_execution: int = STEPS_PER_EXECUTION):
    """Compile ``model`` the way every classifier here trains: Adam at ``cfg.lr``, sparse cross-entropy,
    ``steps_per_execution`` steps per graph call (the same updates, in the same order)."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(cfg.lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], steps_per_execution=steps_per_execution)
    return model


def train_classifier(faces: FaceSet, split: Split, cfg: TrainConfig = TrainConfig(), *, seed: int = 0,
                     extra: FaceSet | None = None, verbose: int = 0, callbacks: list | None = None,
                     strategy=None) -> ClassifierResult:
    """Train ``cfg.model`` on ``split.train`` (+ ``extra`` images, e.g. an augmented set), choose the
    epoch on ``split.val``, score ``split.test`` once. ``strategy``: a ``tf.distribute`` strategy to
    train under (``cfg.batch_size`` is the global batch)."""
    import keras

    from fer_kit.augment import random_blur, training_dataset

    seed_everything(seed)
    k = len(faces.class_names)
    options = {"weights": cfg.weights} if cfg.model == "xception" else {}
    with devices.scope(strategy), devices.precision(cfg.mixed_precision):
        # Keras 3.15 fails to run several steps per call under MirroredStrategy ("You must feed a value for
        # placeholder tensor" in multi_step_on_iterator): one step per call there.
        model = compile_classifier(build_model(cfg.model, k, seed=seed, **options), cfg,
                                   steps_per_execution=1 if strategy is not None else STEPS_PER_EXECUTION)
    images, labels = faces.images[split.train], faces.labels[split.train]
    if extra is not None and len(extra):
        if tuple(extra.class_names) != tuple(faces.class_names):
            raise ValueError(f"extra images have classes {extra.class_names}, not {faces.class_names}")
        images, labels = np.concatenate([images, extra.images]), np.concatenate([labels, extra.labels])
    train = training_dataset(images, labels, batch_size=cfg.batch_size, augment=cfg.augment, seed=seed,
                             extra_transform=random_blur(cfg.blur, seed) if cfg.blur else None)
    x_val, y_val = to_model_input(faces.images[split.val]), faces.labels[split.val]
    schedule = keras.callbacks.LearningRateScheduler(
        lambda epoch: cfg.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * epoch / cfg.epochs))))
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=cfg.patience, restore_best_weights=True)
    start = time.perf_counter()
    history = model.fit(train, validation_data=(x_val, y_val), epochs=cfg.epochs, verbose=verbose, shuffle=False,
                        callbacks=[schedule, stop, *(callbacks or [])])
    seconds = time.perf_counter() - start
    curves = {key: [float(v) for v in values] for key, values in history.history.items()}
    best = int(np.argmax(curves["val_accuracy"])) if curves.get("val_accuracy") else 0
    pred = model.predict(to_model_input(faces.images[split.test]), batch_size=256, verbose=0).argmax(axis=1)
    confusion = confusion_matrix(faces.labels[split.test], pred, k)
    accuracy, recall, macro_f1 = scores(confusion, faces.class_names)
    return ClassifierResult(accuracy, recall, confusion, faces.class_names,
                            dict(zip(faces.class_names, map(int, np.bincount(labels, minlength=k)))), cfg.epochs, seed,
                            model, val_accuracy=curves["val_accuracy"][best] if curves.get("val_accuracy") else
                            float("nan"), macro_f1=macro_f1, best_epoch=best + 1, history=curves, seconds=seconds)


def train_baseline(faces: FaceSet, split: Split, *, epochs: int = 30, batch_size: int = 32, seed: int = 0,
                   verbose: int = 0, augment: bool = False, blur: float = 0.0) -> ClassifierResult:
    """The baseline CNN, trained with the shared procedure (a quick check of a data set)."""
    cfg = TrainConfig(model="baseline", epochs=epochs, batch_size=batch_size, lr=2e-3, patience=max(5, epochs // 3),
                      augment=augment, blur=blur)
    return train_classifier(faces, split, cfg, seed=seed, verbose=verbose)
