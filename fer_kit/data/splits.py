"""Evaluation protocols (which images train, select and report) and cGAN pairing.

* FER2013 — the official protocol: train on ``Training``, select on ``PublicTest``, report on
  ``PrivateTest``. When ``PrivateTest`` is absent the caller must choose what to do.
* CK+ — subject-grouped train/val/test and subject-grouped k-fold (the default, leak-free), or
  the paper's stratified random split, which is labelled leaky: the three frames of one sequence
  are near-identical and land on both sides of it.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split

from fer_kit.data.faceset import DataError, FaceSet


class LeakWarning(UserWarning):
    """The protocol lets near-identical images reach both training and evaluation."""


class LeakError(DataError):
    """A step would let validation or test images (or models trained on them) into training."""


@dataclass(frozen=True)
class Split:
    """Index arrays into a FaceSet, with the protocol that produced them."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    protocol: str
    leaky: bool = False
    seed: int | None = None
    fold: int | None = None
    note: str = ""

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}

    def describe(self) -> dict:
        """JSON-friendly summary (no index arrays) for results files."""
        d = asdict(self)
        for part in ("train", "val", "test"):
            d.pop(part)
        return {**d, **self.sizes()}


def _require_subjects(faces: FaceSet) -> None:
    if not faces.has_subjects:
        raise DataError(f"{faces.name}: subject-grouped splits need a subject id for every image "
                        "(FER2013 has none: use fer2013_official)")


def fer2013_official(faces: FaceSet, *, missing_private: str = "raise", val_fraction: float = 0.1,
                     seed: int = 0) -> Split:
    """FER2013's protocol: train ``Training``, select ``PublicTest``, report ``PrivateTest``.

    ``missing_private`` says what to do when ``PrivateTest`` is absent (the shared copy keeps it
    back): ``"raise"`` (default) or ``"holdout"`` — select on a stratified ``val_fraction`` of
    ``Training`` and report ``PublicTest`` once; the protocol name says so.
    """
    parts = {s: faces.where(split=s) for s in ("Training", "PublicTest", "PrivateTest")}
    present = ", ".join(faces.split_names) or "none"
    if not len(parts["Training"]):
        raise DataError(f"{faces.name}: missing split 'Training' (present: {present}); FER2013's protocol "
                        "needs Training, PublicTest and PrivateTest (Usage column or file-name prefix)")
    if len(parts["PublicTest"]) and len(parts["PrivateTest"]):
        return Split(parts["Training"], parts["PublicTest"], parts["PrivateTest"], "fer2013-official", seed=seed)
    if not len(parts["PublicTest"]):
        raise DataError(f"{faces.name}: missing split 'PublicTest' (present: {present})")
    if missing_private != "holdout":
        raise DataError(f"{faces.name}: missing split 'PrivateTest' (present: {present}). Pass "
                        "missing_private='holdout' to select on part of Training and report PublicTest.")
    train, val = train_test_split(parts["Training"], test_size=val_fraction, random_state=seed,
                                  stratify=faces.labels[parts["Training"]])
    return Split(np.sort(train), np.sort(val), parts["PublicTest"], "fer2013-holdout-val-publictest",
                 seed=seed, note=f"PrivateTest absent: selected on {val_fraction:.0%} of Training, "
                 "reported on PublicTest")


def _group_folds(faces: FaceSet, k: int, seed: int, idx: np.ndarray) -> list[np.ndarray]:
    """``k`` subject-disjoint folds of ``idx``, stratified by label as far as subjects allow."""
    n_subjects = len(np.unique(faces.subjects[idx]))
    if n_subjects < k:
        raise DataError(f"{faces.name}: {n_subjects} subjects cannot make {k} subject-disjoint folds")
    sgkf = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class" on tiny sets
        return [idx[test] for _, test in sgkf.split(idx, faces.labels[idx], faces.subjects[idx])]


def subject_split(faces: FaceSet, *, val: float = 0.15, test: float = 0.15, seed: int = 0) -> Split:
    """Subject-disjoint train/val/test, stratified by expression as far as subjects allow."""
    _require_subjects(faces)
    everything = np.arange(len(faces))
    test_folds = _group_folds(faces, max(2, round(1 / test)), seed, everything)
    test_idx = test_folds[0]
    rest = np.setdiff1d(everything, test_idx)
    val_folds = _group_folds(faces, max(2, round((1 - test) / val)), seed + 1, rest)
    val_idx = val_folds[0]
    train_idx = np.setdiff1d(rest, val_idx)
    return Split(train_idx, np.sort(val_idx), np.sort(test_idx), "subject-holdout", seed=seed)


