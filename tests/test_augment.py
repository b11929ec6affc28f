"""Augmentation: plans, sources, the written folder, leak checks, traditional transforms."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from fer_kit import augment, data, gan
from fer_kit.data import LeakError
from fer_kit.gan_training import CGAN, train_cgan

TINY = gan.GANConfig(filters=8, depth=2, feature_dim=8, z_dim=2, d1_filters=8, d2_units=8)


@pytest.fixture(scope="module")
def setup(ck_synth):
    split = data.subject_split(ck_synth, seed=0)
    model = CGAN(TINY, seed=0)
    model.compile()
    return ck_synth, split, model


def test_balance_plan_targets():
    counts = np.array([10, 4, 7])
    assert augment.balance_plan(counts).tolist() == [0, 6, 3]
    assert augment.balance_plan(counts, 0.5).tolist() == [0, 1, 0]
    assert augment.balance_plan(counts, 12).tolist() == [2, 8, 5]
    for bad in ("min", 0.0, 1.5, -3, True):
        with pytest.raises(ValueError, match="target must be"):
            augment.balance_plan(counts, bad)


def test_sources_come_from_other_expressions_of_training_subjects(setup):
    faces, split, _ = setup
    plan = augment.balance_plan(faces.class_counts(split.train))
    sources, targets = augment.choose_sources(faces, split, plan, seed=3)
    assert np.bincount(targets, minlength=7).tolist() == plan.tolist()
    assert np.isin(sources, split.train).all()
    assert (faces.labels[sources] != targets).all()
    # spread over subjects: the contempt images (the largest request) come from many training subjects
    contempt = faces.class_index("contempt")
    used = np.unique(faces.subjects[sources[targets == contempt]])
    assert len(used) >= min(plan[contempt], len(np.unique(faces.subjects[split.train]))) * 0.8


def test_gan_balance_equalises_classes_and_round_trips(setup, tmp_path):
    faces, split, model = setup
    out = augment.gan_balance(model, faces, split, tmp_path / "gan", seed=1, progress=False)
    before = faces.class_counts(split.train)
    after = before + out.faces.class_counts()
    assert len(set(after.tolist())) == 1 and after[0] == before.max()
    rows = list(csv.DictReader(open(tmp_path / "gan" / "manifest.csv")))
    assert len(rows) == len(out.faces) == (before.max() - before).sum()
    assert {r["method"] for r in rows} == {"gan"} and all(r["source_file"] for r in rows)
    again = augment.load_augmented(tmp_path / "gan")
    np.testing.assert_array_equal(again.faces.images, out.faces.images)
    np.testing.assert_array_equal(again.faces.labels, out.faces.labels)
    # the same seed regenerates the same images
    twice = augment.gan_balance(model, faces, split, tmp_path / "gan2", seed=1, progress=False)
    np.testing.assert_array_equal(twice.faces.images, out.faces.images)
    both, grown = augment.with_extra_training(faces, split, again.faces)
    assert len(set(both.class_counts(grown.train).tolist())) == 1
    np.testing.assert_array_equal(grown.test, split.test)


def test_ratio_target_is_met_exactly(setup, tmp_path):
    faces, split, model = setup
    out = augment.gan_balance(model, faces, split, tmp_path / "half", target=0.5, progress=False)
    before = faces.class_counts(split.train)
    goal = int(np.ceil(0.5 * before.max()))
    assert (before + out.faces.class_counts() == np.maximum(before, goal)).all()


def test_sources_outside_training_are_refused(setup):
    faces, split, _ = setup
    with pytest.raises(LeakError, match="test split"):
        augment.check_training_only(split, np.r_[split.train[:3], split.test[:2]])
    with pytest.raises(LeakError, match="val split"):
        augment.check_training_only(split, split.val[:1])


def test_generator_trained_on_test_subjects_is_refused(setup, tmp_path):
    faces, split, model = setup
    run = tmp_path / "g"
    train_cgan(faces, split, run, cfg=TINY, epochs=1, steps_per_epoch=1, batch_size=8, verbose=0)
    augment.check_generator(run, faces, split)  # its own split: fine
    other = data.subject_split(faces, seed=5)    # another draw: some of its test subjects trained G
    assert np.intersect1d(split.train, other.test).size
    with pytest.raises(LeakError, match=r"the generator trained on \d+ image\(s\) of the (val|test) split"):
        augment.gan_balance(model, faces, other, tmp_path / "x", generator_run=run, progress=False)
    with pytest.raises(LeakError, match="no config.json"):
        augment.check_generator(tmp_path, faces, split)


def test_traditional_expansion_is_count_matched(setup, tmp_path):
    faces, split, _ = setup
    plan = augment.balance_plan(faces.class_counts(split.train))
    out = augment.traditional_expand(faces, split, tmp_path / "trad", seed=0)
    assert out.faces.class_counts().tolist() == plan.tolist()
    src = np.array([int(r["source_index"]) for r in out.manifest])
    assert (faces.labels[src] == out.faces.labels).all() and np.isin(src, split.train).all()
    changed = np.abs(out.faces.images.astype(int) - faces.images[src]).mean(axis=(1, 2))
    assert (changed > 1).mean() > 0.9  # the transforms really change the images


def test_training_dataset_batches_and_augments(ck_synth):
    images, labels = ck_synth.images[:64], ck_synth.labels[:64]
    plain = next(iter(augment.training_dataset(images, labels, batch_size=32, shuffle=False)))
    aug = next(iter(augment.training_dataset(images, labels, batch_size=32, shuffle=False, augment=True)))
    assert plain[0].shape == (32, 48, 48, 1) and float(plain[0].numpy().max()) <= 1.0
    np.testing.assert_allclose(plain[0].numpy()[..., 0] * 255, images[:32], atol=1e-3)
    assert np.abs(aug[0].numpy() - plain[0].numpy()).mean() > 0.01
    assert 0.0 <= float(aug[0].numpy().min()) and float(aug[0].numpy().max()) <= 1.0


def test_random_blur_smooths_some_images(ck_synth):
    x = ck_synth.images[:64, :, :, None].astype("float32") / 255
    out = np.asarray(augment.random_blur(1.6, seed=0)(x))
    assert out.shape == x.shape
    sharp = lambda a: np.abs(np.diff(a, axis=2)).mean(axis=(1, 2, 3))  # noqa: E731
    ratio = sharp(out) / sharp(x)
    assert (ratio < 0.8).sum() > 20 and np.isclose(ratio, 1).sum() > 3  # blurred ones and untouched ones
