"""``python -m fer_kit``."""

from __future__ import annotations

import subprocess
import sys

from conftest import make_class_tree


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "fer_kit", *args], capture_output=True, text=True, timeout=300)


def test_data_info_prints_counts(tmp_path):
    root = make_class_tree(tmp_path / "ck", classes=("anger", "happy", "fear"), per_class=2)
    r = _cli("data", str(root))
    assert r.returncode == 0, r.stderr
    assert "FaceSet('ck', 6 images" in r.stdout and "imbalance: anger / anger = 1.0x" in r.stdout


def test_data_error_exits_2_with_the_message(tmp_path):
    r = _cli("data", "fer2013", "--data-dir", str(tmp_path))
    assert r.returncode == 2
    assert "No fer2013 data found" in r.stderr and "Traceback" not in r.stderr


def test_synth_writes_the_ckplus48_layout(tmp_path):
    r = _cli("synth", str(tmp_path / "s"), "--scale", "0.1")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "s").iterdir() if p.is_dir()) == sorted(
        ["anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"])


def test_gan_train_passes_its_options_to_train_cgan(monkeypatch, tmp_path):
    """``gan-train`` trains the synthetic set's training split with the options given (``--xla`` included)."""
    from fer_kit import cli, gan_training

    seen = {}

    def fake_train(faces, split, run_dir, **kwargs):
        seen.update(faces=faces, split=split, run_dir=run_dir, **kwargs)
        return gan_training.TrainResult(None, run_dir, 0, kwargs["epochs"], [])

    monkeypatch.setattr(gan_training, "train_cgan", fake_train)
    assert cli.main(["gan-train", "synthetic", str(tmp_path / "r"), "--epochs", "3", "--steps", "5", "--xla"]) == 0
    assert seen["jit_compile"] is True and seen["epochs"] == 3 and seen["steps_per_epoch"] == 5
    assert seen["faces"].name.startswith("synthetic") and not set(seen["split"].train) & set(seen["split"].test)
    assert cli.main(["gan-train", "synthetic", str(tmp_path / "r"), "--epochs", "1"]) == 0
    assert seen["jit_compile"] == "auto"  # Keras' default: XLA on a GPU only
