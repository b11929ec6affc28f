"""The demo: recognition on a real photo, every message a reader can get, smoothing, drawing, and the
widgets' Python side (the browser side is tests/test_browser.py)."""

from __future__ import annotations

import html
import io
import json
import os
import shutil
from datetime import datetime

import numpy as np
import pytest
from PIL import Image

from fer_kit import demo
from fer_kit.camera import Camera
from fer_kit.demo_app import DemoApp, probability_bars
from fer_kit.preprocess import crop_box, to_gray_uint8

CK_CLASSES = ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")


@pytest.fixture(autouse=True)
def _no_demo_env(monkeypatch):
    """The user's own model or status file must not leak into these tests."""
    monkeypatch.delenv(demo.MODEL_ENV, raising=False)
    monkeypatch.delenv("FER_KIT_DEMO_STATUS", raising=False)


@pytest.fixture(scope="session")
def quick_model(tmp_path_factory):
    """A quick model trained for one epoch on the synthetic set (the session's data folder is empty)."""
    return demo.train_quick_model(tmp_path_factory.mktemp("models") / "quick", epochs=1)


@pytest.fixture(scope="session")
def classifier(quick_model):
    return demo.Classifier.load(quick_model)


@pytest.fixture(scope="session")
def frame():
    return demo.sample_frame()


def _png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def _group(frame: np.ndarray) -> np.ndarray:
    head = frame[20:260, 170:410]
    return np.hstack([head, head[:, ::-1], head])  # the astronaut's head three times, once mirrored


# ---------------------------------------------------------------- recognition on the astronaut photo
def test_astronaut_one_face_cropped_as_training_data_and_probabilities_sum_to_one(classifier, frame):
    result = demo.Recognizer(classifier)(frame, track=False)
    assert len(result.faces) == 1
    face = result.largest
    x, y, w, h = face.box
    assert 230 <= x + w / 2 <= 350 and 60 <= y + h / 2 <= 160 and 64 <= w <= 140  # on her face, not the rocket
    gray, _ = to_gray_uint8(frame)
    assert np.array_equal(face.crop, crop_box(gray, face.box))  # the readers' crop, exactly
    assert face.probs.shape == (len(CK_CLASSES),) and (face.probs >= 0).all()
    assert face.probs.sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(face.probs, classifier.predict(face.crop[None])[0], rtol=1e-5)
    label = face.label(classifier.class_names)
    assert label in CK_CLASSES and result.message == f"One face: {label} ({face.confidence:.0%})."
    assert result.to_dict()["faces"][0]["box"] == list(face.box)


def test_quick_model_is_saved_with_what_the_demo_needs(quick_model):
    info = json.loads(quick_model.with_suffix(".json").read_text())
    assert tuple(info["class_names"]) == CK_CLASSES
    assert info["real_data"] is False and info["seed"] == 0 and info["epochs"] == 1
    assert 0 <= info["accuracy"] <= 1 and info["data_fingerprint"]
    assert [p.name for p in quick_model.parent.iterdir() if "partial" in p.name] == []


def test_classifier_turns_logits_into_probabilities(classifier):
    class Logits:
        def predict_on_batch(self, x):
            return np.array([[2.0, -1.0, 0.5]] * len(x))

    probs = demo.Classifier(Logits(), ("a", "b", "c")).predict(np.zeros((2, 48, 48), np.uint8))
    expected = np.exp([2.0, -1.0, 0.5]) / np.exp([2.0, -1.0, 0.5]).sum()
    np.testing.assert_allclose(probs, [expected, expected], rtol=1e-6)
    assert classifier.predict(np.zeros((0, 48, 48), np.uint8)).shape == (0, len(CK_CLASSES))


