"""The demo's recognition path: find faces, crop them the way the training data was made, classify them,
smooth the probabilities over video frames, and draw the result.

    recognizer = Recognizer(Classifier.load(find_model()))   # the newest runs/classifiers/**/*.keras
    result = recognizer(rgb_frame)                           # boxes, labels, probabilities per face
    picture = annotate(rgb_frame, result)                    # the frame with boxes and labels drawn

Detection and cropping go through :mod:`fer_kit.preprocess` (the functions the data readers use), so the
camera sees faces exactly as the classifier saw them in training. Everything a reader can fix — no
camera, camera permission denied, no model, an upload that is not an image, no face — is a
:class:`DemoError` whose text says what to do.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from fer_kit.preprocess import IMAGE_SIZE, crop_box, detect_faces, to_gray_uint8
from fer_kit.provenance import REPO_ROOT

MODELS_DIR = REPO_ROOT / "runs" / "classifiers"  # where trained classifiers are saved (newest wins)
MODEL_ENV = "FER_KIT_DEMO_MODEL"  # a .keras file, or a folder to search, used when no path is given
HAAR_WINDOW = 24  # the side of the frontal-face cascade's detection window, in pixels
_PARTIAL = ".partial.keras"  # a model still being written (never listed)


# --------------------------------------------------------------------------------------------------
# What can go wrong, in words a reader can act on


class DemoError(Exception):
    """A problem the reader can fix; ``str(error)`` is the message to show them."""


class CameraError(DemoError):
    """The browser could not start the camera (the base of the specific camera errors)."""


class NoCameraError(CameraError):
    """The browser found no camera."""


class CameraPermissionError(CameraError):
    """The reader (or a browser policy) refused the camera."""


class NotAnImageError(DemoError):
    """An upload that no image decoder can read."""


class NoModelError(DemoError):
    """No trained classifier was found, or the one named cannot be used."""


class NoFaceFoundError(DemoError):
    """The detector found no face in the picture."""


NO_CAMERA = ("No camera found. Connect a webcam (and check that no system setting disables it), then "
             "press Start again — or use the Picture tab to upload a photo.")
PERMISSION_DENIED = ("Camera permission denied. Allow the camera for this page (the camera icon in the "
                     "address bar, or the browser's site settings), then press Start again — or use the "
                     "Picture tab.")
CAMERA_BUSY = ("The camera would not start: another application or browser tab is probably using it. "
               "Close that, then press Start again.")
INSECURE_PAGE = ("This page may not use a camera: browsers allow cameras only on https:// and localhost "
                 "pages. Open the notebook through https:// or localhost, or use the Picture tab.")
NO_MODEL = ("No trained classifier found (looked in {where}). Press 'Train a quick model' for a small one "
            "(about a minute on a CPU), or run notebook 05 for the real classifiers.")


def no_face_message(min_face: int = 64) -> str:
    """What to say when the detector finds nothing."""
    return (f"No face found. The detector needs a frontal, upright face at least {min_face} px wide: "
            "face the camera in even light, or try another picture.")


def several_faces_message(n: int) -> str:
    """What to say when there are several faces."""
    return f"{n} faces found, all annotated and numbered from the largest; the chart shows face 1."


def not_an_image_message(name: str) -> str:
    """What to say about an upload that is not an image."""
    return (f"'{name}' is not an image this demo can read. Upload a photo (PNG, JPEG, WebP, BMP, GIF or "
            "TIFF) showing a face.")


_CAMERA_ERRORS: dict[str, tuple[type[CameraError], str]] = {
    # DOMException names that getUserMedia rejects with (and the legacy Chrome names)
    "NotFoundError": (NoCameraError, NO_CAMERA),
    "DevicesNotFoundError": (NoCameraError, NO_CAMERA),
    "OverconstrainedError": (NoCameraError, NO_CAMERA),
    "NotAllowedError": (CameraPermissionError, PERMISSION_DENIED),
    "PermissionDeniedError": (CameraPermissionError, PERMISSION_DENIED),
    "NotReadableError": (CameraError, CAMERA_BUSY),
    "TrackStartError": (CameraError, CAMERA_BUSY),
    "AbortError": (CameraError, CAMERA_BUSY),
    "SecurityError": (CameraError, INSECURE_PAGE),
    "NotSupportedError": (CameraError, INSECURE_PAGE),
}


def camera_error(name: str, detail: str = "") -> CameraError:
    """The :class:`CameraError` for a browser error name such as ``NotAllowedError`` (from getUserMedia)."""
    kind, message = _CAMERA_ERRORS.get(name, (CameraError, ""))
    if not message:
        message = f"The camera could not start ({name or 'unknown error'}{': ' + detail if detail else ''})."
    return kind(message)


# --------------------------------------------------------------------------------------------------
# Images in and out


def decode_image(data: bytes | bytearray | memoryview, name: str = "upload", max_side: int | None = None
                 ) -> np.ndarray:
    """Bytes of an image file → uint8 RGB array (EXIF rotation applied); :class:`NotAnImageError` otherwise.

    ``max_side`` shrinks large photos (longest side, in pixels) to keep detection fast.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    raw = bytes(data)
    if not raw:
        raise NotAnImageError(not_an_image_message(name) + " (The file is empty.)")
    try:
        with Image.open(io.BytesIO(raw)) as img:
            img.load()
            rgb = ImageOps.exif_transpose(img).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise NotAnImageError(not_an_image_message(name)) from exc
    if max_side and max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(rgb)


