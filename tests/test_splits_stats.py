"""Protocols, pairing and statistics."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from fer_kit import data


def test_subject_split_is_disjoint_and_covers_everything(ck_synth):
    split = data.subject_split(ck_synth, seed=3)
    parts = np.concatenate([split.train, split.val, split.test])
    assert sorted(parts.tolist()) == list(range(len(ck_synth)))
    assert data.subject_overlap(ck_synth, split) == set()
    assert not split.leaky and split.protocol == "subject-holdout"
    for part in (split.val, split.test):  # every class reaches validation and test
        assert (ck_synth.class_counts(part) > 0).all()
    assert split.sizes()["test"] / len(ck_synth) == pytest.approx(0.15, abs=0.06)


def test_subject_kfold_tests_each_image_once(ck_synth):
    folds = data.subject_kfold(ck_synth, k=5, seed=0)
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested.tolist()) == list(range(len(ck_synth)))
    for f in folds:
        assert data.subject_overlap(ck_synth, f) == set()
        assert len(set(f.train) & set(f.val)) == 0


def test_random_split_is_labelled_leaky(ck_synth):
    with pytest.warns(data.LeakWarning, match="three near-identical frames"):
        split = data.random_split(ck_synth, seed=0)
    assert split.leaky and "leaky" in split.protocol and split.describe()["leaky"]
    assert data.subject_overlap(ck_synth, split)  # subjects do cross


def test_leak_report_shows_the_random_split_leak(ck_synth):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data.LeakWarning)
        random = data.random_split(ck_synth, seed=0)
    grouped = data.subject_split(ck_synth, seed=0)
    r, g = data.leak_report(ck_synth, random), data.leak_report(ck_synth, grouped)
    assert g["test_with_sequence_in_train"] == 0 and g["test_with_subject_in_train"] == 0
    assert r["test_with_sequence_in_train"] > 0.5 * r["test_images"]
    assert r["nn_same_sequence"] > 0.5 > g["nn_same_sequence"]
    assert r["nn_accuracy"] > g["nn_accuracy"]  # memorising pays only when sequences leak


def test_pairs_are_same_subject_different_expression_within_indices(ck_synth):
    split = data.subject_split(ck_synth, seed=0)
    pairs = data.make_pairs(ck_synth, split.train)
    assert len(pairs) > len(split.train)
    src, tgt = pairs[:, 0], pairs[:, 1]
    assert (ck_synth.subjects[src] == ck_synth.subjects[tgt]).all()
    assert (ck_synth.labels[src] != ck_synth.labels[tgt]).all()
    assert set(pairs.ravel()) <= set(split.train)
    # every ordered pair of a subject's differently-labelled images is there
    s = ck_synth.subjects[split.train[0]]
    members = np.intersect1d(ck_synth.where(subject=s), split.train)
    labels = ck_synth.labels[members]
    expected = int((labels[:, None] != labels[None, :]).sum())
    assert int((ck_synth.subjects[src] == s).sum()) == expected


def test_subject_protocols_refuse_sets_without_subjects():
    imgs = np.zeros((4, 48, 48), np.uint8)
    s = np.array([""] * 4)
    faces = data.FaceSet(imgs, np.array([0, 1, 0, 1]), ("a", "b"), s, np.array(["Training"] * 4), s, "x")
    with pytest.raises(data.DataError, match="subject id"):
        data.subject_split(faces)
    with pytest.raises(data.DataError, match="subject id"):
        data.make_pairs(faces)


def test_counts_imbalance_and_subject_matrix(ck_synth):
    counts = data.class_counts(ck_synth)
    assert counts["all"].tolist() == ck_synth.class_counts().tolist()
    imb = data.imbalance(ck_synth)
    assert (imb["largest"], imb["smallest"]) == ("surprise", "contempt")
    assert imb["ratio"] == pytest.approx(249 / 54)
    m = data.subject_expression_matrix(ck_synth)
    assert m.to_numpy().sum() == len(ck_synth) and list(m.columns) == list(ck_synth.class_names)
    assert ((m > 0).sum(axis=1) >= 2).mean() > 0.8  # most subjects show several expressions


def test_duplicates_across_splits_exact_and_near():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (6, 48, 48)).astype(np.uint8)
    base = np.stack([np.clip(b.astype(int), 0, 255) for b in base]).astype(np.uint8)
    near = np.clip(base[1].astype(int) + 3, 0, 255).astype(np.uint8)  # a brightened copy
    images = np.stack([base[0], base[0], base[1], near, base[2], base[2], base[3]])
    splits = np.array(["Training", "PublicTest", "Training", "PrivateTest", "Training", "Training", "PublicTest"])
    labels = np.array([0, 1, 2, 2, 3, 3, 0])
    s = np.array([""] * 7)
    faces = data.FaceSet(images, labels, ("a", "b", "c", "d"), s, splits, np.array([f"f{i}" for i in range(7)]), "t")
    dups = data.find_duplicates(faces)
    got = {(r.i, r.j, r.kind) for r in dups.itertuples()}
    assert got == {(0, 1, "exact"), (2, 3, "near")}  # 4/5 are duplicates within one split: not a leak
    summary = data.duplicate_summary(dups)
    assert summary.label_conflicts.sum() == 1  # images 0 and 1 disagree on the label
    within = data.find_duplicates(faces, cross_split_only=False)
    assert (4, 5, "exact") in {(r.i, r.j, r.kind) for r in within.itertuples()}


def test_random_kfold_is_leaky_and_partitions(ck_synth):
    with pytest.warns(data.LeakWarning):
        folds = data.random_kfold(ck_synth, k=4, seed=0)
    assert sorted(np.concatenate([f.test for f in folds]).tolist()) == list(range(len(ck_synth)))
    assert all(f.leaky and not set(f.train) & (set(f.val) | set(f.test)) for f in folds)


def test_default_split_is_leak_free(ck_synth):
    assert data.default_split(ck_synth).protocol == "subject-holdout"
    imgs = np.zeros((6, 48, 48), np.uint8)
    s = np.array([""] * 6)
    splits = np.array(["Training"] * 4 + ["PublicTest", "PrivateTest"])
    fer = data.FaceSet(imgs, np.array([0, 1, 0, 1, 0, 1]), ("a", "b"), s, splits, s, "fer")
    assert data.default_split(fer).protocol == "fer2013-official"