# ---------------------------------------------------------------- finding and loading models
def test_find_model_prefers_argument_then_environment_then_newest(tmp_path, monkeypatch):
    root = tmp_path / "classifiers"
    old, new = root / "a" / "model.keras", root / "b" / "model.keras"
    for i, p in enumerate((old, new, root / "c" / "model.partial.keras")):
        p.parent.mkdir(parents=True)
        p.write_bytes(b"")
        os.utime(p, (1_000_000 + i, 1_000_000 + i))
    assert demo.list_models(root) == [new, old]  # newest first; one still being written is not listed
    assert demo.find_model(root=root) == new
    assert demo.find_model(old, root=root) == old
    monkeypatch.setenv(demo.MODEL_ENV, str(old.parent))
    assert demo.find_model(root=root) == old
    monkeypatch.delenv(demo.MODEL_ENV)
    assert demo.find_model(root=tmp_path / "nothing-here") is None
    with pytest.raises(demo.NoModelError, match="expected an existing .keras file"):
        demo.find_model(tmp_path / "missing.keras")
    (tmp_path / "empty").mkdir()
    with pytest.raises(demo.NoModelError, match="no \\*.keras classifier in the folder"):
        demo.find_model(tmp_path / "empty")


def test_classifier_load_needs_class_names_that_fit(quick_model, tmp_path):
    bare = tmp_path / "bare.keras"
    shutil.copy(quick_model, bare)
    with pytest.raises(demo.NoModelError, match="class_names"):
        demo.Classifier.load(bare)
    with pytest.raises(demo.NoModelError, match="3 classes"):
        demo.Classifier.load(bare, class_names=("a", "b", "c"))
    assert demo.Classifier.load(bare, class_names=CK_CLASSES).class_names == CK_CLASSES


# ---------------------------------------------------------------- the messages
def test_no_face_is_a_message_and_largest_raises(classifier):
    result = demo.Recognizer(classifier)(np.full((480, 640, 3), 128, np.uint8))
    assert result.faces == [] and result.message == demo.no_face_message(64)
    assert "No face found" in result.message and "64 px" in result.message
    with pytest.raises(demo.NoFaceFoundError, match="No face found"):
        _ = result.largest


