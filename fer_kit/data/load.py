"""The one entry point: :func:`load` a data set by name or path, with an on-disk array cache."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from fer_kit import config
from fer_kit.data.faceset import DataError, FaceSet
from fer_kit.data.readers import (
    detect_layout,
    read_ckplus_original,
    read_class_folders,
    read_fer2013_csv,
    read_split_folders,
)

READER_VERSION = 1  # bump when a reader's output changes, to invalidate caches

# Names a user can pass, and where under the data folder each may live.
NAMED_SOURCES: dict[str, tuple[str, ...]] = {
    "fer2013": ("fer2013", "FER2013", "fer2013.zip", "archive.zip", "fer2013.csv"),
    "ckplus48": ("ckplus48", "CK+48", "ck+48", "ckplus48.zip", "CK+48.zip"),
    "ckplus": ("ckplus", "CK+", "cohn-kanade", "ckplus.zip", "CK+.zip"),
}
NAME_ALIASES = {"fer": "fer2013", "ck+48": "ckplus48", "ck48": "ckplus48", "ck+": "ckplus", "ck": "ckplus"}
DOWNLOAD_HINTS = {
    "fer2013": ("the Kaggle data set 'msambare/fer2013' (train/ and test/ image folders; its .zip works "
                "as downloaded), or the challenge file fer2013.csv from the Kaggle competition "
                "'challenges-in-representation-learning-facial-expression-recognition-challenge'"),
    "ckplus48": "the Kaggle data set 'shawon10/ckplus' (its CK+48 folder, or the .zip as downloaded)",
    "ckplus": ("the original CK+ release (cohn-kanade-images/ and Emotion/), which its authors share "
               "after you accept their licence"),
}
SYNTHETIC_PREFIX = "synthetic"


def find_named(name: str, data_dir: str | os.PathLike | None = None) -> Path | None:
    """Where the named data set lives under the data folder, or None."""
    root = config.data_dir(data_dir)
    for candidate in NAMED_SOURCES[name]:
        if (root / candidate).exists():
            return root / candidate
    return None


def _not_found(name: str, data_dir: str | os.PathLike | None) -> DataError:
    root = config.data_dir(data_dir)
    places = ", ".join(str(root / c) for c in NAMED_SOURCES[name])
    if data_dir:
        how = "the data_dir argument"
    elif os.environ.get(config.DATA_ENV):
        how = f"${config.DATA_ENV}"
    else:
        how = f"the default (set ${config.DATA_ENV} to change it)"

    return DataError(
        f"No {name} data found. Looked for: {places}  (data folder {root}, from {how}).\n"
        f"Download {DOWNLOAD_HINTS[name]}, and put it at {root / NAMED_SOURCES[name][0]}.\n"
        "Without the real data, load('synthetic') gives the kit's embedded synthetic faces."
    )


def source_signature(path: Path) -> str:
    """Cheap fingerprint of the source files: relative path, size and mtime of every file."""
    h = hashlib.sha256()
    if path.is_file():
        st = path.stat()
        h.update(f"{path.name}\0{st.st_size}\0{st.st_mtime_ns}".encode())
        return h.hexdigest()
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        rel = os.path.relpath(dirpath, path)
        for fn in sorted(filenames):
            st = os.stat(os.path.join(dirpath, fn))
            h.update(f"{rel}/{fn}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def extract_zip(path: Path) -> Path:
    """Extract a zip once into the cache (keyed by its signature) and return the folder."""
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a zip archive (is the download complete?)")
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if not members:
                raise DataError(f"{path}: the zip is empty")
            bad = [m.filename for m in members if m.filename.startswith("/") or ".." in Path(m.filename).parts]
            if bad:
                raise DataError(f"{path}: refusing unsafe paths in the zip: {bad[:5]}")
            target = config.cache_dir() / "zips" / f"{path.stem}-{source_signature(path)[:16]}"
            if target.is_dir():
                return target
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".extract-"))
            try:
                zf.extractall(tmp)
                os.replace(tmp, target)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{path}: corrupt zip ({exc})") from exc
    return target


def _cache_file(name: str, kind: str, root: Path, options: dict) -> Path:
    key = json.dumps({"v": READER_VERSION, "kind": kind, "options": options}, sort_keys=True)
    digest = hashlib.sha256((key + source_signature(root)).encode()).hexdigest()[:20]
    return config.cache_dir() / "arrays" / f"{name}-{digest}.npz"


def _save(faces: FaceSet, file: Path) -> None:
    """Write atomically: a killed run leaves no half-written cache."""
    file.parent.mkdir(parents=True, exist_ok=True)
    meta = {"class_names": faces.class_names, "name": faces.name, "source": faces.source,
            "notes": faces.notes, "fingerprint": faces.fingerprint}
    fd, tmp = tempfile.mkstemp(dir=file.parent, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, images=faces.images, labels=faces.labels, subjects=faces.subjects,
                     splits=faces.splits, provenance=faces.provenance, meta=np.array(json.dumps(meta)))
        os.replace(tmp, file)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _restore(file: Path) -> FaceSet | None:
    try:
        with np.load(file, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return FaceSet(images=z["images"], labels=z["labels"], class_names=tuple(meta["class_names"]),
                           subjects=z["subjects"], splits=z["splits"], provenance=z["provenance"],
                           name=meta["name"], source=meta["source"], notes=tuple(meta["notes"]),
                           fingerprint=meta["fingerprint"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None  # unreadable cache entry: rebuild it


def load(source: str | os.PathLike = "ckplus48", *, data_dir: str | os.PathLike | None = None,
         class_names: tuple[str, ...] | list[str] | None = None, skip_bad_rows: bool = False,
         cache: bool = True, progress: bool = True, **synthetic_options) -> FaceSet:
    """Load a data set by name or path into a :class:`FaceSet`.

    ``source`` is a name — ``"fer2013"``, ``"ckplus48"``, ``"ckplus"`` (original release, looked
    up under the data folder: ``data_dir``, else ``$FER_KIT_DATA``, else ``~/fer_kit_data``) or
    ``"synthetic"``/``"synthetic-fer2013"`` (the embedded synthetic faces; ``synthetic_options`` go
    to :func:`fer_kit.synth.ensure`) — or a path to a folder, a ``.zip`` or ``fer2013.csv``.
    Decoded arrays are cached, keyed by the source files' sizes and times.
    """
    text = str(source)
    key = NAME_ALIASES.get(text.lower(), text.lower())
    if key.startswith(SYNTHETIC_PREFIX):
        from fer_kit import synth

        profile = key.partition("-")[2] or "ckplus"
        synthetic_options.setdefault("progress", progress)
        path, name = synth.ensure(profile=profile, **synthetic_options), f"synthetic-{profile}"
    elif synthetic_options:
        raise TypeError(f"unexpected options {sorted(synthetic_options)} for a non-synthetic source")
    elif key in NAMED_SOURCES and not Path(text).exists():
        found = find_named(key, data_dir)
        if found is None:
            raise _not_found(key, data_dir)
        path, name = found, key
    else:
        path = Path(text).expanduser()
        if not path.exists():
            raise DataError(f"{path} does not exist (and {text!r} is not one of the names "
                            f"{', '.join([*NAMED_SOURCES, 'synthetic'])})")
        name = path.stem if path.suffix.lower() in (".zip", ".csv") else path.name
    if path.is_file() and path.suffix.lower() == ".zip":
        path = extract_zip(path)
    names = tuple(class_names) if class_names else None
    kind, root = detect_layout(path, names)
    options = {"class_names": names, "skip_bad_rows": skip_bad_rows}
    file = _cache_file(name, kind, root, options) if cache else None
    if file is not None and file.exists():
        restored = _restore(file)
        if restored is not None:
            return restored
    if kind == "fer2013-csv":
        faces = read_fer2013_csv(root, name=name, skip_bad_rows=skip_bad_rows, progress=progress)
    elif kind == "ckplus-original":
        faces = read_ckplus_original(root, name=name, progress=progress)
    elif kind == "split-folders":
        faces = read_split_folders(root, name=name, class_names=names, progress=progress)
    else:
        faces = read_class_folders(root, name=name, class_names=names, progress=progress)
    if file is not None:
        _save(faces, file)
    return faces


def load_or_synthetic(name: str, *, data_dir: str | os.PathLike | None = None, **synthetic_options
                      ) -> tuple[FaceSet, bool]:
    """The real data set ``name`` when it is found, else the synthetic set with the same profile.

    Returns ``(faces, is_real)``; notebooks print which one they got.
    """
    key = NAME_ALIASES.get(name.lower(), name.lower())
    if key in NAMED_SOURCES and find_named(key, data_dir) is not None:
        return load(key, data_dir=data_dir), True
    profile = "fer2013" if key == "fer2013" else "ckplus"
    return load(f"synthetic-{profile}", **synthetic_options), False
