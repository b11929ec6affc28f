"""What every results or run file records: seed, data fingerprint, protocol, versions, git commit."""

from __future__ import annotations

import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("fer_kit", "numpy", "tensorflow", "tensorflow-cpu", "keras", "opencv-python-headless", "scikit-learn")


def git_commit() -> str:
    """The repository's HEAD commit (``+dirty`` when files changed), or ``"unknown"`` outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def versions() -> dict[str, str]:
    """Python, platform and the versions of the packages that shape results."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def run_metadata(faces=None, split=None) -> dict:
    """A dict to store beside any run: data set, fingerprint, protocol, versions, commit, time."""
    meta = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "git_commit": git_commit(),
            "versions": versions()}
    if faces is not None:
        meta |= {"data": faces.name, "data_fingerprint": faces.fingerprint, "data_source": faces.source}
    if split is not None:
        meta["protocol"] = split.describe()
    return meta
