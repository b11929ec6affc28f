"""Where things live and how big a run is: data and cache folders, reduced mode, seeding.

Every notebook reads its scale from a papermill ``parameters`` cell *and* from the environment,
so that a lost cell tag never silently runs a notebook at full scale:

* ``FER_KIT_DATA``    — folder holding ``fer2013/``, ``ckplus48/``, ... (default ``~/fer_kit_data``)
* ``FER_KIT_CACHE``   — folder for decoded arrays and generated data (default ``~/.cache/fer_kit``)
* ``FER_KIT_REDUCED`` — ``1`` forces the reduced (CI-sized) run whatever the parameters say
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np

DATA_ENV = "FER_KIT_DATA"
CACHE_ENV = "FER_KIT_CACHE"
REDUCED_ENV = "FER_KIT_REDUCED"
DEFAULT_DATA_DIR = Path("~/fer_kit_data")
DEFAULT_CACHE_DIR = Path("~/.cache/fer_kit")

_TRUE = {"1", "true", "yes", "on"}


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The data folder: ``path`` if given, else ``$FER_KIT_DATA``, else ``~/fer_kit_data``."""
    chosen = path if path not in (None, "") else os.environ.get(DATA_ENV) or DEFAULT_DATA_DIR
    return Path(chosen).expanduser()


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The cache folder (created on demand): ``path``, else ``$FER_KIT_CACHE``, else ``~/.cache/fer_kit``."""
    chosen = path if path not in (None, "") else os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR
    out = Path(chosen).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    return out


def reduced_mode(param: bool | None = None) -> bool:
    """True when the run should be reduced: the parameter says so *or* ``$FER_KIT_REDUCED`` is set.

    The environment can only make a run smaller, never larger, so CI stays small even when a
    notebook's ``parameters`` tag went missing and papermill could not inject ``REDUCED=True``.
    """
    env = os.environ.get(REDUCED_ENV, "").strip().lower() in _TRUE
    return bool(param) or env


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and (when imported) TensorFlow/Keras; return a NumPy generator."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - legacy global seed for libraries that use it
    os.environ["PYTHONHASHSEED"] = str(seed)
    import sys

    if "keras" in sys.modules or "tensorflow" in sys.modules:
        import keras

        keras.utils.set_random_seed(seed)
    return np.random.default_rng(seed)


def in_colab() -> bool:
    """True inside Google Colab."""
    import sys

    return "google.colab" in sys.modules
