"""Shared fixtures. Tests use their own cache folder and never the user's data folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FER_KIT_TEST_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """A fresh cache and an empty default data folder for the whole session (and its kernels)."""
    saved = {k: os.environ.get(k) for k in ("FER_KIT_CACHE", "FER_KIT_DATA")}
    os.environ["FER_KIT_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["FER_KIT_DATA"] = str(tmp_path_factory.mktemp("no-data"))
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


# The test command runs two pytest-xdist workers (scripts/test.sh, --dist loadfile): each test module goes
# whole to one worker, so its module and session fixtures run once. The longest modules are handed out first.
LONGEST_FIRST = ("test_notebooks.py", "test_experiment.py", "test_benchmarks.py", "test_devices.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable within a module


@pytest.fixture
def report_figure(request):
    """Record a line of measured figures for the summary at the end of the run (printing from a test is
    lost under pytest-xdist; these travel with the test reports)."""

    def add(text: str) -> None:
        request.node.user_properties.append(("figure", text))

    return add


def pytest_terminal_summary(terminalreporter):
    seen = dict.fromkeys((report.nodeid, value) for reports in terminalreporter.stats.values() for report in reports
                         for key, value in getattr(report, "user_properties", ()) if key == "figure")
    if seen:
        terminalreporter.section("figures measured by the tests")
        for nodeid, text in seen:
            terminalreporter.write_line(f"{nodeid.split('::', 1)[-1]}: {text}")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (a fresh clone has none; CI has ../shared/data)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def ck_synth():
    from fer_kit import data

    return data.load("synthetic", progress=False)


def face(seed: int = 0, size: int = 48) -> np.ndarray:
    """A random-ish uint8 test image (not a face: readers do not care)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size, size), dtype=np.uint8)


def write_png(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path) if mode else Image.fromarray(array).save(path)
    return path


def make_class_tree(root: Path, classes=("anger", "happy"), per_class: int = 3, ckplus_names: bool = True,
                    ext: str = ".png") -> Path:
    for c_i, c in enumerate(classes):
        for k in range(per_class):
            name = f"S{100 + k:03d}_{c_i + 1:03d}_{k + 1:08d}{ext}" if ckplus_names else f"img{k}{ext}"
            write_png(root / c / name, face(c_i * 100 + k))
    return root
