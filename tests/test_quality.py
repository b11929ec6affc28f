"""Quality measures: known values, and the pieces of the table."""

from __future__ import annotations

import numpy as np
import pytest

from fer_kit import data, quality


class Identity:
    """A 'generator' that returns its source unchanged."""

    def translate(self, images, targets, **_):
        return np.asarray(images).copy()


def test_frechet_distance_known_values():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert quality.frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    shift = np.array([1.0, 2.0, 0.0])
    assert quality.frechet_distance(a, a + shift) == pytest.approx(5.0, rel=1e-6)
    # same mean, variance ×4 in every dimension: Tr(Σa + Σb − 2(ΣaΣb)^½) = 3·(1 + 4 − 4) = 3
    assert quality.frechet_distance(a, 2 * a) == pytest.approx(3.0, rel=0.05)


def test_kernel_distance_separates_distributions():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(500, 8)), rng.normal(size=(500, 8))
    same = quality.kernel_distance(a, b)
    moved = quality.kernel_distance(a, b + 1.0)
    assert abs(same) < 0.05 < moved


def test_diversity():
    img = np.full((10, 48, 48), 100, np.uint8)
    assert quality.diversity(img) == 0.0
    noisy = np.random.default_rng(0).integers(0, 256, (10, 48, 48)).astype(np.uint8)
    assert quality.diversity(noisy) == pytest.approx(1 / 3, rel=0.05)  # E|U − V| for uniform U, V on [0, 1]


def test_identity_preservation_of_a_copying_generator(ck_synth):
    split = data.subject_split(ck_synth, seed=0)
    out = quality.identity_preservation(Identity(), ck_synth, split.test)
    pairs = data.make_pairs(ck_synth, split.test)
    direct = np.abs(ck_synth.images[pairs[:, 0]].astype(float) - ck_synth.images[pairs[:, 1]]).mean() / 255
    weights = np.array(out["pairs"]) / sum(out["pairs"])
    assert sum(out["pairs"]) == len(pairs)
    assert np.nansum(np.array(out["l1"]) * weights) == pytest.approx(direct, rel=1e-5)
    assert all(0 < s < 1 for s in out["ssim"] if not np.isnan(s))


def test_inception_weights_missing_gives_clear_error(tmp_path):
    with pytest.raises(quality.WeightsUnavailable, match="could not be loaded.*weights=PATH"):
        quality.inception_features(tmp_path / "nowhere.weights.h5")


def test_inception_features_from_a_local_weights_file(tmp_path, ck_synth):
    import keras

    net = keras.applications.InceptionV3(include_top=False, pooling="avg", input_shape=(75, 75, 3), weights=None)
    path = tmp_path / "inception.weights.h5"
    net.save_weights(path)
    features = quality.inception_features(path)(ck_synth.images[:4])
    assert features.shape == (4, 2048)
    again = quality.inception_features(path)(ck_synth.images[:4])
    np.testing.assert_allclose(features, again, rtol=1e-5)  # the file, not a fresh random init, was loaded


def test_quality_table_rows_and_columns(ck_synth):
    split = data.subject_split(ck_synth, seed=0)

    class Judge:
        def predict(self, images):
            probs = np.zeros((len(images), 7))
            probs[:, 0] = 1
            return probs

    table = quality.quality_table(Identity(), Judge(), ck_synth, split,
                                  features=lambda im: im.reshape(len(im), -1)[:, ::97].astype(float))
    assert list(table.index) == [*ck_synth.class_names, "all"]
    # the copying generator keeps every source's label, so the always-anger judge is right only for anger
    assert table.loc["anger", "expression score"] == 1.0 and table.loc["happy", "expression score"] == 0.0
    assert table.loc["all", "generated"] == sum(table.loc[c, "generated"] for c in ck_synth.class_names)
    assert table["FID (judge features)"].iloc[:7].notna().all()