def subject_kfold(faces: FaceSet, k: int = 5, *, val_folds: int = 1, seed: int = 0) -> list[Split]:
    """Subject-grouped k-fold: each fold reports one subject-disjoint part; of the rest,
    ``val_folds`` further subject-disjoint part(s) select and the remainder trains."""
    _require_subjects(faces)
    folds = _group_folds(faces, k, seed, np.arange(len(faces)))
    out = []
    for i, test_idx in enumerate(folds):
        val_idx = np.concatenate([folds[(i + 1 + j) % k] for j in range(val_folds)])
        train_idx = np.setdiff1d(np.arange(len(faces)), np.concatenate([test_idx, val_idx]))
        out.append(Split(train_idx, np.sort(val_idx), np.sort(test_idx), f"subject-{k}fold", seed=seed, fold=i))
    return out


def random_split(faces: FaceSet, *, val: float = 0.1, test: float = 0.2, seed: int = 0) -> Split:
    """The paper's protocol: a stratified random split of images. Leaky — it warns and says so."""
    note = ("images split at random: the three near-identical frames of one CK+ sequence, and every "
            "image of one subject, can be in train and test at once, which inflates accuracy")
    warnings.warn(f"{faces.name}: {note}", LeakWarning, stacklevel=2)
    everything = np.arange(len(faces))
    rest, test_idx = train_test_split(everything, test_size=test, random_state=seed, stratify=faces.labels)
    train_idx, val_idx = train_test_split(rest, test_size=val / (1 - test), random_state=seed + 1,
                                          stratify=faces.labels[rest])
    return Split(np.sort(train_idx), np.sort(val_idx), np.sort(test_idx), "random-stratified (paper, leaky)",
                 leaky=True, seed=seed, note=note)


def random_kfold(faces: FaceSet, k: int = 5, *, seed: int = 0) -> list[Split]:
    """Stratified random k-fold over images (paper-style, leaky); validation is the next fold."""
    warnings.warn(f"{faces.name}: random k-fold splits frames of one sequence across folds", LeakWarning,
                  stacklevel=2)
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    folds = [test for _, test in skf.split(np.zeros(len(faces)), faces.labels)]
    return [Split(np.setdiff1d(np.arange(len(faces)), np.concatenate([f, folds[(i + 1) % k]])),
                  np.sort(folds[(i + 1) % k]), np.sort(f), f"random-{k}fold (paper, leaky)", leaky=True,
                  seed=seed, fold=i) for i, f in enumerate(folds)]


def default_split(faces: FaceSet, *, seed: int = 0) -> Split:
    """Leak-free default: FER2013's official protocol when its splits exist, else subject hold-out."""
    if "Training" in faces.split_names:
        return fer2013_official(faces, missing_private="holdout", seed=seed)
    return subject_split(faces, seed=seed)


def subject_overlap(faces: FaceSet, split: Split) -> set[str]:
    """Subjects that appear in more than one part of ``split`` (empty for a leak-free split)."""
    parts = [set(faces.subjects[p]) - {""} for p in (split.train, split.val, split.test)]
    return (parts[0] & parts[1]) | (parts[0] & parts[2]) | (parts[1] & parts[2])


def make_pairs(faces: FaceSet, indices: np.ndarray | None = None) -> np.ndarray:
    """(source, target) index pairs for the cGAN: same subject, different expressions.

    Only images in ``indices`` (e.g. ``split.train``) are paired, so a generator trained on the
    pairs never sees validation or test faces. Returns an ``(M, 2)`` int64 array.
    """
    _require_subjects(faces)
    idx = np.arange(len(faces)) if indices is None else np.asarray(indices, dtype=np.int64)
    pairs = []
    order = idx[np.argsort(faces.subjects[idx], kind="stable")]
    subjects = faces.subjects[order]
    bounds = np.flatnonzero(np.r_[True, subjects[1:] != subjects[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:]):
        members = order[a:b]
        labels = faces.labels[members]
        diff = labels[:, None] != labels[None, :]
        src, tgt = np.nonzero(diff)
        pairs.append(np.stack([members[src], members[tgt]], axis=1))
    return np.concatenate(pairs).astype(np.int64) if pairs else np.zeros((0, 2), dtype=np.int64)
