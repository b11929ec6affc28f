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