def test_several_faces_are_all_found_numbered_and_annotated(classifier, frame):
    group = _group(frame)
    result = demo.Recognizer(classifier)(group, track=False)
    assert len(result.faces) == 3 and result.message == demo.several_faces_message(3)
    centres = sorted(f.box[0] + f.box[2] // 2 for f in result.faces)
    assert [c // 240 for c in centres] == [0, 1, 2]  # one per head
    areas = [f.box[2] * f.box[3] for f in result.faces]
    assert areas == sorted(areas, reverse=True)  # numbered from the largest
    drawn = demo.annotate(group, result)
    assert drawn.shape == group.shape and not np.array_equal(drawn, group)
    for face in result.faces:
        x, y, w, h = face.box
        color = demo.CLASS_COLORS[int(np.argmax(face.probs))]
        assert tuple(drawn[y + h, x + w // 2]) == color  # the bottom edge of every box is drawn
    np.testing.assert_array_equal(drawn[-20:], group[-20:])  # and nothing far from the faces


@pytest.mark.parametrize("name, kind, message", [
    ("NotFoundError", demo.NoCameraError, demo.NO_CAMERA),
    ("OverconstrainedError", demo.NoCameraError, demo.NO_CAMERA),
    ("NotAllowedError", demo.CameraPermissionError, demo.PERMISSION_DENIED),
    ("NotReadableError", demo.CameraError, demo.CAMERA_BUSY),
    ("SecurityError", demo.CameraError, demo.INSECURE_PAGE),
])
def test_camera_errors_get_their_type_and_message(name, kind, message):
    err = demo.camera_error(name, "browser detail")
    assert type(err) is kind and str(err) == message and isinstance(err, demo.DemoError)


def test_unknown_camera_error_keeps_the_browser_words():
    err = demo.camera_error("WeirdError", "the device exploded")
    assert type(err) is demo.CameraError and "WeirdError: the device exploded" in str(err)


def test_not_an_image(frame):
    for data, extra in ((b"just some text\n", ""), (b"", "empty"), (_png(frame)[:40], "")):
        with pytest.raises(demo.NotAnImageError, match="'notes.txt' is not an image") as info:
            demo.decode_image(data, "notes.txt")
        assert extra in str(info.value)
    np.testing.assert_array_equal(demo.decode_image(_png(frame)), frame)


def test_uploads_are_turned_upright_and_shrunk(frame):
    exif = Image.Exif()
    exif[0x0112] = 6  # EXIF orientation: the camera was held on its side
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", exif=exif)
    assert demo.decode_image(buffer.getvalue()).shape == (640, 480, 3)
    assert demo.decode_image(_png(frame), max_side=320).shape == (240, 320, 3)


# ---------------------------------------------------------------- smoothing
def test_smoother_averages_per_track_and_forgets_lost_faces():
    s = demo.ProbabilitySmoother(smoothing=0.5, max_missed=1)
    a, b = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    box = np.array([[100, 100, 80, 80]])
    probs, ids = s.update(box, a)
    np.testing.assert_allclose(probs, a)
    assert ids == [1]
    probs, ids = s.update(box + 4, b)  # the same face, moved a little
    np.testing.assert_allclose(probs, [[0.5, 0.5]])
    assert ids == [1]
    far = np.array([[400, 100, 80, 80]])
    probs, ids = s.update(np.vstack([far, box]), np.vstack([b, b]))  # order in the list does not matter
    np.testing.assert_allclose(probs, [[0.0, 1.0], [0.25, 0.75]])
    assert ids == [2, 1]
    s.update(far, b)
    s.update(far, b)  # face 1 unseen for two frames (> max_missed): forgotten
    probs, ids = s.update(box, a)
    assert ids == [3]
    np.testing.assert_allclose(probs, a)
    with pytest.raises(ValueError, match="smoothing"):
        demo.ProbabilitySmoother(1.0)


def test_recognizer_smooths_video_but_not_pictures(classifier, frame):
    rec = demo.Recognizer(classifier, smoothing=0.5)
    first = rec(frame).largest
    darker = (frame * 0.6).astype(np.uint8)
    second = rec(darker).largest
    assert second.track == first.track
    assert not np.allclose(first.raw, second.raw)
    np.testing.assert_allclose(second.probs, 0.5 * first.raw + 0.5 * second.raw, rtol=1e-5)
    still = rec(darker, track=False).largest
    np.testing.assert_allclose(still.probs, still.raw)
    rec.reset()
    np.testing.assert_allclose(rec(darker).largest.probs, second.raw, rtol=1e-5)


# ---------------------------------------------------------------- the widgets' Python side
def test_camera_widget_processes_frames_and_always_acknowledges(frame, monkeypatch):
    seen = []
    cam = Camera(on_frame=lambda rgb, still: seen.append((rgb.shape, still)) or rgb[::2, ::2])
    sent = []
    monkeypatch.setattr(cam, "send", lambda msg, buffers=None: sent.append(msg))
    cam._on_message(cam, {"type": "frame", "seq": 1, "still": True}, [demo.encode_image(frame)])
    assert seen == [((480, 640, 3), True)] and cam.frames == 1
    assert cam.annotated[:2] == b"\xff\xd8" and demo.decode_image(cam.annotated).shape == (240, 320, 3)
    cam._on_message(cam, {"type": "frame", "seq": 2}, [b"garbage"])
    assert cam.failures == 1 and "NotAnImageError" in cam.problem
    assert sent == [{"type": "done", "seq": 1}, {"type": "done", "seq": 2}]  # the browser may send more
    assert cam.error is None
    cam.error_name, cam.error_detail = "NotAllowedError", "Permission denied"
    assert isinstance(cam.error, demo.CameraPermissionError)


def test_app_camera_frames_and_camera_errors(quick_model, frame, tmp_path):
    status = tmp_path / "status.json"
    app = DemoApp(quick_model, models_dir=tmp_path / "none", status_path=status)
    app.camera.process(demo.encode_image(frame))
    recorded = json.loads(status.read_text())
    assert recorded["model"] == str(quick_model) and recorded["frames"] == 1 and recorded["frames_with_face"] == 1
    face = recorded["last_frame"]["faces"][0]
    assert sum(face["probs"]) == pytest.approx(1, abs=1e-3) and face["label"] in CK_CLASSES
    assert face["label"] in app.chart.value and app.crops.value[:4] == b"\x89PNG"
    assert html.escape(f"One face: {face['label']}") in app.message.value
    app.camera.error_name = "NotFoundError"
    assert html.escape(demo.NO_CAMERA) in app.message.value
    assert json.loads(status.read_text())["camera_error"]["type"] == "NoCameraError"
    app.camera.error_name = ""  # the next start worked
    assert app.message.value == ""


def test_app_picture_mode(quick_model, frame, tmp_path):
    app = DemoApp(quick_model, models_dir=tmp_path / "none", status_path=tmp_path / "status.json")
    upload = {"name": "astronaut.png", "type": "image/png", "last_modified": datetime.now()}
    content = _png(frame)
    app.upload.value = ({**upload, "size": len(content), "content": memoryview(content)},)
    assert demo.decode_image(app.picture.value).shape == (480, 640, 3)
    last = json.loads(app.status_path.read_text())["last_upload"]
    assert last["name"] == "astronaut.png" and len(last["faces"]) == 1
    app.upload.value = ({**upload, "name": "notes.txt", "size": 4, "content": memoryview(b"text")},)
    assert html.escape(demo.not_an_image_message("notes.txt")) in app.message.value
    assert app.picture.value == b""
    assert json.loads(app.status_path.read_text())["last_upload"]["error"] == "NotAnImageError"
    several = app.show_picture(_group(frame), "group")
    assert len(several.faces) == 3 and html.escape(demo.several_faces_message(3)) in app.message.value


def test_app_without_a_model_says_so_and_trains_one_on_click(quick_model, frame, tmp_path, monkeypatch):
    empty = tmp_path / "classifiers"
    app = DemoApp(models_dir=empty, quick_dir=tmp_path / "quick")
    assert "No trained classifier found" in app.message.value and str(empty) in app.message.value
    assert app.chooser.disabled and app.train_button.button_style == "warning"
    assert app.recognizer.classifier is None
    app.camera.process(demo.encode_image(frame))  # faces are still found, and boxed
    assert "no classifier is loaded" in app.message.value and app.camera.annotated

    def fake_training(out_dir, **options):  # the real training is tested above; here, the button's wiring
        out_dir.mkdir(parents=True)
        for suffix in (".keras", ".json"):
            shutil.copy(quick_model.with_suffix(suffix), out_dir / f"model{suffix}")
        return out_dir / "model.keras"

    monkeypatch.setattr(demo, "train_quick_model", fake_training)
    app.train_button.click()
    assert app.recognizer.classifier is not None and app.chooser.value == str(tmp_path / "quick" / "model.keras")
    assert not app.chooser.disabled and "Model loaded" in app.message.value


def test_app_reports_a_named_model_that_is_not_there(tmp_path):
    app = DemoApp(tmp_path / "gone.keras", models_dir=tmp_path)
    assert "is not a saved classifier" in app.message.value and app.recognizer.classifier is None


def test_probability_bars_show_every_class_and_highlight_the_top():
    chart = probability_bars(np.array([0.1, 0.7, 0.2]), ("anger", "happy", "fear"), "the face")
    assert all(name in chart for name in ("anger", "happy", "fear", "70%", "the face"))
    assert chart.count("#dd8452") == 1 and chart.index("#dd8452") > chart.index("happy")
    assert "No probabilities" in probability_bars(None, ())