def encode_image(rgb: np.ndarray, fmt: str = "jpeg", quality: int = 85) -> bytes:
    """uint8 RGB (or gray) array → JPEG or PNG bytes, for the widgets."""
    arr = np.asarray(rgb)
    bgr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR) if arr.ndim == 3 else arr
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if fmt == "jpeg" else []
    ok, buffer = cv2.imencode(".jpg" if fmt == "jpeg" else ".png", bgr, params)
    if not ok:
        raise ValueError(f"could not encode a {arr.shape} image as {fmt}")
    return buffer.tobytes()


def sample_frame(width: int = 640, height: int = 480) -> np.ndarray:
    """scikit-image's public-domain ``astronaut`` photo (one frontal face), letterboxed into a camera-sized
    uint8 RGB frame: the demo's, tests' and benchmark's stand-in for a webcam."""
    try:
        from skimage import data as skdata
    except ImportError as exc:  # scikit-image is in requirements.txt, not a hard dependency
        raise ImportError("sample_frame needs scikit-image: pip install scikit-image") from exc
    photo = skdata.astronaut()
    scale = min(width / photo.shape[1], height / photo.shape[0])
    w, h = round(photo.shape[1] * scale), round(photo.shape[0] * scale)
    frame = np.full((height, width, 3), 96, np.uint8)
    x0, y0 = (width - w) // 2, (height - h) // 2
    frame[y0:y0 + h, x0:x0 + w] = cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA)
    return frame


# --------------------------------------------------------------------------------------------------
# The classifier


def list_models(root: str | os.PathLike | None = None) -> list[Path]:
    """Every ``*.keras`` file under ``root`` (default ``runs/classifiers``), newest first."""
    folder = Path(root) if root is not None else MODELS_DIR
    if not folder.is_dir():
        return []
    found = [p for p in folder.rglob("*.keras") if not p.name.endswith(_PARTIAL)]  # not one being written
    return sorted(found, key=lambda p: (p.stat().st_mtime, str(p)), reverse=True)


def find_model(path: str | os.PathLike | None = None, root: str | os.PathLike | None = None) -> Path | None:
    """The classifier to use: ``path`` (a ``.keras`` file, or a folder whose newest one wins), else
    ``$FER_KIT_DEMO_MODEL`` (same), else the newest under ``root`` (``runs/classifiers``); None if none.

    A ``path`` (or environment value) that names nothing usable raises :class:`NoModelError`.
    """
    chosen = path if path not in (None, "") else os.environ.get(MODEL_ENV) or None
    if chosen is None:
        found = list_models(root)
        return found[0] if found else None
    where = Path(chosen).expanduser()
    if where.is_dir():
        found = list_models(where)
        if not found:
            raise NoModelError(f"no *.keras classifier in the folder {where}")
        return found[0]
    if not where.is_file() or where.suffix != ".keras":
        raise NoModelError(f"{where} is not a saved classifier (expected an existing .keras file)")
    return where


def model_info(path: str | os.PathLike) -> dict:
    """The JSON saved beside a model (``model.keras`` → ``model.json``): class names, data, accuracy, ...;
    an empty dict when there is none."""
    sidecar = Path(path).with_suffix(".json")
    return json.loads(sidecar.read_text()) if sidecar.is_file() else {}


