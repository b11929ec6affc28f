"""How good are the generated faces? Per-class measures for the cGAN's images.

* **Expression score** — accuracy of an independently trained classifier (the *judge*) on
  ``G(x, y)`` for the target labels ``y``. The judge is trained with random blur so that it scores
  the expression and not the sharpness of an image.
* **Identity preservation** — on held-out subjects, ``G(x, y)`` against the real image of that
  subject with expression ``y``: L1 (pixels in [0, 1]) and SSIM.
* **FID / KID** — Fréchet and kernel distances between real and generated images of a class in
  the feature space of the judge's penultimate layer (a FER classifier, *not* InceptionV3, so the
  values are not comparable to published FIDs); InceptionV3 ImageNet features as an option when
  its weights can be loaded (:func:`inception_features`).
* **Diversity** — mean pairwise L1 between generated images of one class, beside the same figure
  for the real images of that class.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from fer_kit.classify import WeightsUnavailable
from fer_kit.data import FaceSet, Split, make_pairs


def train_judge(faces: FaceSet, split: Split, *, epochs: int = 40, seed: int = 0, blur: float = 1.6, verbose: int = 0):
    """The independent expression classifier (a ``ClassifierResult``; ``.predict`` gives probabilities).

    Train it on data the generator never saw (for the synthetic set: another seed of the balanced
    profile). Random blur makes it judge the expression rather than the sharpness; the geometric
    transforms of traditional augmentation are left out (with them it learned more slowly).
    """
    from fer_kit.classify import train_baseline

    return train_baseline(faces, split, epochs=epochs, batch_size=32, seed=seed, blur=blur, verbose=verbose)


def synthetic_judge(seed: int = 1, scale: float = 2.0, epochs: int = 40, verbose: int = 0):
    """The judge for generators trained on the embedded synthetic set: :func:`train_judge` on another
    draw (``seed``) of the balanced synthetic profile, so it has never seen the generator's subjects
    and every class is equally represented."""
    from fer_kit import data

    faces = data.load("synthetic-balanced", seed=seed, scale=scale, progress=False)
    return train_judge(faces, data.subject_split(faces, seed=seed), epochs=epochs, seed=seed, verbose=verbose)


def expression_score(model, classify, sources: np.ndarray, n_classes: int) -> dict:
    """How often the judge labels G(x, y) as y, per target and averaged.

    ``model`` has ``translate(uint8 faces, labels)``; ``classify`` maps uint8 N×48×48 faces to class
    probabilities (e.g. ``train_judge(...).predict``); ``sources`` should be faces the generator
    never trained on.
    """
    per_target = []
    for y in range(n_classes):
        fakes = model.translate(sources, np.full(len(sources), y))
        per_target.append(float(np.mean(np.argmax(classify(fakes), axis=1) == y)))
    return {"mean": float(np.mean(per_target)), "per_target": per_target}


def identity_preservation(model, faces: FaceSet, indices: np.ndarray, max_pairs: int = 2000, seed: int = 0) -> dict:
    """Per target class: mean L1 and SSIM of G(x, y′) against the real x′ of the same subject.

    Pairs come from ``indices`` (held-out subjects). Returns ``{"l1": [...], "ssim": [...], "pairs": [...]}``
    with NaN for classes without a pair.
    """
    from skimage.metrics import structural_similarity

    pairs = make_pairs(faces, indices)
    if len(pairs) > max_pairs:
        pairs = pairs[np.random.default_rng(seed).choice(len(pairs), max_pairs, replace=False)]
    k = len(faces.class_names)
    out = {"l1": [float("nan")] * k, "ssim": [float("nan")] * k, "pairs": [0] * k}
    if not len(pairs):
        return out
    targets = faces.labels[pairs[:, 1]]
    fakes = model.translate(faces.images[pairs[:, 0]], targets)
    real = faces.images[pairs[:, 1]]
    l1 = np.abs(fakes.astype(np.float32) - real.astype(np.float32)).mean(axis=(1, 2)) / 255.0
    ssim = np.array([structural_similarity(a, b, data_range=255) for a, b in zip(fakes, real)])
    for c in range(k):
        sel = targets == c
        if sel.any():
            out["l1"][c], out["ssim"][c] = float(l1[sel].mean()), float(ssim[sel].mean())
            out["pairs"][c] = int(sel.sum())
    return out


# ------------------------------------------------------------------ feature distances
def penultimate(classifier):
    """A function uint8 faces → the classifier's penultimate features (its global-pooling output)."""
    import keras

    from fer_kit.classify import to_model_input

    model = getattr(classifier, "model", classifier)
    pool = [layer for layer in model.layers if isinstance(layer, keras.layers.GlobalAveragePooling2D)]
    if not pool:
        raise ValueError(f"{model.name} has no global-pooling layer to take features from")
    features = keras.Model(model.inputs, pool[-1].output)
    return lambda images_u8: features.predict(to_model_input(images_u8), batch_size=256, verbose=0)


