"""Helper for tests/test_devices.py: a short cGAN and classifier training on two logical CPU devices,
with or without ``MirroredStrategy``; prints the histories as one JSON line.

    python tests/distributed_run.py mirrored|single RUN_DIR
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fer_kit import devices  # noqa: E402

names = devices.split_cpu(2)  # before TensorFlow makes its devices

import tensorflow as tf  # noqa: E402

from fer_kit import data  # noqa: E402
from fer_kit.classify import TrainConfig, train_classifier  # noqa: E402
from fer_kit.gan_training import train_cgan  # noqa: E402


def main(mode: str, run_dir: str) -> None:
    strategy = tf.distribute.MirroredStrategy(names) if mode == "mirrored" else None
    faces = data.load("synthetic", progress=False)
    split = data.subject_split(faces)
    gan = train_cgan(faces, split, run_dir, epochs=6, steps_per_epoch=5, batch_size=16, seed=0, verbose=0,
                     strategy=strategy)
    fake = gan.model.translate(faces.images[split.test[:4]], faces.labels[split.test[:4]], seed=0)
    # A quarter of the training images: the loss trend, not the accuracy, is what the test compares.
    part = data.Split(split.train[::4], split.val[::2], split.test[::2], split.protocol)
    clf = train_classifier(faces, part, TrainConfig(epochs=4, batch_size=32, patience=4), seed=0, strategy=strategy)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync if strategy else 1, "devices": names,
                      "gan_history": gan.history, "fake_shape": list(fake.shape), "fake_dtype": str(fake.dtype),
                      "clf_loss": clf.history["loss"], "clf_accuracy": clf.accuracy}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