@dataclass
class Classifier:
    """A saved Keras classifier with its class names; :meth:`predict` takes uint8 N×48×48 faces."""

    model: object
    class_names: tuple[str, ...]
    path: Path | None = None
    info: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | os.PathLike, class_names: tuple[str, ...] | None = None) -> Classifier:
        """Load ``path`` (a ``.keras`` file); class names come from its JSON sidecar unless given."""
        import keras

        path = Path(path)
        if not path.is_file():
            raise NoModelError(f"no classifier at {path}")
        info = model_info(path)
        names = tuple(class_names or info.get("class_names") or ())
        if not names:
            raise NoModelError(f"{path.with_suffix('.json')} is missing or has no 'class_names': pass "
                               "class_names=(...) in the order the model was trained with")
        model = keras.models.load_model(path, compile=False)
        expected_in, outputs = (None, IMAGE_SIZE, IMAGE_SIZE, 1), model.output_shape[-1]
        if tuple(model.input_shape) != expected_in or outputs != len(names):
            raise NoModelError(f"{path} takes {model.input_shape} and gives {outputs} outputs; the demo needs "
                               f"{expected_in} (gray 48×48 faces) and {len(names)} classes {names}")
        return cls(model, names, path, info)

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """Class probabilities (rows sum to 1) for uint8 N×48×48 faces (scaled as in training)."""
        from fer_kit.classify import to_model_input

        faces = np.asarray(faces)
        if len(faces) == 0:
            return np.zeros((0, len(self.class_names)), np.float32)
        out = np.asarray(self.model.predict_on_batch(to_model_input(faces)), dtype=np.float64)
        if (out < 0).any() or not np.allclose(out.sum(axis=1), 1.0, atol=1e-3):  # logits, not softmax
            out = np.exp(out - out.max(axis=1, keepdims=True))
        return (out / out.sum(axis=1, keepdims=True)).astype(np.float32)


def train_quick_model(out_dir: str | os.PathLike | None = None, *, data_name: str = "ckplus48", epochs: int = 15,
                      seed: int = 0, data_dir: str | os.PathLike | None = None, verbose: int = 0) -> Path:
    """Train the baseline CNN on ``data_name`` (the synthetic stand-in when the real set is absent) with a
    subject-disjoint split and save it as ``<out_dir>/model.keras`` plus ``model.json``; return the path.

    ``out_dir`` defaults to ``runs/classifiers/quick-<data>``. A quick model is for trying the demo; the
    course's real classifiers come from notebook 05.
    """
    from fer_kit import data
    from fer_kit.classify import train_baseline
    from fer_kit.provenance import run_metadata

    faces, real = data.load_or_synthetic(data_name, data_dir=data_dir)
    split = data.subject_split(faces, seed=seed)
    result = train_baseline(faces, split, epochs=epochs, seed=seed, verbose=verbose)
    out = Path(out_dir) if out_dir is not None else MODELS_DIR / f"quick-{faces.name}"
    out.mkdir(parents=True, exist_ok=True)
    partial = out / f"model{_PARTIAL}"
    result.model.save(partial)
    info = {"kind": "quick baseline CNN (fer_kit.demo.train_quick_model)", "class_names": list(faces.class_names),
            "real_data": real, "accuracy": result.accuracy, "recall": result.recall, "epochs": epochs,
            "seed": seed, **run_metadata(faces, split)}
    (out / "model.json").write_text(json.dumps(info, indent=2, default=str))
    os.replace(partial, out / "model.keras")  # a half-written model is never picked up as the newest
    return out / "model.keras"


