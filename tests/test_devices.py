"""Devices: the trainers under ``tf.distribute`` (MirroredStrategy over two logical CPU devices against one
device) and with mixed precision (forced here; on a GPU it is the default)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HELPER = Path(__file__).with_name("distributed_run.py")


def _run(mode: str, tmp_path: Path) -> dict:
    root = str(HELPER.parents[1])  # this checkout's fer_kit, whatever the environment has installed
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])}
    result = subprocess.run([sys.executable, str(HELPER), mode, str(tmp_path / mode)], capture_output=True,
                            text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("distribute")
    return {mode: _run(mode, tmp) for mode in ("single", "mirrored")}


def test_mirrored_run_uses_two_replicas(runs):
    assert runs["mirrored"]["replicas"] == 2
    assert len(runs["mirrored"]["devices"]) == 2


def test_same_shapes_and_histories(runs):
    single, mirrored = runs["single"], runs["mirrored"]
    assert mirrored["fake_shape"] == single["fake_shape"] == [4, 48, 48]
    assert mirrored["fake_dtype"] == "uint8"
    assert len(mirrored["gan_history"]) == len(single["gan_history"]) == 6
    assert set(mirrored["gan_history"][0]) == set(single["gan_history"][0])
    assert len(mirrored["clf_loss"]) == len(single["clf_loss"])


def test_same_loss_trend(runs):
    """The paired L1 term falls in both runs, and ends near the single-device value: the replicas' summed
    gradients are those of the global batch."""
    for mode in ("single", "mirrored"):
        l1 = [float(row["g_l1"]) for row in runs[mode]["gan_history"]]
        assert l1[-1] < 0.8 * l1[0], (mode, l1)
        loss = runs[mode]["clf_loss"]
        assert loss[-1] < loss[0], (mode, loss)
    end_single = float(runs["single"]["gan_history"][-1]["g_l1"])
    end_mirrored = float(runs["mirrored"]["gan_history"][-1]["g_l1"])
    assert abs(end_mirrored - end_single) < 0.25 * end_single


def test_mixed_precision_trains_and_restores_the_policy(ck_synth, tmp_path):
    import keras
    import numpy as np

    from fer_kit import data
    from fer_kit.classify import TrainConfig, train_classifier
    from fer_kit.gan_training import train_cgan

    split = data.subject_split(ck_synth)
    run = train_cgan(ck_synth, split, tmp_path / "gan", epochs=2, steps_per_epoch=3, batch_size=16, verbose=0,
                     mixed_precision=True)
    assert run.model.generator.dtype_policy.name == "mixed_float16"
    assert isinstance(run.model.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert all(np.isfinite(v) for v in run.history[-1].values())
    fake = run.model.translate(ck_synth.images[:3], [0, 1, 2], seed=0)
    assert fake.dtype == np.uint8 and fake.shape == (3, 48, 48)
    part = data.Split(split.train[:128], split.val[:32], split.test[:32], split.protocol)
    clf = train_classifier(ck_synth, part, TrainConfig(epochs=2, mixed_precision=True))
    assert clf.model.dtype_policy.name == "mixed_float16"
    assert np.isfinite(clf.history["loss"]).all()
    assert keras.mixed_precision.global_policy().name == "float32"  # models keep theirs; the global is restored
