"""The embedded synthetic face set: procedurally drawn 48×48 gray faces with seven expressions.

Why: a fresh clone has no FER2013 or CK+ (their terms forbid redistribution), yet every notebook
and test must run. These faces are drawn, not photographed, but they keep what matters for the
paper's pipeline:

* **identity** — each subject has its own face shape, skin and background tone, eye spacing and
  size, brows, nose, mouth, hair style and (sometimes) glasses, kept across all its images;
* **expression cues** — mouth curve and opening, brow height and inner-brow slant, eye opening,
  nose wrinkle and raised upper lip, the one-sided lip corner of contempt — drawn at a random
  intensity per sequence, so weak expressions are genuinely ambiguous (fear vs surprise,
  anger vs disgust, contempt vs neutral);
* **nuisance** — pose (rotation, scale, shift), lighting gradient, blur and noise: one recording
  set-up per subject, varied a little per sequence and a little more per frame;
* **sequences** — like CK+, each sequence contributes its last ``frames`` frames at rising
  intensity, and each subject shows several expressions, so cGAN pairing works;
* **imbalance** — class counts follow CK+48's or FER2013's profile.

The set is written in the CK+48 layout (``<class>/X001_002_00000003.png``; ``X`` marks synthetic
subjects) so it goes through the same reader as the real data. Same seed, same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from fer_kit import config
from fer_kit.preprocess import IMAGE_SIZE

SYNTH_VERSION = 2  # bump when drawing changes: cached sets are regenerated

# Expression parameters at full intensity. Keys:
# curve (+ smile / - frown), open (mouth opening), width (mouth width change), brow (+ raised /
# - lowered), inner (+ inner brow up, as in sadness and fear / - knit down, as in anger),
# eyes (+ wide / - narrowed), wrinkle (nose), upper (upper lip raise), asym (one lip corner up).
EXPRESSIONS: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"curve": 1.0, "open": 0.35, "width": 0.25, "eyes": -0.35},
    "sadness": {"curve": -0.8, "inner": 0.9, "eyes": -0.3, "width": -0.1},
    "surprise": {"open": 1.2, "width": -0.2, "brow": 1.1, "eyes": 1.0},
    "fear": {"open": 0.55, "width": 0.3, "curve": -0.35, "brow": 0.55, "inner": 0.7, "eyes": 0.8},
    "disgust": {"wrinkle": 1.0, "upper": 0.8, "curve": -0.45, "brow": -0.45, "inner": -0.3, "eyes": -0.55},
    "anger": {"brow": -0.6, "inner": -1.0, "eyes": -0.35, "curve": -0.25, "width": -0.25},
    "contempt": {"asym": 1.0, "curve": 0.1, "eyes": -0.15},
}
PARAMS = ("curve", "open", "width", "brow", "inner", "eyes", "wrinkle", "upper", "asym")

# Class profiles: images per class, frames per sequence, subjects.
PROFILES: dict[str, dict] = {
    "ckplus": {"classes": ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"),
               "counts": (135, 54, 177, 75, 207, 84, 249), "frames": 3, "subjects": 118},
    "fer2013": {"classes": ("anger", "disgust", "fear", "happy", "sadness", "surprise", "neutral"),
                "counts": (3995, 436, 4097, 7215, 4830, 3171, 4965), "frames": 1, "subjects": None,
                "default_scale": 0.1},
    "balanced": {"classes": ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"),
                 "counts": (150,) * 7, "frames": 3, "subjects": 100},
}

R = 4 * IMAGE_SIZE  # drawing canvas: 4× supersampled, then area-downsampled to 48×48


@dataclass(frozen=True)
class Identity:
    """What makes one synthetic subject look like themself."""

    skin: float
    background: float
    bg_gradient: float
    face_w: float
    face_h: float
    jaw: float
    eye_y: float
    eye_dx: float
    eye_r: float
    iris: float
    brow_gap: float
    brow_thick: int
    brow_tone: float
    brow_tilt: float
    nose_len: float
    mouth_y: float
    mouth_w: float
    lip_tone: float
    hair_style: int
    hair_tone: float
    glasses: bool
    rest_curve: float
    rest_brow: float
    expressiveness: float

    @staticmethod
    def sample(rng: np.random.Generator) -> Identity:
        skin = rng.uniform(95, 205)
        bg = rng.uniform(20, 235)
        if abs(bg - skin) < 25:  # keep the face visible against its background
            bg = np.clip(skin + np.sign(rng.normal() or 1) * rng.uniform(25, 70), 10, 245)
        dark_hair = rng.random() < 0.75
        return Identity(
            skin=skin, background=float(bg), bg_gradient=rng.uniform(-40, 40),
            face_w=rng.uniform(0.34, 0.41) * R, face_h=rng.uniform(0.43, 0.49) * R, jaw=rng.uniform(0.75, 1.0),
            eye_y=rng.uniform(0.41, 0.46) * R, eye_dx=rng.uniform(0.15, 0.19) * R, eye_r=rng.uniform(0.048, 0.062) * R,
            iris=rng.uniform(10, 70), brow_gap=rng.uniform(0.07, 0.095) * R, brow_thick=int(rng.integers(6, 11)),
            brow_tone=rng.uniform(0.25, 0.6), brow_tilt=rng.uniform(-0.012, 0.012) * R,
            nose_len=rng.uniform(0.12, 0.16) * R, mouth_y=rng.uniform(0.73, 0.77) * R,
            mouth_w=rng.uniform(0.12, 0.16) * R, lip_tone=rng.uniform(0.5, 0.8),
            hair_style=int(rng.integers(0, 4)), hair_tone=rng.uniform(10, 70) if dark_hair else rng.uniform(150, 225),
            glasses=bool(rng.random() < 0.12), rest_curve=rng.normal(0, 0.1), rest_brow=rng.normal(0, 0.1),
            expressiveness=rng.uniform(0.75, 1.15),
        )


@dataclass(frozen=True)
class Pose:
    """Head pose, lighting and camera of one sequence (its frames differ only slightly)."""

    angle: float
    scale: float
    shift: tuple[float, float]
    light: float
    gain: float
    offset: float
    blur: float
    noise: float

    @staticmethod
    def sample(rng: np.random.Generator) -> Pose:
        return Pose(angle=rng.normal(0, 3), scale=rng.uniform(0.94, 1.06),
                    shift=tuple(rng.normal(0, 0.02 * R, size=2)), light=rng.uniform(-0.25, 0.25),
                    gain=rng.uniform(0.8, 1.15), offset=rng.uniform(-15, 15),
                    blur=rng.uniform(0.4, 0.9) if rng.random() < 0.3 else 0.0, noise=rng.uniform(2, 9))

    def session(self, rng: np.random.Generator) -> Pose:
        """Another sequence of the same subject: same set-up, slightly different head position and light."""
        return replace(self, angle=self.angle + rng.normal(0, 1.0), scale=self.scale * rng.uniform(0.98, 1.02),
                       shift=tuple(np.add(self.shift, rng.normal(0, 0.006 * R, size=2))),
                       light=self.light + rng.normal(0, 0.04), gain=self.gain * rng.uniform(0.96, 1.04),
                       offset=self.offset + rng.normal(0, 3))

    def jitter(self, rng: np.random.Generator) -> Pose:
        """The same sequence one frame later: a small head movement."""
        return replace(self, angle=self.angle + rng.normal(0, 0.7), scale=self.scale * rng.uniform(0.99, 1.01),
                       shift=tuple(np.add(self.shift, rng.normal(0, 0.004 * R, size=2))))


def expression_vector(expression: str, intensity: float, ident: Identity, rng: np.random.Generator) -> dict:
    """Parameters for one image: the class's cues × intensity, the subject's resting face, jitter."""
    base = EXPRESSIONS[expression]
    v = {k: base.get(k, 0.0) * intensity * ident.expressiveness + rng.normal(0, 0.08) for k in PARAMS}
    v["curve"] += ident.rest_curve
    v["brow"] += ident.rest_brow
    for k in ("open", "wrinkle", "upper", "asym"):
        v[k] = max(v[k], 0.0)
    return v


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x * 16)), int(round(y * 16))  # cv2 drawing with 4 fractional bits


def draw_face(ident: Identity, v: dict, pose: Pose, rng: np.random.Generator) -> np.ndarray:
    """Render one 48×48 uint8 face."""
    c = np.full((R, R), ident.background, np.float32)
    c += np.linspace(-1, 1, R, dtype=np.float32)[:, None] * ident.bg_gradient
    sh, aa = 4, cv2.LINE_AA
    cx, cy = R / 2, 0.53 * R
    skin = ident.skin
    # hair behind the head (long) and neck
    if ident.hair_style == 2:
        cv2.ellipse(c, _pt(cx, cy - 0.02 * R), _pt(ident.face_w * 1.18, ident.face_h * 1.12), 0, 0, 360,
                    ident.hair_tone, -1, aa, sh)
    cv2.rectangle(c, _pt(cx - ident.face_w * 0.45, cy + ident.face_h * 0.6), _pt(cx + ident.face_w * 0.45, R),
                  skin * 0.85, -1, aa, sh)
    # face: an ellipse, narrowed towards the jaw
    cv2.ellipse(c, _pt(cx, cy), _pt(ident.face_w, ident.face_h), 0, 180, 360, skin, -1, aa, sh)
    cv2.ellipse(c, _pt(cx, cy), _pt(ident.face_w * (0.55 + 0.45 * ident.jaw) * 1.0, ident.face_h), 0, 0, 180,
                skin, -1, aa, sh)
    cv2.rectangle(c, _pt(cx - ident.face_w * (0.55 + 0.45 * ident.jaw), cy - 1),
                  _pt(cx + ident.face_w * (0.55 + 0.45 * ident.jaw), cy + 1), skin, -1, aa, sh)
    # hair on top
    if ident.hair_style in (1, 2, 3):
        cv2.ellipse(c, _pt(cx, cy - ident.face_h * 0.55), _pt(ident.face_w * 1.04, ident.face_h * 0.55), 0, 180, 360,
                    ident.hair_tone, -1, aa, sh)
    if ident.hair_style == 3:  # fringe
        cv2.ellipse(c, _pt(cx, cy - ident.face_h * 0.62), _pt(ident.face_w * 0.9, ident.face_h * 0.28), 0, 0, 180,
                    ident.hair_tone, -1, aa, sh)
    dark = skin * 0.35
    # eyes: sclera, iris, upper lid; opening follows v["eyes"]
    open_h = ident.eye_r * float(np.clip(0.6 + 0.5 * v["eyes"], 0.12, 1.2))
    for side in (-1, 1):
        ex = cx + side * ident.eye_dx
        cv2.ellipse(c, _pt(ex, ident.eye_y), _pt(ident.eye_r * 1.35, open_h), 0, 0, 360,
                    min(skin + 45, 250), -1, aa, sh)
        iris_r = min(ident.eye_r * 0.62, open_h * 0.95 + 1)
        cv2.circle(c, _pt(ex, ident.eye_y), int(iris_r * 16), ident.iris, -1, aa, sh)
        cv2.ellipse(c, _pt(ex, ident.eye_y), _pt(ident.eye_r * 1.4, open_h), 0, 180, 360, dark, 3, aa, sh)
        # brows: outer end follows brow height, inner end follows inner slant as well
        lift = 0.09 * R * v["brow"]
        inner_lift = 0.065 * R * v["inner"]
        by = ident.eye_y - ident.brow_gap - lift
        inner = (cx + side * (ident.eye_dx - ident.eye_r * 1.2), by - inner_lift)
        outer = (cx + side * (ident.eye_dx + ident.eye_r * 1.6), by + ident.brow_tilt + 0.2 * inner_lift)
        mid = ((inner[0] + outer[0]) / 2, min(inner[1], outer[1]) - 0.01 * R)
        pts = np.array([_pt(*inner), _pt(*mid), _pt(*outer)], np.int32)
        cv2.polylines(c, [pts], False, skin * ident.brow_tone, ident.brow_thick, aa, sh)
    if ident.glasses:
        for side in (-1, 1):
            centre = _pt(cx + side * ident.eye_dx, ident.eye_y)
            cv2.circle(c, centre, int(ident.eye_r * 2.1 * 16), skin * 0.3, 2, aa, sh)
        cv2.line(c, _pt(cx - ident.eye_dx + ident.eye_r * 2.1, ident.eye_y),
                 _pt(cx + ident.eye_dx - ident.eye_r * 2.1, ident.eye_y), skin * 0.3, 2, aa, sh)
    # nose, with wrinkles across the bridge for disgust
    ny = ident.eye_y + ident.nose_len
    cv2.line(c, _pt(cx, ident.eye_y + 0.02 * R), _pt(cx - 0.012 * R, ny), skin * 0.78, 3, aa, sh)
    cv2.ellipse(c, _pt(cx, ny), _pt(0.035 * R, 0.014 * R), 0, 0, 180, skin * 0.6, 3, aa, sh)
    if v["wrinkle"] > 0.15:
        for k in range(1 + int(v["wrinkle"] * 2.5)):
            y = ident.eye_y + 0.015 * R + k * 0.018 * R
            tone = skin * (1 - 0.3 * min(v["wrinkle"], 1.2))
            cv2.line(c, _pt(cx - 0.03 * R, y), _pt(cx + 0.03 * R, y), tone, 2, aa, sh)
        for side in (-1, 1):  # deepened nasolabial folds
            cv2.line(c, _pt(cx + side * 0.05 * R, ny - 0.01 * R), _pt(cx + side * 0.09 * R, ident.mouth_y),
                     skin * (1 - 0.25 * min(v["wrinkle"], 1.2)), 2, aa, sh)
    # mouth: corners lift with curve (and one corner with asym), opening shows a dark interior
    w = ident.mouth_w * (1 + 0.3 * v["width"])
    my = ident.mouth_y - 0.02 * R * v["upper"]
    t = np.linspace(-1, 1, 21)
    lift = 0.065 * R * v["curve"] * t**2 + 0.07 * R * v["asym"] * np.clip(t, 0, None) ** 2
    base_y = my - lift
    gap = 0.1 * R * min(v["open"], 1.4) * (1 - t**2)
    upper = base_y - 0.35 * gap - 0.02 * R * v["upper"] * (1 - t**2)
    lower = base_y + 0.65 * gap
    xs = cx + w * t
    lip = skin * ident.lip_tone
    if v["open"] > 0.12:
        poly = np.array([_pt(x, y) for x, y in zip(xs, upper)] + [_pt(x, y) for x, y in zip(xs[::-1], lower[::-1])],
                        np.int32)
        cv2.fillPoly(c, [poly], skin * 0.2, aa, sh)
        if v["curve"] > 0.4:  # teeth in a smile
            teeth = np.array([_pt(x, y) for x, y in zip(xs[4:17], upper[4:17] + 0.008 * R)], np.int32)
            cv2.polylines(c, [teeth], False, min(skin + 60, 250), 4, aa, sh)
        cv2.polylines(c, [poly], True, lip, 3, aa, sh)
    else:
        pts = np.array([_pt(x, y) for x, y in zip(xs, base_y)], np.int32)
        cv2.polylines(c, [pts], False, lip * 0.8, 5, aa, sh)
    # pose, lighting (shared by a sequence's frames, as in CK+), blur and sensor noise
    m = cv2.getRotationMatrix2D((cx, cy), pose.angle, pose.scale)
    m[:, 2] += pose.shift
    c = cv2.warpAffine(c, m, (R, R), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    c *= 1 + pose.light * np.linspace(-1, 1, R, dtype=np.float32)[None, :]
    c = c * pose.gain + pose.offset
    small = cv2.resize(c, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
    if pose.blur:
        small = cv2.GaussianBlur(small, (3, 3), pose.blur)
    small += rng.normal(0, pose.noise, small.shape).astype(np.float32)
    return np.clip(np.rint(small), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class SynthSpec:
    """Everything that determines a synthetic set (saved beside it as SYNTHETIC.json)."""

    profile: str = "ckplus"
    seed: int = 0
    scale: float = 1.0
    version: int = SYNTH_VERSION

    @property
    def folder_name(self) -> str:
        return f"{self.profile}-seed{self.seed}-x{self.scale:g}-v{self.version}"


def plan(spec: SynthSpec) -> list[tuple[str, str, int, int]]:
    """The sequences to draw: (class, subject, sequence number, frames), deterministic by seed."""
    prof = PROFILES[spec.profile]
    rng = np.random.default_rng([spec.seed, 1])
    frames = prof["frames"]
    seqs_per_class = [max(2, round(n * spec.scale / frames)) for n in prof["counts"]]
    n_subjects = prof["subjects"] or max(20, sum(seqs_per_class) // 6)
    n_subjects = max(6, round(n_subjects * min(1.0, spec.scale))) if prof["subjects"] else n_subjects
    subjects = [f"X{i + 1:03d}" for i in range(n_subjects)]
    activity = rng.uniform(0.3, 1.0, n_subjects)  # some subjects show many expressions, some few
    seq_counter = dict.fromkeys(subjects, 0)
    out = []
    for cls, n in zip(prof["classes"], seqs_per_class):
        order = rng.permutation(n_subjects)
        order = order[np.argsort(-activity[order] * rng.uniform(0.5, 1.5, n_subjects), kind="stable")]
        for j in range(n):
            s = subjects[order[j % n_subjects]]
            seq_counter[s] += 1
            out.append((cls, s, seq_counter[s], frames))
    return out


def generate(spec: SynthSpec = SynthSpec(), progress: bool = True):
    """Yield ``(class, file name, image)`` for every synthetic image of ``spec``."""
    sequences = plan(spec)
    identities, set_ups = {}, {}
    for cls, subject, seq, frames in tqdm(sequences, desc=f"synthetic {spec.profile}", unit="seq",
                                          disable=not progress, leave=False):
        sid = int(subject[1:])
        if subject not in identities:
            subject_rng = np.random.default_rng([spec.seed, 2, sid])
            identities[subject] = Identity.sample(subject_rng)
            set_ups[subject] = Pose.sample(subject_rng)  # one recording set-up per subject, as in CK+
        ident = identities[subject]
        rng = np.random.default_rng([spec.seed, 3, sid, seq])
        peak = rng.uniform(0.5, 1.0) ** 0.7  # many sequences never reach a strong expression
        seq_v = expression_vector(cls, 1.0, ident, rng)  # the sequence's own style (jitter)
        pose = set_ups[subject].session(rng)
        for f in range(frames):
            intensity = peak * (1.0 - 0.08 * (frames - 1 - f))
            frame_rng = np.random.default_rng([spec.seed, 4, sid, seq, f])
            v = expression_vector(cls, intensity, ident, frame_rng)
            v = {k: 0.6 * v[k] + 0.4 * seq_v[k] * intensity for k in PARAMS}
            image = draw_face(ident, v, pose.jitter(frame_rng), frame_rng)
            yield cls, f"{subject}_{seq:03d}_{f + 1:08d}.png", image


def write(root: str | os.PathLike, spec: SynthSpec = SynthSpec(), progress: bool = True) -> Path:
    """Write the set in the CK+48 layout under ``root`` (atomically) and return the folder."""
    root = Path(root)
    if root.exists():
        raise FileExistsError(f"{root} already exists")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}-"))
    try:
        counts: dict[str, int] = {}
        for cls, fname, image in generate(spec, progress):
            (tmp / cls).mkdir(exist_ok=True)
            Image.fromarray(image).save(tmp / cls / fname, optimize=False)
            counts[cls] = counts.get(cls, 0) + 1
        meta = {**asdict(spec), "counts": counts, "layout": "ckplus48",
                "note": "procedurally drawn faces made by fer_kit.synth; not real people"}
        (tmp / "SYNTHETIC.json").write_text(json.dumps(meta, indent=2))
        os.replace(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def ensure(profile: str = "ckplus", seed: int = 0, scale: float | None = None, progress: bool = True) -> Path:
    """Folder of the synthetic set for (profile, seed, scale) in the cache, drawing it if needed."""
    if profile not in PROFILES:
        raise ValueError(f"unknown synthetic profile {profile!r}; choose from {sorted(PROFILES)}")
    if scale is None:
        scale = PROFILES[profile].get("default_scale", 1.0)
    spec = SynthSpec(profile, seed, float(scale))
    target = config.cache_dir() / "synthetic" / spec.folder_name
    if not target.is_dir():
        try:
            write(target, spec, progress)
        except FileExistsError:
            pass  # another process finished it first
    return target
