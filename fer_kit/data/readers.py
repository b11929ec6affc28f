"""Readers for the layouts users download, each returning a :class:`FaceSet`.

* ``fer2013.csv`` — the Kaggle challenge file (``emotion,pixels,Usage``);
* FER2013 image folders — ``train/``, ``test/`` (one folder per class; ``Usage`` from the
  ``Training_``/``PublicTest_``/``PrivateTest_`` file-name prefix where present);
* CK+48 folders — ``<class>/S010_004_00000017.png`` (subject ``S010``);
* the original CK+ release — ``cohn-kanade-images/`` + ``Emotion/``: the last three frames of each
  labelled sequence, face-cropped with OpenCV's Haar cascade to 48×48 gray, as CK+48 was made;
* any folder-per-class tree.

Images that need converting (RGB/RGBA/palette, 16-bit) or resizing are converted and counted in
one warning per load; unreadable files, bad CSV rows and unknown class folders raise
:class:`DataError` naming every file or row at fault.
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from fer_kit.data.faceset import (
    CANONICAL_CLASSES,
    CKPLUS_CLASSES,
    FER2013_CLASSES,
    FER2013_SPLITS,
    IMAGE_SIZE,
    DataError,
    FaceSet,
    canonical_class,
    class_order,
)
from fer_kit.preprocess import crop_largest_face, resize_face, to_gray_uint8

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".pgm"})
CKPLUS_FILE = re.compile(r"^(?P<subject>[A-Za-z]\d+)_(?P<sequence>\d+)_(?P<frame>\d+)$")
USAGE_PREFIX = re.compile(r"^(Training|PublicTest|PrivateTest)_", re.IGNORECASE)
SPLIT_FOLDERS = {
    "train": "train", "training": "train", "test": "test", "val": "val", "valid": "val",
    "validation": "val", "publictest": "PublicTest", "privatetest": "PrivateTest",
}
MAX_LISTED = 10


class DataWarning(UserWarning):
    """Input that was accepted after a conversion (colour, bit depth, size) or with a caveat."""


def _listing(items: list[str], total: int | None = None) -> str:
    total = len(items) if total is None else total
    shown = "\n  ".join(items[:MAX_LISTED])
    more = f"\n  ... and {total - MAX_LISTED} more" if total > MAX_LISTED else ""
    return f"\n  {shown}{more}"


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def visible_dirs(root: Path) -> list[Path]:
    return sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith((".", "__")))


# ---------------------------------------------------------------- decoding one image
@dataclass
class Decoded:
    image: np.ndarray | None
    conversion: str | None = None
    original_size: tuple[int, int] | None = None  # (w, h) when it was resized
    error: str | None = None


def decode_full(path: Path) -> Decoded:
    """Read one image file as uint8 gray at full resolution; report (not raise) any failure."""
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif mode in ("1", "CMYK", "YCbCr", "LAB", "HSV"):
                im = im.convert("RGB" if mode != "1" else "L")
            arr = np.asarray(im)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        return Decoded(None, error=f"{path}: unreadable or truncated image ({exc})")
    if arr.size == 0:
        return Decoded(None, error=f"{path}: image has no pixels")
    gray, conversion = to_gray_uint8(arr)
    return Decoded(gray, "palette→gray" if mode == "P" else conversion)


def decode_image(path: Path) -> Decoded:
    """Read one image file as 48×48 uint8 gray, resizing (and recording the original size) if needed."""
    dec = decode_full(path)
    if dec.image is None or dec.image.shape == (IMAGE_SIZE, IMAGE_SIZE):
        return dec
    h, w = dec.image.shape
    return Decoded(resize_face(dec.image), dec.conversion, (w, h))


def decode_many(paths: list[Path], desc: str, progress: bool = True) -> list[Decoded]:
    """Decode images in parallel threads, in order, with a progress bar."""
    workers = min(8, (os.cpu_count() or 2) * 2)
    with ThreadPoolExecutor(workers) as pool:
        it = pool.map(decode_image, paths, chunksize=64)
        return list(tqdm(it, total=len(paths), desc=desc, unit="img", disable=not progress, leave=False))


# ---------------------------------------------------------------- assembling a FaceSet
@dataclass
class FaceSetBuilder:
    """Collects images and metadata, then checks and stacks them into one FaceSet."""

    name: str
    source: str
    images: list[np.ndarray] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    splits: list[str] = field(default_factory=list)
    provenance: list[str] = field(default_factory=list)
    conversions: Counter = field(default_factory=Counter)
    resized: Counter = field(default_factory=Counter)
    first_example: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, image: np.ndarray, label: int, subject: str, split: str, provenance: str) -> None:
        self.images.append(image)
        self.labels.append(label)
        self.subjects.append(subject)
        self.splits.append(split)
        self.provenance.append(provenance)

    def add_decoded(self, dec: Decoded, label: int, subject: str, split: str, provenance: str) -> None:
        if dec.error:
            self.errors.append(dec.error)
            return
        if dec.conversion:
            self.conversions[dec.conversion] += 1
            self.first_example.setdefault(dec.conversion, provenance)
        if dec.original_size:
            key = f"{dec.original_size[0]}×{dec.original_size[1]}"
            self.resized[key] += 1
            self.first_example.setdefault("resize", provenance)
        self.add(dec.image, label, subject, split, provenance)

    def build(self, class_names: tuple[str, ...]) -> FaceSet:
        if self.errors:
            raise DataError(f"{self.name}: {len(self.errors)} image(s) could not be read "
                            f"(nothing was cached):{_listing(self.errors)}")
        if not self.images:
            raise DataError(f"{self.source}: no images found")
        changes = [f"{n} converted {kind} (first: {self.first_example[kind]})"
                   for kind, n in sorted(self.conversions.items())]
        if self.resized:
            sizes = ", ".join(f"{n} of {size}" for size, n in self.resized.most_common())
            changes.append(f"{sum(self.resized.values())} resized to {IMAGE_SIZE}×{IMAGE_SIZE} ({sizes}; "
                           f"first: {self.first_example['resize']})")
        notes = list(self.notes)
        if changes:
            msg = f"{self.name}: " + "; ".join(changes)
            notes.append(msg)
            warnings.warn(msg, DataWarning, stacklevel=3)
        return FaceSet(
            images=np.stack(self.images).astype(np.uint8, copy=False),
            labels=np.asarray(self.labels, dtype=np.int64),
            class_names=tuple(class_names),
            subjects=np.asarray(self.subjects, dtype=str),
            splits=np.asarray(self.splits, dtype=str),
            provenance=np.asarray(self.provenance, dtype=str),
            name=self.name,
            source=self.source,
            notes=tuple(notes),
        )


# ---------------------------------------------------------------- fer2013.csv
def _check_csv_row(row: list[str], cols: tuple[int, int, int | None], line: int,
                   n_classes: int) -> tuple[int, np.ndarray, str] | str:
    """Parse one CSV row; return (label, 48×48 image, usage) or a message saying what is wrong."""
    ei, pi, ui = cols
    if len(row) <= max(c for c in cols if c is not None):
        return f"line {line}: {len(row)} field(s), expected emotion, pixels and Usage"
    raw_label = row[ei].strip()
    try:
        label = int(raw_label)
    except ValueError:
        return f"line {line}: emotion {raw_label!r} is not an integer 0-{n_classes - 1}"
    if not 0 <= label < n_classes:
        return f"line {line}: emotion {label} is outside 0-{n_classes - 1}"
    tokens = row[pi].split()
    if len(tokens) != IMAGE_SIZE * IMAGE_SIZE:
        return f"line {line}: {len(tokens)} pixel values, expected {IMAGE_SIZE * IMAGE_SIZE} (48×48)"
    try:
        pixels = np.array(tokens, dtype=np.int64)
    except ValueError:
        bad = next(i for i, t in enumerate(tokens) if not t.lstrip("-").isdigit())
        return f"line {line}: pixel {bad} is {tokens[bad]!r}, expected an integer 0-255"
    if pixels.min() < 0 or pixels.max() > 255:
        bad = int(np.flatnonzero((pixels < 0) | (pixels > 255))[0])
        return f"line {line}: pixel {bad} is {pixels[bad]}, expected an integer 0-255"
    usage = row[ui].strip() if ui is not None else ""
    if ui is not None and usage not in FER2013_SPLITS:
        return f"line {line}: Usage {usage!r} is not one of {', '.join(FER2013_SPLITS)}"
    return label, pixels.astype(np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE), usage


def read_fer2013_csv(path: Path, *, name: str = "fer2013", skip_bad_rows: bool = False,
                     progress: bool = True) -> FaceSet:
    """Read the FER2013 challenge CSV. Bad rows raise (all listed) unless ``skip_bad_rows``."""
    builder = FaceSetBuilder(name, str(path))
    bad: list[str] = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            raise DataError(f"{path}: empty file; expected a header 'emotion,pixels,Usage' and one row per image")
        names = [h.strip().lower() for h in header]
        if "emotion" not in names or "pixels" not in names:
            raise DataError(f"{path}: header {header} lacks the columns 'emotion' and 'pixels' "
                            "(expected FER2013's 'emotion,pixels,Usage')")
        cols = (names.index("emotion"), names.index("pixels"), names.index("usage") if "usage" in names else None)
        for row in tqdm(reader, desc=f"{path.name}", unit="row", disable=not progress, leave=False):
            if not row or all(not c.strip() for c in row):
                continue
            line = reader.line_num
            parsed = _check_csv_row(row, cols, line, len(FER2013_CLASSES))
            if isinstance(parsed, str):
                bad.append(parsed)
                continue
            label, image, usage = parsed
            builder.add(image, label, "", usage, f"{path.name}:{line}")
    if bad and not skip_bad_rows:
        raise DataError(f"{path}: {len(bad)} bad row(s) (nothing was loaded or cached; pass "
                        f"skip_bad_rows=True to drop and count them):{_listing(bad)}")
    if bad:
        msg = f"{name}: skipped {len(bad)} bad row(s) of {path}:{_listing(bad)}"
        builder.notes.append(msg)
        warnings.warn(msg, DataWarning, stacklevel=2)
    if cols[2] is None:
        builder.notes.append(f"{path.name} has no Usage column: no source split")
    return builder.build(FER2013_CLASSES)


# ---------------------------------------------------------------- folder trees
def class_folders(root: Path, class_names: tuple[str, ...] | None = None) -> list[tuple[str, Path]]:
    """(canonical class, folder) for each class folder under ``root``; unknown names raise."""
    found: list[tuple[str, Path]] = []
    unknown: list[str] = []
    for d in visible_dirs(root):
        if class_names is not None:
            canon = d.name if d.name in class_names else canonical_class(d.name)
            if canon not in class_names:
                canon = None
        else:
            canon = canonical_class(d.name)
        if canon is None:
            unknown.append(d.name)
        else:
            found.append((canon, d))
    if unknown:
        expected = ", ".join(class_names or CANONICAL_CLASSES)
        raise DataError(f"{root}: unknown class folder(s) {unknown}; expected expression names ({expected}; "
                        "aliases such as 'angry', 'sad' are fine) or pass class_names=[...]")
    seen: dict[str, str] = {}
    for canon, d in found:
        if canon in seen:
            raise DataError(f"{root}: folders {seen[canon]!r} and {d.name!r} both mean class {canon!r}")
        seen[canon] = d.name
    if not found:
        raise DataError(f"{root}: no class folders (expected one folder per expression)")
    return found


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_image_file(p))


def read_class_folders(root: Path, *, name: str, class_names: tuple[str, ...] | None = None,
                       splits: dict[str, str] | None = None, progress: bool = True) -> FaceSet:
    """Read a folder-per-class tree, or several (``splits`` maps sub-folder -> split name).

    Subjects come from CK+-style names (``S010_004_00000017.png``) when every file has one;
    the split from a ``Training_``/``PublicTest_``/``PrivateTest_`` prefix, else the folder.
    """
    trees = {"": root} if splits is None else {folder: root / folder for folder in splits}
    entries: list[tuple[Path, str, str]] = []  # (file, class, split)
    classes: set[str] = set()
    empty: list[str] = []
    for folder, tree in trees.items():
        for canon, d in class_folders(tree, class_names):
            files = _images_in(d)
            if not files:
                empty.append(str(d))
            classes.add(canon)
            split = splits[folder] if splits else ""
            entries += [(p, canon, split) for p in files]
    if empty:
        raise DataError(f"{root}: {len(empty)} class folder(s) hold no images (.png/.jpg/...); "
                        f"add their images or remove them:{_listing(empty)}")
    order = tuple(class_names) if class_names else class_order(classes)
    matches = [CKPLUS_FILE.match(p.stem) for p, _, _ in entries]
    with_subjects = all(matches)
    builder = FaceSetBuilder(name, str(root))
    decoded = decode_many([p for p, _, _ in entries], desc=name, progress=progress)
    for (path, canon, split), dec, m in zip(entries, decoded, matches):
        usage = USAGE_PREFIX.match(path.name)
        if usage:
            split = next(s for s in FER2013_SPLITS if s.lower() == usage.group(1).lower())
        subject = m.group("subject") if with_subjects else ""
        builder.add_decoded(dec, order.index(canon), subject, split, str(path.relative_to(root)))
    return builder.build(order)


def read_split_folders(root: Path, *, name: str, class_names: tuple[str, ...] | None = None,
                       progress: bool = True) -> FaceSet:
    """Read ``train/``, ``test/`` (and ``val/``...) folders, each a folder-per-class tree."""
    splits = {d.name: SPLIT_FOLDERS[d.name.lower()] for d in visible_dirs(root) if d.name.lower() in SPLIT_FOLDERS}
    return read_class_folders(root, name=name, class_names=class_names, splits=splits, progress=progress)


# ---------------------------------------------------------------- original CK+ release
def read_ckplus_original(root: Path, *, name: str = "ckplus", frames: int = 3, progress: bool = True) -> FaceSet:
    """Read ``cohn-kanade-images/`` + ``Emotion/`` as CK+48 was made: the last ``frames`` frames of
    each labelled sequence, the largest Haar-cascade face cropped to 48×48 gray."""
    images_root, emotion_root = root / "cohn-kanade-images", root / "Emotion"
    label_files = sorted(emotion_root.rglob("*_emotion.txt"))
    if not label_files:
        raise DataError(f"{emotion_root}: no *_emotion.txt label files (expected Emotion/S005/001/"
                        "S005_001_00000011_emotion.txt)")
    builder = FaceSetBuilder(name, str(root))
    no_face: list[str] = []
    for label_file in tqdm(label_files, desc=name, unit="seq", disable=not progress, leave=False):
        text = label_file.read_text().strip()
        try:
            code = int(float(text))
        except ValueError:
            builder.errors.append(f"{label_file}: label {text!r} is not a number 1-7")
            continue
        if not 1 <= code <= len(CKPLUS_CLASSES):
            builder.errors.append(f"{label_file}: emotion code {code} is outside 1-7 (0 = neutral labels no sequence)")
            continue
        seq_dir = images_root / label_file.parent.relative_to(emotion_root)
        frame_files = [p for p in sorted(seq_dir.glob("*")) if is_image_file(p)] if seq_dir.is_dir() else []
        if not frame_files:
            builder.errors.append(f"{label_file}: no frames in {seq_dir}")
            continue
        subject = label_file.parent.parent.name
        for path in frame_files[-frames:]:
            dec = decode_full(path)
            if dec.error:
                builder.errors.append(dec.error)
                continue
            face, found = crop_largest_face(dec.image)
            if not found:
                no_face.append(str(path.relative_to(root)))
            builder.add_decoded(Decoded(face, dec.conversion), code - 1, subject, "",
                                str(path.relative_to(root)))
    if no_face:
        msg = f"{name}: no face found by the Haar cascade in {len(no_face)} frame(s); used a centre crop:" \
              f"{_listing(no_face)}"
        builder.notes.append(msg)
        warnings.warn(msg, DataWarning, stacklevel=2)
    return builder.build(CKPLUS_CLASSES)


# ---------------------------------------------------------------- layout detection
def _fer_csv_in(root: Path) -> Path | None:
    csvs = sorted(root.glob("*.csv"))
    for preferred in ("fer2013.csv", "icml_face_data.csv"):
        for c in csvs:
            if c.name.lower() == preferred:
                return c
    return csvs[0] if len(csvs) == 1 else None


def detect_layout(path: Path, class_names: Iterable[str] | None = None) -> tuple[str, Path]:
    """Which reader fits ``path`` and the folder or file to read. Kinds: ``fer2013-csv``,
    ``split-folders`` (FER2013 images), ``ckplus48``, ``class-folders``, ``ckplus-original``."""
    if path.is_file():
        if path.suffix.lower() == ".csv":
            return "fer2013-csv", path
        raise DataError(f"{path}: not a data set (expected a folder, a .zip or fer2013.csv)")
    if not path.is_dir():
        raise DataError(f"{path} does not exist")
    if (path / "cohn-kanade-images").is_dir() and (path / "Emotion").is_dir():
        return "ckplus-original", path
    dirs = visible_dirs(path)
    names = [d.name for d in dirs]
    if dirs and all(n.lower() in SPLIT_FOLDERS for n in names):
        return "split-folders", path
    known = set(class_names or ())
    if any(canonical_class(n) or n in known for n in names):
        sample = next((p for d in dirs for p in d.iterdir() if is_image_file(p)), None)
        kind = "ckplus48" if sample is not None and CKPLUS_FILE.match(sample.stem) else "class-folders"
        return kind, path
    csv_file = _fer_csv_in(path)
    if csv_file is not None:
        return "fer2013-csv", csv_file
    files = [p.name for p in path.iterdir() if p.is_file() and not p.name.startswith(".")]
    if len(dirs) == 1 and not [f for f in files if is_image_file(Path(f))]:
        return detect_layout(dirs[0], class_names)  # a wrapper folder, as zips often have
    raise DataError(
        f"{path}: no data set layout recognised (folders: {names[:10] or 'none'}; files: {files[:10] or 'none'}). "
        "Expected fer2013.csv, train/ and test/ class folders (Kaggle FER2013), one folder per expression "
        "(CK+48), or cohn-kanade-images/ + Emotion/ (original CK+)."
    )

