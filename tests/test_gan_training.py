"""Training the cGAN: feeds, checkpoints, a killed run resumed, and whether G really transfers expressions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from fer_kit import data, devices, gan  # noqa: E402
from fer_kit.gan_training import (  # noqa: E402
    CGAN,
    Checkpoints,
    PairFeed,
    read_history,
    to_uint8,
    to_unit_range,
    train_cgan,
)

TINY = gan.GANConfig(filters=8, feature_dim=16, z_dim=4, d1_filters=8, d2_units=16)


def test_paired_feed_pairs_one_subject_and_is_seeded(ck_synth):
    split = data.subject_split(ck_synth, seed=0)
    feed = PairFeed(ck_synth, split.train, paired=True, batch_size=16, steps_per_epoch=3, seed=1)
    (x, y_src, y_tgt, x_tgt), = feed[0]
    assert x.shape == x_tgt.shape == (16, 48, 48, 1) and -1 <= x.min() and x.max() <= 1
    assert (y_src.argmax(1) != y_tgt.argmax(1)).all()
    src, tgt = feed.items[feed.order[:16], 0], feed.items[feed.order[:16], 1]
    assert (ck_synth.subjects[src] == ck_synth.subjects[tgt]).all()
    assert set(feed.items.ravel()) <= set(split.train)  # only training faces are ever fed
    again = PairFeed(ck_synth, split.train, paired=True, batch_size=16, steps_per_epoch=3, seed=1)
    assert np.array_equal(again.order, feed.order)
    feed.on_epoch_end()
    later = PairFeed(ck_synth, split.train, paired=True, batch_size=16, steps_per_epoch=3, seed=1, epoch=1)
    assert np.array_equal(feed.order, later.order)  # a resumed epoch sees the same batches
    assert len(feed) == 3


def test_unpaired_feed_targets_another_expression(ck_synth):
    feed = PairFeed(ck_synth, np.arange(200), paired=False, batch_size=32, seed=0)
    (x, y_src, y_tgt, dummy), = feed[1]
    assert (y_src.argmax(1) != y_tgt.argmax(1)).all() and dummy.shape == (32, 1, 1, 1)


def test_checkpoint_roundtrip_restores_weights_and_optimiser(tmp_path, ck_synth):
    split = data.subject_split(ck_synth, seed=0)
    result = train_cgan(ck_synth, split, tmp_path / "run", cfg=TINY, epochs=1, batch_size=16, steps_per_epoch=2,
                        verbose=0)
    fresh = CGAN(TINY, seed=5)
    fresh.compile()
    assert Checkpoints(tmp_path / "run" / "checkpoints").restore(fresh) == 1
    for a, b in zip(result.model.generator.weights + result.model.generator_ema.weights,
                    fresh.generator.weights + fresh.generator_ema.weights):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    assert int(fresh.g_optimizer.iterations) == int(result.model.g_optimizer.iterations) == 2
    x = ck_synth.images[split.test[:3]]
    assert result.model.translate(x, np.array([0, 1, 2])).shape == (3, 48, 48)
    assert (tmp_path / "run" / "samples" / "epoch_0001.png").is_file()
    with pytest.raises(ValueError, match=r"another config \(.*feature_dim: \d+ → 8"):  # names what changed
        train_cgan(ck_synth, split, tmp_path / "run", cfg=gan.GANConfig(filters=8, feature_dim=8), epochs=1)


@pytest.mark.parametrize("jit_compile", ["auto", True], ids=["auto", "xla"])
def test_images_come_from_the_weight_average_of_g(tmp_path, ck_synth, jit_compile):
    """generator_ema follows d · average + (1 − d) · G after every update, with the warm-up decay (also
    in an XLA-compiled step), and translate uses it; g_ema=0 (and a run saved before it existed) keeps
    no average."""
    import keras

    class Record(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.seen = [[np.asarray(w) for w in self.model.generator.weights]]

        def on_train_batch_end(self, batch, logs=None):
            self.seen.append([np.asarray(w) for w in self.model.generator.weights])

    split = data.subject_split(ck_synth, seed=0)
    record = Record()
    run = train_cgan(ck_synth, split, tmp_path / "run", cfg=TINY, epochs=1, batch_size=16, steps_per_epoch=4,
                     verbose=0, callbacks=[record], jit_compile=jit_compile)
    assert run.model.jit_compile is (jit_compile is True or bool(devices.gpus()))  # "auto": XLA on a GPU only
    expected = record.seen[0]
    for t, weights in enumerate(record.seen[1:], start=1):
        d = min(TINY.g_ema, (1 + t) / (10 + t))
        expected = [d * e + (1 - d) * w for e, w in zip(expected, weights)]
    model = run.model
    assert model.image_generator is model.generator_ema
    for e, w in zip(expected, model.generator_ema.weights):
        np.testing.assert_allclose(np.asarray(w), e, rtol=1e-5, atol=1e-6)
    moved = [np.abs(np.asarray(a) - np.asarray(b)).max() for a, b in zip(model.generator.weights,
                                                                           model.generator_ema.weights)]
    assert max(moved) > 1e-4  # the average lags behind G
    x, targets = ck_synth.images[split.test[:4]], np.arange(4)
    z = np.random.default_rng(0).standard_normal((4, TINY.z_dim)).astype("float32")  # what seed=0 draws
    from_average = to_uint8(model.generator_ema([to_unit_range(x), np.eye(7, dtype="float32")[targets], z]))
    assert np.array_equal(model.translate(x, targets, seed=0), from_average)
    raw = CGAN(gan.GANConfig(**{**TINY.to_dict(), "g_ema": 0.0}))
    assert raw.generator_ema is None and raw.image_generator is raw.generator
    assert gan.GANConfig.from_dict({k: v for k, v in TINY.to_dict().items() if k != "g_ema"}).g_ema == 0.0


def test_a_killed_run_resumes_and_loses_at_most_one_interval(tmp_path):
    """Start training in a subprocess, SIGKILL it after its second checkpoint, then resume."""
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "fer_kit", "gan-train", "synthetic", str(run), "--epochs", "6", "--steps", "3",
           "--batch-size", "16", "--checkpoint-every", "1"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 240
        while not (run / "checkpoints" / "epoch_0002" / "state.json").exists():
            assert proc.poll() is None, proc.stdout.read()
            assert time.time() < deadline, "no second checkpoint within 4 minutes"
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    reached = Checkpoints(run / "checkpoints").latest()
    killed_at = int(reached.name.split("_")[1])
    assert 2 <= killed_at < 6
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"from its epoch-{killed_at} checkpoint" in done.stdout
    history = read_history(run / "history.csv")
    assert [int(r["epoch"]) for r in history] == [1, 2, 3, 4, 5, 6]
    assert Checkpoints(run / "checkpoints").latest().name == "epoch_0006"
    assert len(list((run / "checkpoints").glob("epoch_*"))) <= 2  # old checkpoints are pruned


class _Killed(Exception):
    pass


def test_a_run_killed_just_after_a_checkpoint_keeps_that_epochs_history_and_samples(tmp_path, ck_synth,
                                                                                     monkeypatch):
    """A checkpoint marks an epoch done only once its history row and sample grid are written: a kill right
    after the checkpoint (once seen on a slow machine, in the test above) lost epoch 2's row."""
    save = Checkpoints.save

    def save_then_die(self, model, epoch):
        path = save(self, model, epoch)
        if epoch == 2:
            raise _Killed
        return path

    split = data.subject_split(ck_synth)
    options = dict(cfg=TINY, epochs=4, steps_per_epoch=2, batch_size=8, seed=0, verbose=0)
    with monkeypatch.context() as patch:
        patch.setattr(Checkpoints, "save", save_then_die)
        with pytest.raises(_Killed):
            train_cgan(ck_synth, split, tmp_path, **options)
    assert Checkpoints(tmp_path / "checkpoints").latest().name == "epoch_0002"
    run = train_cgan(ck_synth, split, tmp_path, **options)
    assert run.start_epoch == 2
    assert [int(r["epoch"]) for r in run.history] == [1, 2, 3, 4]
    assert sorted(p.name for p in (tmp_path / "samples").glob("*.png")) == [
        f"epoch_{e:04d}.png" for e in (1, 2, 3, 4)]


def test_expression_score_counts_targets_the_classifier_agrees_with(ck_synth):
    from fer_kit.quality import expression_score

    model = CGAN(TINY, seed=0)
    model.compile()
    always_happy = ck_synth.class_index("happy")

    def classify(images):
        probs = np.zeros((len(images), 7), np.float32)
        probs[:, always_happy] = 1.0
        return probs

    score = expression_score(model, classify, ck_synth.images[:5], 7)
    assert score["per_target"][always_happy] == 1.0 and sum(score["per_target"]) == 1.0
    assert score["mean"] == pytest.approx(1 / 7)
