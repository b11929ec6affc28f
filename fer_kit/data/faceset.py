"""The one structure every reader returns, and the fixed class orders.

Class names are canonical (``anger``, ``sadness``, ...) whatever the source calls them
(``angry``, ``sad``, ...). The order is fixed per data set and documented here:

* FER2013: the challenge's ``emotion`` codes 0-6 — anger, disgust, fear, happy, sadness,
  surprise, neutral.
* CK+ (CK+48 and the original release): the CK+ ``Emotion`` codes 1-7 — anger, contempt,
  disgust, fear, happy, sadness, surprise (code 0, neutral, labels no sequence).
* Any other folder tree: the FER2013 or CK+ order when its classes are exactly one of those sets,
  else the canonical order below restricted to the classes present.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from fer_kit.preprocess import IMAGE_SIZE

CANONICAL_CLASSES: tuple[str, ...] = (
    "anger", "contempt", "disgust", "fear", "happy", "neutral", "sadness", "surprise",
)
FER2013_CLASSES: tuple[str, ...] = ("anger", "disgust", "fear", "happy", "sadness", "surprise", "neutral")
CKPLUS_CLASSES: tuple[str, ...] = ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")

ALIASES: dict[str, str] = {
    "angry": "anger", "anger": "anger", "mad": "anger",
    "contempt": "contempt", "contemptuous": "contempt",
    "disgust": "disgust", "disgusted": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy",
    "neutral": "neutral", "calm": "neutral",
    "sad": "sadness", "sadness": "sadness",
    "surprise": "surprise", "surprised": "surprise",
}

FER2013_SPLITS: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")


class DataError(ValueError):
    """Bad or missing input data; the message names the file, row or folder at fault."""


def canonical_class(name: str) -> str | None:
    """Canonical name for a class folder or label (``'Angry'`` -> ``'anger'``), or None if unknown."""
    return ALIASES.get(name.strip().lower())


def class_order(names: Iterable[str]) -> tuple[str, ...]:
    """The documented order for a set of canonical class names."""
    present = set(names)
    for order in (FER2013_CLASSES, CKPLUS_CLASSES):
        if present == set(order):
            return order
    return tuple(c for c in CANONICAL_CLASSES if c in present) + tuple(sorted(present - set(CANONICAL_CLASSES)))


@dataclass(frozen=True)
class FaceSet:
    """Faces of one data set: N×48×48 uint8 images with labels and per-image metadata.

    ``subjects`` is ``""`` where the source has no subject ids (FER2013); ``splits`` holds the
    source's own split (``Training``/``PublicTest``/``PrivateTest``, ``train``/``test``) or ``""``
    when the source has none (CK+); ``provenance`` names each image's file (and row for CSVs).
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    subjects: np.ndarray
    splits: np.ndarray
    provenance: np.ndarray
    name: str
    source: str = ""
    notes: tuple[str, ...] = ()
    fingerprint: str = field(default="")

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.dtype != np.uint8 or self.images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise DataError(f"{self.name}: images must be uint8 N×48×48, got {self.images.dtype} "
                            f"{self.images.shape}")
        for attr in ("labels", "subjects", "splits", "provenance"):
            if len(getattr(self, attr)) != n:
                raise DataError(f"{self.name}: {attr} has {len(getattr(self, attr))} entries for {n} images")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise DataError(f"{self.name}: labels outside 0..{len(self.class_names) - 1}")
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", content_fingerprint(self))

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        parts = ", ".join(f"{c}={n}" for c, n in zip(self.class_names, self.class_counts()))
        splits = ",".join(self.split_names) or "-"
        return (f"FaceSet({self.name!r}, {len(self)} images, {self.n_subjects} subjects, "
                f"splits={splits}, {parts}, fingerprint={self.fingerprint})")

    @property
    def has_subjects(self) -> bool:
        return bool(len(self)) and bool(np.all(self.subjects != ""))

    @property
    def n_subjects(self) -> int:
        return int(len(np.unique(self.subjects[self.subjects != ""])))

    @property
    def split_names(self) -> tuple[str, ...]:
        """Source splits present, in their natural order."""
        present = {str(s) for s in np.unique(self.splits) if s}
        known = [s for s in (*FER2013_SPLITS, "train", "val", "test") if s in present]
        return tuple(known + sorted(present - set(known)))

    def class_counts(self, indices: np.ndarray | None = None) -> np.ndarray:
        labels = self.labels if indices is None else self.labels[indices]
        return np.bincount(labels, minlength=len(self.class_names))

    def class_index(self, name: str) -> int:
        canon = canonical_class(name) or name
        if canon not in self.class_names:
            raise KeyError(f"{name!r} is not a class of {self.name}: {', '.join(self.class_names)}")
        return self.class_names.index(canon)

    def where(self, *, label: int | str | None = None, subject: str | None = None,
              split: str | None = None) -> np.ndarray:
        """Indices of the images matching every given filter."""
        mask = np.ones(len(self), dtype=bool)
        if label is not None:
            mask &= self.labels == (self.class_index(label) if isinstance(label, str) else label)
        if subject is not None:
            mask &= self.subjects == subject
        if split is not None:
            mask &= self.splits == split
        return np.flatnonzero(mask)

    def subset(self, indices: Sequence[int] | np.ndarray, name: str | None = None) -> FaceSet:
        """A new FaceSet holding only ``indices`` (order kept)."""
        idx = np.asarray(indices, dtype=np.int64)
        return FaceSet(
            images=self.images[idx], labels=self.labels[idx], class_names=self.class_names,
            subjects=self.subjects[idx], splits=self.splits[idx], provenance=self.provenance[idx],
            name=name or self.name, source=self.source, notes=self.notes,
        )


def content_fingerprint(faces: FaceSet) -> str:
    """SHA-256 (first 16 hex digits) of the pixels, labels, class names, subjects and splits."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(faces.images).tobytes())
    h.update(np.asarray(faces.labels, dtype=np.int64).tobytes())
    h.update("\x1f".join(faces.class_names).encode())
    h.update("\x1f".join(map(str, faces.subjects)).encode())
    h.update("\x1f".join(map(str, faces.splits)).encode())
    return h.hexdigest()[:16]
