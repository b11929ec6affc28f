"""Counting what a data set holds: classes, imbalance, subjects × expressions, duplicates."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd

from fer_kit.data.faceset import FaceSet


def class_counts(faces: FaceSet) -> pd.DataFrame:
    """Images per class (rows, in the data set's class order) and per source split (columns) + total."""
    splits = faces.split_names or ("",)
    table = {s or "all": faces.class_counts(faces.where(split=s) if s else None) for s in splits}
    df = pd.DataFrame(table, index=pd.Index(faces.class_names, name="class"))
    if len(splits) > 1:
        df["total"] = df.sum(axis=1)
    return df


def imbalance(faces: FaceSet, indices: np.ndarray | None = None) -> dict:
    """Largest and smallest class and their ratio (the paper's "happy is 16.5× disgust")."""
    counts = faces.class_counts(indices)
    nonzero = np.flatnonzero(counts)
    big, small = int(np.argmax(counts)), int(nonzero[np.argmin(counts[nonzero])])
    return {"largest": faces.class_names[big], "largest_count": int(counts[big]),
            "smallest": faces.class_names[small], "smallest_count": int(counts[small]),
            "ratio": float(counts[big] / counts[small])}


def ratio(faces: FaceSet, a: str, b: str, indices: np.ndarray | None = None) -> float:
    """Count of class ``a`` over count of class ``b``."""
    counts = faces.class_counts(indices)
    return float(counts[faces.class_index(a)] / counts[faces.class_index(b)])


def subject_expression_matrix(faces: FaceSet) -> pd.DataFrame:
    """Images per subject (rows) and expression (columns): what cGAN pairing can draw on."""
    if not faces.has_subjects:
        return pd.DataFrame(columns=list(faces.class_names))
    df = pd.crosstab(pd.Series(faces.subjects, name="subject"),
                     pd.Series(pd.Categorical.from_codes(faces.labels, faces.class_names), name="class"),
                     dropna=False)
    return df.reindex(columns=list(faces.class_names), fill_value=0)


def dhash(images: np.ndarray) -> np.ndarray:
    """64-bit difference hash of each image (robust to small intensity and scale changes)."""
    small = np.stack([cv2.resize(im, (9, 8), interpolation=cv2.INTER_AREA) for im in images]).astype(np.int16)
    bits = (small[:, :, 1:] > small[:, :, :-1]).reshape(len(images), 64)
    return np.packbits(bits, axis=1).view(">u8").ravel()


def _normalised(images: np.ndarray, size: int = 16) -> np.ndarray:
    small = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in images])
    small = small.reshape(len(images), -1).astype(np.float32)
    small -= small.mean(axis=1, keepdims=True)
    return small / (small.std(axis=1, keepdims=True) + 1e-3)


def find_duplicates(faces: FaceSet, *, near_threshold: float = 0.15, cross_split_only: bool = True) -> pd.DataFrame:
    """Pairs of exact and near-duplicate images.

    Exact: identical pixels. Near: the same 64-bit dHash and a mean absolute difference below
    ``near_threshold`` (in standard deviations) between contrast-normalised 16×16 thumbnails.
    With ``cross_split_only`` only pairs in different source splits are kept — the ones that leak.
    """
    n = len(faces)
    columns = ["i", "j", "kind", "split_i", "split_j", "label_i", "label_j", "file_i", "file_j"]
    if n == 0:
        return pd.DataFrame(columns=columns)
    flat = np.ascontiguousarray(faces.images.reshape(n, -1))
    exact_key = np.unique(flat.view(np.dtype((np.void, flat.shape[1]))).ravel(), return_inverse=True)[1]
    hashes = dhash(faces.images)
    rows = []
    for key, kind in ((exact_key, "exact"), (hashes, "near")):
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
        ends = np.r_[starts[1:], n]
        for a, b in zip(starts, ends):
            if b - a < 2:
                continue
            group = order[a:b]
            thumbs = _normalised(faces.images[group]) if kind == "near" else None
            for x in range(len(group)):
                for y in range(x + 1, len(group)):
                    i, j = int(group[x]), int(group[y])
                    if kind == "near":
                        if exact_key[i] == exact_key[j]:
                            continue  # already counted as exact
                        if np.abs(thumbs[x] - thumbs[y]).mean() >= near_threshold:
                            continue
                    if cross_split_only and faces.splits[i] == faces.splits[j]:
                        continue
                    rows.append((i, j, kind, faces.splits[i], faces.splits[j], faces.class_names[faces.labels[i]],
                                 faces.class_names[faces.labels[j]], faces.provenance[i], faces.provenance[j]))
    return pd.DataFrame(rows, columns=columns)


def duplicate_summary(dups: pd.DataFrame) -> pd.DataFrame:
    """Counts of duplicate pairs by kind and split pair, and how many disagree on the label."""
    if dups.empty:
        return pd.DataFrame(columns=["kind", "splits", "pairs", "label_conflicts"])
    d = dups.assign(splits=dups.split_i + " / " + dups.split_j, conflict=dups.label_i != dups.label_j)
    return (d.groupby(["kind", "splits"]).agg(pairs=("i", "size"), label_conflicts=("conflict", "sum"))
            .reset_index())


def intensity_stats(faces: FaceSet) -> pd.DataFrame:
    """Per-image mean brightness and contrast (std), with class and split, for plotting."""
    flat = faces.images.reshape(len(faces), -1).astype(np.float32)
    return pd.DataFrame({"class": np.asarray(faces.class_names)[faces.labels], "split": faces.splits,
                         "mean": flat.mean(axis=1), "contrast": flat.std(axis=1)})


def sequence_ids(faces: FaceSet) -> np.ndarray:
    """``subject_sequence`` for CK+-style file names (``S010_004_...`` → ``S010_004``), else ``""``."""
    from fer_kit.data.readers import CKPLUS_FILE

    out = []
    for p in faces.provenance:
        m = CKPLUS_FILE.match(str(p).replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0])
        out.append(f"{m.group('subject')}_{m.group('sequence')}" if m else "")
    return np.asarray(out, dtype=str)


def leak_report(faces: FaceSet, split) -> dict:
    """How much of ``split.test`` the training part already "knows".

    Counts test images whose sequence (other frames) or subject is in ``split.train``, and the
    accuracy of a 1-nearest-neighbour classifier on raw pixels — a model that can only memorise.
    """
    seqs, train, test = sequence_ids(faces), split.train, split.test
    train_seqs = set(seqs[train]) - {""}
    train_subjects = set(faces.subjects[train]) - {""}
    x_train = faces.images[train].reshape(len(train), -1).astype(np.float32)
    x_test = faces.images[test].reshape(len(test), -1).astype(np.float32)
    d = (x_test**2).sum(1)[:, None] - 2 * x_test @ x_train.T + (x_train**2).sum(1)[None, :]
    nearest = train[np.argmin(d, axis=1)]
    return {
        "protocol": split.protocol,
        "test_images": int(len(test)),
        "test_with_sequence_in_train": int(sum(s in train_seqs for s in seqs[test] if s)),
        "test_with_subject_in_train": int(sum(s in train_subjects for s in faces.subjects[test] if s)),
        "nn_same_sequence": float(np.mean([a != "" and a == b for a, b in zip(seqs[test], seqs[nearest])])),
        "nn_accuracy": float(np.mean(faces.labels[nearest] == faces.labels[test])),
    }
