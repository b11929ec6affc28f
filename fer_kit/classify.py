"""Expression classifiers. For now: the small baseline CNN used to check the data (is the synthetic
set hard enough? how does a plain model do on the minority classes?). The paper's Xception and
the evaluation protocol build on the same helpers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fer_kit.config import seed_everything
from fer_kit.data import FaceSet, Split


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 N×48×48 → float32 N×48×48×1 in [0, 1] (the scaling every classifier uses)."""
    return (np.asarray(images, dtype=np.float32) / 255.0)[..., None]


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
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name="baseline_cnn")
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


@dataclass
class BaselineResult:
    """Test accuracy, per-class recall and the confusion matrix of one baseline run."""

    accuracy: float
    recall: dict[str, float]
    confusion: np.ndarray
    class_names: tuple[str, ...]
    train_counts: dict[str, int]
    epochs: int
    seed: int
    model: object = None  # the trained keras model (inputs: to_model_input(images))

    def predict(self, images_u8: np.ndarray) -> np.ndarray:
        """Class probabilities for uint8 N×48×48 faces."""
        return self.model.predict(to_model_input(images_u8), batch_size=256, verbose=0)


def train_baseline(faces: FaceSet, split: Split, *, epochs: int = 30, batch_size: int = 32, seed: int = 0,
                   verbose: int = 0, augment: bool = False, blur: float = 0.0, width: int = 32) -> BaselineResult:
    """Train the baseline CNN on ``split.train`` (best epoch chosen on ``split.val``), score ``split.test``.

    ``augment``: traditional transforms on the fly; ``blur``: random Gaussian blur up to this σ.
    """
    import keras

    from fer_kit.augment import random_blur, training_dataset

    seed_everything(seed)
    model = build_baseline_cnn(len(faces.class_names), width=width, seed=seed)
    x = to_model_input(faces.images)
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=max(5, epochs // 3),
                                         restore_best_weights=True)
    if augment or blur:
        feed = {"x": training_dataset(faces.images[split.train], faces.labels[split.train], batch_size=batch_size,
                                      augment=augment, seed=seed,
                                      extra_transform=random_blur(blur, seed) if blur else None)}
    else:
        feed = {"x": x[split.train], "y": faces.labels[split.train], "batch_size": batch_size, "shuffle": True}
    model.fit(**feed, validation_data=(x[split.val], faces.labels[split.val]), epochs=epochs, verbose=verbose,
              callbacks=[stop])
    pred = model.predict(x[split.test], batch_size=256, verbose=0).argmax(axis=1)
    truth = faces.labels[split.test]
    k = len(faces.class_names)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (truth, pred), 1)
    support = confusion.sum(axis=1)
    recall = {c: float(confusion[i, i] / support[i]) if support[i] else float("nan")
              for i, c in enumerate(faces.class_names)}
    return BaselineResult(float((pred == truth).mean()), recall, confusion, faces.class_names,
                          dict(zip(faces.class_names, map(int, faces.class_counts(split.train)))), epochs, seed,
                          model)
