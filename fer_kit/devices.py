"""Where training runs: GPUs (detected, never assumed), mixed precision, ``tf.distribute`` strategies.

Every trainer in the kit (:func:`fer_kit.gan_training.train_cgan`, :func:`fer_kit.classify.train_classifier`,
:func:`fer_kit.experiment.run_experiment`) takes ``strategy=``: pass a ``tf.distribute.MirroredStrategy``
on a machine with several GPUs (or a ``TPUStrategy`` on a Colab TPU) and the same code trains data-parallel;
the batch size stays the *global* batch, split between the replicas.
"""

from __future__ import annotations

import contextlib
import os


def gpus() -> list:
    """The GPUs TensorFlow can see (empty on a CPU-only machine)."""
    import tensorflow as tf

    return tf.config.list_physical_devices("GPU")


@contextlib.contextmanager
def precision(enable: bool | None = None):
    """Build models inside this block with ``mixed_float16`` when ``enable`` (``None``: exactly when a GPU is
    present), then restore the previous global policy: the models keep the policy they were built with."""
    import keras

    before = keras.mixed_precision.global_policy()
    on = bool(gpus()) if enable is None else enable
    keras.mixed_precision.set_global_policy("mixed_float16" if on else "float32")
    try:
        yield on
    finally:
        keras.mixed_precision.set_global_policy(before)


def scope(strategy=None):
    """``strategy.scope()``, or a no-op context without a strategy (variables must be made inside it)."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def split_cpu(n: int = 2) -> list[str]:
    """Split the host CPU into ``n`` logical devices (for trying ``MirroredStrategy`` without GPUs) and
    return their names. Must run before TensorFlow initialises its devices."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def describe() -> dict:
    """What this process trains on (stored beside benchmark figures)."""
    import keras
    import tensorflow as tf

    return {"gpus": [d.name for d in gpus()], "cpu_cores": len(os.sched_getaffinity(0)) if hasattr(
        os, "sched_getaffinity") else os.cpu_count(), "policy": keras.mixed_precision.global_policy().name,
        "tensorflow": tf.__version__, "keras": keras.__version__}
