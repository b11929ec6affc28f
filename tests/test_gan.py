"""The cGAN's networks and objectives: shapes, known values, and where each loss's gradients go."""

from __future__ import annotations

import math

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from fer_kit import gan  # noqa: E402

CFG = gan.GANConfig(filters=8, feature_dim=16, z_dim=4, d1_filters=8, d2_units=16, w_cls=1.0, w_cycle=1.0)
B = 4


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(0)
    return gan.build_models(CFG)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (B, 48, 48, 1)).astype("float32")
    x_tgt = rng.uniform(-1, 1, (B, 48, 48, 1)).astype("float32")
    y_src = np.eye(7, dtype="float32")[[0, 1, 2, 3]]
    y_tgt = np.eye(7, dtype="float32")[[4, 5, 6, 0]]
    z = rng.normal(size=(B, 4)).astype("float32")
    return x, y_src, y_tgt, z, x_tgt


def test_shapes_and_ranges(models, batch):
    g, enc, d1, d2 = models
    x, y_src, y_tgt, z, _ = batch
    out = g([x, y_tgt, z]).numpy()
    assert out.shape == (B, 48, 48, 1) and -1 <= out.min() and out.max() <= 1
    f = enc(x)[0].numpy()
    assert f.shape == (B, 16) and np.abs(f).max() <= 1  # bounded f(x), comparable with U(-1, 1)
    patch, cls = d1([x, y_tgt])
    assert patch.shape == (B, 6, 6, 1) and cls.shape == (B, 7)
    assert d2(f).shape == (B, 1)
    assert g.get_layer("encoder") is enc  # D2 judges the generator's own encoder


def test_condition_changes_the_output(models, batch):
    g, *_ = models
    x, _, y_tgt, z, _ = batch
    other = np.roll(y_tgt, 1, axis=1)
    assert np.abs(g([x, y_tgt, z]).numpy() - g([x, other, z]).numpy()).mean() > 1e-4


def test_d1_verdict_depends_on_the_condition_but_its_class_head_does_not(models, batch):
    _, _, d1, _ = models
    x, y_src, y_tgt, _, _ = batch
    patch_a, cls_a = d1([x, y_src])
    patch_b, cls_b = d1([x, y_tgt])
    assert np.abs(patch_a.numpy() - patch_b.numpy()).max() > 1e-6
    assert np.array_equal(cls_a.numpy(), cls_b.numpy())  # the aux head cannot read the answer from y


def test_skip_connections_and_stagewise_condition_are_options():
    plain = gan.build_generator(gan.GANConfig(filters=8, feature_dim=16, skips=False))
    rich = gan.build_generator(gan.GANConfig(filters=8, feature_dim=16, condition_every_stage=True))
    joins = [layer.name for layer in plain.layers if layer.name.endswith("_join")]
    assert joins == []  # nothing bypasses the bottleneck
    assert {"y_tiled_6", "y_tiled_12", "y_tiled_24"} <= {layer.name for layer in rich.layers}
    with pytest.raises(ValueError, match="divisible"):
        gan.GANConfig(image_size=50)


def test_eq1_and_eq2_known_values():
    half = tf.zeros((8, 6, 6, 1))  # logits 0: D = 0.5 everywhere
    assert float(gan.eq1_value(half, half)) == pytest.approx(-math.log(4), abs=1e-6)
    assert float(gan.eq2_value(tf.zeros((8, 1)), tf.zeros((8, 1)))) == pytest.approx(-math.log(4), abs=1e-6)
    assert float(gan.discriminator_loss(half, half)) == pytest.approx(math.log(4), abs=1e-6)
    perfect = float(gan.eq1_value(tf.fill((8, 1), 30.0), tf.fill((8, 1), -30.0)))
    assert perfect == pytest.approx(0.0, abs=1e-6)  # a perfect discriminator attains the maximum 0
    # D(x) = 0.8 on reals, 0.3 on fakes: V = log 0.8 + log 0.7
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    v = float(gan.eq1_value(tf.fill((3, 1), logit(0.8)), tf.fill((3, 1), logit(0.3))))
    assert v == pytest.approx(math.log(0.8) + math.log(0.7), abs=1e-6)


