"""Does the trained cGAN make the expression it is asked for? Measured by an independent judge.

These train real models and print their figures into the log. Those marked ``long`` (a 1600-step cGAN
and its judge; 600 steps on real CK+48) take most of an hour on a slow 2-core CPU: CI deselects them,
``python -m pytest -m long`` runs them.
"""

from __future__ import annotations

import numpy as np
import pytest

from fer_kit import data, gan, quality
from fer_kit.gan_training import CGAN, sample_grid, train_cgan

pytestmark = pytest.mark.slow
CHANCE = 1 / 7


def _report(report_figure, label: str, score: dict, class_names) -> None:
    report_figure(f"{label}: expression score {score['mean']:.3f} ("
                  + ", ".join(f"{c} {v:.2f}" for c, v in zip(class_names, score["per_target"])) + ")")


@pytest.fixture(scope="module")
def synthetic_judge():
    """Trained on another draw of the synthetic faces (seed 1): it never saw the generator's subjects."""
    return quality.synthetic_judge(seed=1)


@pytest.fixture(scope="module")
def scores(ck_synth, synthetic_judge, tmp_path_factory):
    """Expression scores on held-out subjects of an untrained and a trained (1600 steps) generator."""
    split = data.subject_split(ck_synth, seed=0)
    held_out = ck_synth.images[split.test]  # subjects the generator never saw
    untrained = CGAN(gan.GANConfig(n_classes=7), seed=0)
    untrained.compile()
    run = train_cgan(ck_synth, split, tmp_path_factory.mktemp("cgan"), epochs=16, steps_per_epoch=100, seed=0,
                     verbose=0)
    real = float(np.mean(synthetic_judge.predict(held_out).argmax(1) == ck_synth.labels[split.test]))
    return {"untrained": quality.expression_score(untrained, synthetic_judge.predict, held_out, 7),
            "trained": quality.expression_score(run.model, synthetic_judge.predict, held_out, 7), "real": real}


@pytest.mark.long
def test_expression_score_separates_trained_from_untrained(scores, synthetic_judge, ck_synth, report_figure):
    """The metric itself: near chance for an untrained generator, far above it after training."""
    _report(report_figure, "untrained generator", scores["untrained"], ck_synth.class_names)
    _report(report_figure, f"trained generator, 1600 steps (judge: {synthetic_judge.accuracy:.3f} on its own test "
            f"faces, {scores['real']:.3f} on the real held-out faces)", scores["trained"], ck_synth.class_names)
    assert synthetic_judge.accuracy >= 0.9 and scores["real"] >= 0.9, "the judge itself is weak"
    assert abs(scores["untrained"]["mean"] - CHANCE) < 0.1
    assert scores["trained"]["mean"] > scores["untrained"]["mean"] + 0.4


@pytest.mark.long
@pytest.mark.xfail(reason="issue 3 target (>= 0.8) not met reliably: three runs of this test gave 0.835, 0.812 "
                          "and 0.752 (seed 0; CPU runs are not bit-reproducible and the judge is retrained)",
                   strict=False)
def test_trained_generator_reaches_the_80_percent_target(scores):
    """The course target: the judge reads the asked-for expression in G(x, y) for at least 80 % of
    held-out sources, averaged over the seven targets (plain L1 reached 0.67-0.78)."""
    assert scores["trained"]["mean"] >= 0.8


@pytest.mark.long
@pytest.mark.realdata
def test_cgan_on_real_ckplus(shared_data, tmp_path, report_figure):
    """≤ 10 minutes of training on the real CK+48 training subjects: a sample grid is written and the
    held-out expression score is well above chance."""
    faces = data.load(shared_data / "ckplus48", progress=False)
    split = data.subject_split(faces, seed=0)
    run = train_cgan(faces, split, tmp_path / "cgan", epochs=6, steps_per_epoch=100, seed=0, verbose=0)
    assert (tmp_path / "cgan" / "samples" / "epoch_0006.png").is_file()
    grid = sample_grid(run.model, faces.images[split.test[:3]], faces.class_names)
    assert grid.shape == (3 * 48, 8 * 48 + 4) and grid.std() > 10  # not a blank image
    judge = quality.train_judge(faces, split, seed=1)
    score = quality.expression_score(run.model, judge.predict, faces.images[split.test], 7)
    _report(report_figure, f"real CK+48, 600 steps (judge accuracy on real held-out faces {judge.accuracy:.3f})", score,
            faces.class_names)
    assert score["mean"] > 2 * CHANCE


def _unpaired_run(faces, split, run_dir):
    run = train_cgan(faces, split, run_dir, epochs=2, steps_per_epoch=10, batch_size=32, seed=0, verbose=0)
    last = run.history[-1]
    assert "g_l1" not in last  # no subject pairs: no paired target x′
    assert {"g_cycle", "g_cls", "d1_cls", "g_identity"} <= set(last)
    assert all(np.isfinite(v) for v in last.values())
    assert (run_dir / "samples" / "epoch_0002.png").is_file()
    return run


@pytest.mark.realdata
def test_unpaired_training_on_real_fer2013(shared_data, tmp_path):
    """FER2013 has no subject ids: training falls back to identity + cycle + auxiliary classifier."""
    faces = data.load(shared_data / "fer2013", progress=False)
    split = data.fer2013_official(faces, missing_private="holdout")
    run = _unpaired_run(faces, split, tmp_path / "fer")
    assert not np.intersect1d(np.load(tmp_path / "fer" / "train_indices.npy"), split.test).size
    assert run.model.cfg.w_l1 == 0 and run.model.cfg.w_cycle > 0 and run.model.cfg.w_cls > 0


def test_unpaired_training_without_subject_ids(ck_synth, tmp_path):
    """The same fallback on the embedded faces with their subject ids removed (as in FER2013)."""
    anonymous = data.FaceSet(ck_synth.images, ck_synth.labels, ck_synth.class_names, np.full(len(ck_synth), ""),
                             np.full(len(ck_synth), ""), ck_synth.provenance, name="anonymous")
    assert not anonymous.has_subjects
    split = data.Split(train=np.arange(800), val=np.arange(800, 900), test=np.arange(900, len(ck_synth)),
                       protocol="first 800 images")
    _unpaired_run(anonymous, split, tmp_path / "anon")