# --------------------------------------------------------------------------------------------------
# Recognition


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face: its box ``(x, y, w, h)``, the 48×48 crop the classifier saw, its probabilities
    (smoothed over frames when tracking; ``raw`` is this frame's alone) and its track id."""

    box: tuple[int, int, int, int]
    crop: np.ndarray
    probs: np.ndarray | None = None
    raw: np.ndarray | None = None
    track: int = 0

    def label(self, class_names: tuple[str, ...]) -> str | None:
        """The most probable class (None without a classifier)."""
        return None if self.probs is None else class_names[int(np.argmax(self.probs))]

    @property
    def confidence(self) -> float | None:
        """The top probability (None without a classifier)."""
        return None if self.probs is None else float(np.max(self.probs))


@dataclass(frozen=True, eq=False)
class Recognition:
    """The faces found in one image, largest first, and what to tell the reader about them."""

    faces: list[Face]
    class_names: tuple[str, ...]
    image_shape: tuple[int, int]
    min_face: int = 64

    @property
    def largest(self) -> Face:
        """The largest face; :class:`NoFaceFoundError` when there is none."""
        if not self.faces:
            raise NoFaceFoundError(no_face_message(self.min_face))
        return self.faces[0]

    @property
    def message(self) -> str:
        """One line for the reader: no face, one face and its label, or several faces."""
        if not self.faces:
            return no_face_message(self.min_face)
        if len(self.faces) > 1:
            return several_faces_message(len(self.faces))
        face = self.faces[0]
        if face.probs is None:
            return "One face found; no classifier is loaded yet."
        return f"One face: {face.label(self.class_names)} ({face.confidence:.0%})."

    def to_dict(self) -> dict:
        """Boxes, labels and probabilities as plain JSON-ready values."""
        return {"faces": [{"box": list(f.box), "track": f.track, "label": f.label(self.class_names),
                           "probs": None if f.probs is None else [round(float(p), 4) for p in f.probs]}
                          for f in self.faces],
                "class_names": list(self.class_names), "message": self.message}


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` (N×4, ``x, y, w, h``) with every box in ``b`` (M×4)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    y1 = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


class ProbabilitySmoother:
    """Per-face exponential moving average of class probabilities across video frames.

    Each frame's faces are matched to the previous frames' tracks by box overlap (IoU ≥ ``min_iou``,
    best pairs first); a matched track updates ``p ← s·p + (1 − s)·p_frame`` with ``s = smoothing``, a new
    face starts a track at its own probabilities, and a track unseen for more than ``max_missed`` frames
    is dropped. ``smoothing=0`` switches smoothing off; 0.6 at 5 frames/s forgets a frame in about a second.
    """

    def __init__(self, smoothing: float = 0.6, min_iou: float = 0.3, max_missed: int = 5):
        if not 0 <= smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.smoothing, self.min_iou, self.max_missed = smoothing, min_iou, max_missed
        self.reset()

    def reset(self) -> None:
        """Forget every track."""
        self._tracks: dict[int, dict] = {}  # id → {"box", "probs", "missed"}
        self._next_id = 1

    def update(self, boxes: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """Smoothed probabilities (same order as ``boxes``) and the track id of each box."""
        boxes = np.asarray(boxes).reshape(-1, 4)
        probs = np.asarray(probs, np.float64)
        ids = list(self._tracks)
        old = np.array([self._tracks[i]["box"] for i in ids]).reshape(-1, 4)
        iou = box_iou(boxes, old)
        assigned: dict[int, int] = {}  # box index → track id
        for b, t in zip(*np.unravel_index(np.argsort(-iou, axis=None), iou.shape)):
            if iou[b, t] < self.min_iou:
                break
            if b not in assigned and ids[t] not in assigned.values():
                assigned[int(b)] = ids[t]
        out, track_ids = np.empty_like(probs), []
        for b in range(len(boxes)):
            if b in assigned:
                track = self._tracks[assigned[b]]
                track["probs"] = self.smoothing * track["probs"] + (1 - self.smoothing) * probs[b]
                track_id = assigned[b]
            else:
                track_id, self._next_id = self._next_id, self._next_id + 1
                track = self._tracks[track_id] = {"probs": probs[b].copy()}
            track.update(box=boxes[b], missed=0)
            out[b] = track["probs"]
            track_ids.append(track_id)
        for t in set(ids) - set(assigned.values()):
            self._tracks[t]["missed"] += 1
            if self._tracks[t]["missed"] > self.max_missed:
                del self._tracks[t]
        return out.astype(np.float32), track_ids


class Recognizer:
    """Detect → crop (as the training data was made) → classify → smooth, for one frame or picture.

    ``min_face``: the smallest face side, in pixels of the image, worth finding. The Haar cascade's
    smallest window is 24 px and its cost grows with the pixel count, so the image is shrunk by
    ``24 / min_face`` for detection only (a 640×480 frame to 240×180 for the default 64 px, a tenth of a
    webcam frame's width: about 30 frames/s on one core); boxes are scaled back and every face is cropped
    from the full-resolution image.
    """

    def __init__(self, classifier: Classifier | None = None, *, smoothing: float = 0.6, min_face: int = 64,
                 max_faces: int = 8):
        self.classifier, self.min_face, self.max_faces = classifier, min_face, max_faces
        self.smoother = ProbabilitySmoother(smoothing)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.classifier.class_names if self.classifier is not None else ()

    def detect(self, gray: np.ndarray, min_face: int | None = None) -> np.ndarray:
        """Face boxes ``(x, y, w, h)`` in the image's coordinates, largest first (at most ``max_faces``)."""
        scale = min(1.0, HAAR_WINDOW / (min_face or self.min_face))
        small = gray if scale == 1.0 else cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        boxes = detect_faces(small, min_size=max(HAAR_WINDOW, round((min_face or self.min_face) * scale)))
        return np.rint(boxes / scale).astype(np.int64)[: self.max_faces]

    def __call__(self, image: np.ndarray, *, track: bool = True, min_face: int | None = None) -> Recognition:
        """Recognise the faces in an RGB (or gray) image. ``track=True`` (video) smooths each face's
        probabilities over frames; ``track=False`` (a still picture) reports this image alone."""
        gray, _ = to_gray_uint8(image)
        boxes = self.detect(gray, min_face)
        crops = (np.stack([crop_box(gray, b) for b in boxes]) if len(boxes)
                 else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8))
        raw = self.classifier.predict(crops) if self.classifier is not None else None
        if raw is not None and track:
            probs, ids = self.smoother.update(boxes, raw)
        else:
            probs, ids = raw, list(range(1, len(boxes) + 1))
        faces = [Face(tuple(int(v) for v in box), crops[i], None if raw is None else probs[i],
                      None if raw is None else raw[i], ids[i]) for i, box in enumerate(boxes)]
        return Recognition(faces, self.class_names, gray.shape[:2], min_face or self.min_face)

    def reset(self) -> None:
        """Forget the tracked faces (a new video, or a new camera session)."""
        self.smoother.reset()


# --------------------------------------------------------------------------------------------------
# Drawing

# one colour per class (RGB), the order of the kit's class lists; more classes cycle
CLASS_COLORS = ((230, 57, 70), (142, 68, 173), (46, 160, 67), (241, 143, 1), (255, 209, 102), (52, 120, 200),
                (0, 180, 200), (120, 120, 120))


def annotate(image: np.ndarray, result: Recognition) -> np.ndarray:
    """A copy of ``image`` (RGB) with every face's box and ``label  NN%`` drawn; faces are numbered when
    there are several, so the message and chart can refer to them."""
    rgb = np.asarray(image)
    rgb = cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB) if rgb.ndim == 2 else rgb[..., :3].copy()
    rgb = np.ascontiguousarray(rgb)
    side = min(rgb.shape[:2])
    thick = max(2, round(side / 240))
    font_scale = max(0.5, side / 800)
    several = len(result.faces) > 1
    for n, face in enumerate(result.faces, start=1):
        x, y, w, h = face.box
        label = face.label(result.class_names)
        color = (255, 255, 255) if label is None else CLASS_COLORS[int(np.argmax(face.probs)) % len(CLASS_COLORS)]
        cv2.rectangle(rgb, (x, y), (x + w, y + h), color, thick)
        text = (f"{n}: " if several else "") + ("face" if label is None else f"{label} {face.confidence:.0%}")
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thick)
        ty = y - thick if y - th - base - thick >= 0 else y + h + th + base  # above the box, else below
        cv2.rectangle(rgb, (x - thick // 2, ty - th - base), (x + tw + thick, ty + base // 2), color, cv2.FILLED)
        cv2.putText(rgb, text, (x, ty - base // 2), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0),
                    max(1, thick - 1), cv2.LINE_AA)
    return rgb


def face_strip(result: Recognition, size: int = 96) -> np.ndarray:
    """The 48×48 crops the classifier saw, side by side and enlarged (nearest neighbour), as gray uint8."""
    if not result.faces:
        return np.zeros((size, size), np.uint8)
    tiles = [cv2.resize(f.crop, (size, size), interpolation=cv2.INTER_NEAREST) for f in result.faces]
    return np.hstack(tiles)