def test_focused_l1_known_values():
    source = tf.constant([[-1.0, -1.0, 0.0, 0.5]])
    target = tf.constant([[1.0, -1.0, 0.0, 0.5]])   # only the first pixel changes, fully (|x′ − x| / 2 = 1)
    generated = tf.constant([[0.0, 0.0, 0.5, 0.5]])  # errors 1, 1, 0.5, 0
    assert float(gan.focused_l1_loss(target, generated, source, 0.0)) == pytest.approx(2.5 / 4)
    assert float(gan.l1_loss(target, generated)) == pytest.approx(2.5 / 4)
    # focus 10: the changed pixel's error weighs 11, the others 1
    assert float(gan.focused_l1_loss(target, generated, source, 10.0)) == pytest.approx((11 + 1 + 0.5) / 4)
    # a generator that copies its source is punished where the expression should have changed
    assert float(gan.focused_l1_loss(target, source, source, 10.0)) == pytest.approx(11 * 2 / 4)


def test_run_configs_saved_before_l1_focus_read_as_plain_l1():
    old = {k: v for k, v in gan.GANConfig().to_dict().items() if k != "l1_focus"}
    assert gan.GANConfig.from_dict(old).l1_focus == 0.0
    assert gan.GANConfig.from_dict(gan.GANConfig(l1_focus=3.0).to_dict()).l1_focus == 3.0


def test_minimax_generator_gradient_vanishes_where_non_saturating_does_not():
    logits = tf.Variable(tf.fill((16, 1), -8.0))  # D confidently rejects the fakes
    grads = {}
    for form in ("minimax", "non-saturating"):
        with tf.GradientTape() as tape:
            loss = gan.generator_adversarial_loss(logits, form)
        grads[form] = float(tf.reduce_sum(tf.abs(tape.gradient(loss, logits))))
    assert grads["minimax"] < 1e-3 < 0.9 < grads["non-saturating"]
    assert float(gan.generator_adversarial_loss(tf.zeros((2, 1)), "minimax")) == pytest.approx(-math.log(2))
    assert float(gan.generator_adversarial_loss(tf.zeros((2, 1)))) == pytest.approx(math.log(2))


def _reached(loss_fn, variables):
    with tf.GradientTape() as tape:
        loss = loss_fn()
    grads = tape.gradient(loss, variables, unconnected_gradients=tf.UnconnectedGradients.NONE)
    return any(g is not None and float(tf.reduce_sum(tf.abs(g))) > 0 for g in grads)


@pytest.mark.parametrize("term, reaches, spares", [
    ("d1_loss", ["d1"], ["encoder", "decoder", "d2"]),
    ("d2_loss", ["d2"], ["encoder", "decoder", "d1"]),
    ("g_adv", ["encoder", "decoder"], ["d2"]),
    ("g_prior", ["encoder"], ["decoder", "d1"]),           # Eq. 2 shapes only the encoder
    ("g_l1", ["encoder", "decoder"], ["d1", "d2"]),
    ("g_identity", ["encoder", "decoder"], ["d1", "d2"]),
    ("g_cycle", ["encoder", "decoder"], ["d2"]),
    ("d1_cls", ["d1"], ["encoder", "decoder", "d2"]),
])
def test_each_loss_reaches_only_its_networks(models, batch, term, reaches, spares):
    g, enc, d1, d2 = models
    x, y_src, y_tgt, z, x_tgt = batch
    enc_ids = {id(v) for v in enc.trainable_variables}
    groups = {"encoder": enc.trainable_variables,
              "decoder": [v for v in g.trainable_variables if id(v) not in enc_ids],
              "d1": d1.trainable_variables, "d2": d2.trainable_variables}

    def loss():
        return gan.compute_losses(g, enc, d1, d2, CFG, x, y_src, y_tgt, z=z, x_tgt=x_tgt)[term]

    for name in reaches:
        assert _reached(loss, groups[name]), f"{term} should reach {name}"
    for name in spares:
        assert not _reached(loss, groups[name]), f"{term} must not reach {name}"


def test_noise_is_drawn_when_not_given(models, batch):
    g, enc, d1, d2 = models
    x, y_src, y_tgt, _, x_tgt = batch
    out = gan.compute_losses(g, enc, d1, d2, CFG, x, y_src, y_tgt, x_tgt=x_tgt, training=False)
    assert np.isfinite(float(out["g_loss"]))


def test_unpaired_mode_has_no_l1_and_uses_source_as_real(models, batch):
    g, enc, d1, d2 = models
    x, y_src, y_tgt, z, _ = batch
    out = gan.compute_losses(g, enc, d1, d2, CFG, x, y_src, y_tgt, z=z, x_tgt=None)
    assert "g_l1" not in out and {"g_cycle", "g_identity", "g_cls"} <= set(out)
    total = (CFG.w_adv * out["g_adv"] + CFG.w_prior * out["g_prior"] + CFG.w_identity * out["g_identity"]
             + CFG.w_cls * out["g_cls"] + CFG.w_cycle * out["g_cycle"])
    assert float(out["g_loss"]) == pytest.approx(float(total), rel=1e-5)