def inception_features(weights: str | os.PathLike | None = "imagenet", size: int = 75):
    """A function uint8 faces → 2048-d InceptionV3 features (faces resized to ``size``, gray → RGB).

    ``weights``: ``"imagenet"`` (downloaded once by Keras into ``~/.keras/models``), a local
    ``.h5``/``.weights.h5`` file, or None (random weights, for tests). Raises
    :class:`WeightsUnavailable` with what to do when the weights cannot be had.
    """
    import keras
    import tensorflow as tf

    try:
        net = keras.applications.InceptionV3(include_top=False, pooling="avg", input_shape=(size, size, 3),
                                             weights=None if weights is None else str(weights))
    except Exception as err:  # noqa: BLE001 — URL, HTTP, file and format errors all mean the same here
        raise WeightsUnavailable(
            f"InceptionV3 weights {weights!r} could not be loaded ({type(err).__name__}: {err}). Offline? Download "
            "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5 on a connected machine into ~/.keras/models/, "
            "or pass weights=PATH; the FER-feature FID (quality.penultimate) needs no download.") from err

    def features(images_u8: np.ndarray) -> np.ndarray:
        x = tf.image.resize(np.asarray(images_u8, np.float32)[..., None], (size, size))
        x = tf.repeat(x, 3, axis=-1) / 127.5 - 1.0  # InceptionV3's own scaling
        return net.predict(x, batch_size=128, verbose=0)

    return features


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FID between two feature samples: |μa − μb|² + Tr(Σa + Σb − 2 (Σa Σb)^½)."""
    from scipy import linalg

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    mu = a.mean(0) - b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # with fewer samples than dimensions Σ is singular; sqrtm still answers
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(ca @ cb)
    return float(mu @ mu + np.trace(ca + cb - 2 * np.real(root)))


def kernel_distance(a: np.ndarray, b: np.ndarray, subsets: int = 20, subset_size: int = 100, seed: int = 0) -> float:
    """KID: unbiased MMD² with the cubic polynomial kernel (x·y/d + 1)³, averaged over random subsets."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    m = min(subset_size, len(a), len(b))
    if m < 2:
        return float("nan")
    d = a.shape[1]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x, y = a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)]
        kxx, kyy, kxy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
        values.append((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                      - 2 * kxy.mean())
    return float(np.mean(values))


def diversity(images_u8: np.ndarray, max_images: int = 200, seed: int = 0) -> float:
    """Mean pairwise L1 (pixels in [0, 1]) between images: 0 when they are all the same."""
    x = np.asarray(images_u8, np.float32).reshape(len(images_u8), -1) / 255.0
    if len(x) < 2:
        return float("nan")
    if len(x) > max_images:
        x = x[np.random.default_rng(seed).choice(len(x), max_images, replace=False)]
    total = sum(np.abs(x[i + 1:] - x[i]).mean(axis=1).sum() for i in range(len(x) - 1))
    return float(total / (len(x) * (len(x) - 1) / 2))


# ------------------------------------------------------------------ the table
def quality_table(model, judge, faces: FaceSet, split: Split, *, part: str = "test", features=None, seed: int = 0):
    """Per-class quality of ``model``'s images from the ``part`` split's faces (held-out by default).

    For class *c*, the generated images are G(x, c) for every held-out face ``x`` of another
    expression; the real reference is the held-out faces of class *c*. ``features`` (default: the
    judge's penultimate layer) feeds FID and KID. Returns a pandas DataFrame with one row per class
    and a final "all" row (means over classes).
    """
    import pandas as pd

    idx = np.asarray(getattr(split, part), dtype=np.int64)
    features = features or penultimate(judge)
    k = len(faces.class_names)
    ident = identity_preservation(model, faces, idx, seed=seed) if faces.has_subjects else None
    rows = []
    for c, name in enumerate(faces.class_names):
        src = idx[faces.labels[idx] != c]
        real = faces.images[idx[faces.labels[idx] == c]]
        fakes = model.translate(faces.images[src], np.full(len(src), c))
        f_fake, f_real = features(fakes), features(real) if len(real) else np.zeros((0, 1))
        rows.append({
            "class": name,
            "expression score": float(np.mean(judge.predict(fakes).argmax(1) == c)) if len(fakes) else float("nan"),
            "L1 to real x′": ident["l1"][c] if ident else float("nan"),
            "SSIM to real x′": ident["ssim"][c] if ident else float("nan"),
            "FID (judge features)": frechet_distance(f_fake, f_real),
            "KID (judge features)": kernel_distance(f_fake, f_real, seed=seed),
            "diversity generated": diversity(fakes, seed=seed),
            "diversity real": diversity(real, seed=seed),
            "generated": len(fakes), "real": len(real),
        })
    table = pd.DataFrame(rows).set_index("class").astype(float)
    table.loc["all"] = table.mean(numeric_only=True)
    table.loc["all", ["generated", "real"]] = table.iloc[:k][["generated", "real"]].sum().values
    return table.astype({"generated": int, "real": int})
