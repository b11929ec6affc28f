"""The demo app: the paper's two modes (live camera, local pictures) in one ipywidgets panel.

    app = DemoApp()      # the newest model under runs/classifiers; a 'Train a quick model' button if none
    app                  # JupyterLab, Notebook 7, Voilà, Colab

A model chooser (newest first), the Camera and Picture tabs, one message line, a live probability bar
chart and the 48×48 crops the classifier saw. Setting ``status_path`` (or ``$FER_KIT_DEMO_STATUS``)
makes the app write what it has done to a small JSON file after every frame and picture — how the
browser test checks the kernel side, and handy when debugging a Voilà deployment.
"""

from __future__ import annotations

import html
import json
import os
import time
from pathlib import Path

import ipywidgets as W
import numpy as np

from fer_kit import demo
from fer_kit.camera import Camera, enable_colab_widgets

STATUS_ENV = "FER_KIT_DEMO_STATUS"
_COLORS = {"info": "#1b5e20", "warn": "#8a5300", "error": "#b00020"}
_PICTURE_SIDE = 1600  # uploads are shrunk to this longest side before detection
_SHOWN_SIDE = 800     # and the annotated picture to this for display
_PICTURE_MIN_FACE = 32  # pictures may hold smaller faces than a webcam frame (and time matters less)


def probability_bars(probs: np.ndarray | None, class_names: tuple[str, ...], title: str = "") -> str:
    """An HTML bar chart of one face's probabilities, the top class highlighted (cheap enough per frame)."""
    if probs is None or not len(class_names):
        return f"<div style='color:#777'>{html.escape(title or 'No probabilities yet.')}</div>"
    top = int(np.argmax(probs))
    rows = []
    for i, (name, p) in enumerate(zip(class_names, probs)):
        color = "#dd8452" if i == top else "#4c72b0"
        rows.append(
            "<div style='display:flex;align-items:center;gap:6px;font-size:12px;line-height:18px'>"
            f"<span style='width:70px;text-align:right'>{html.escape(name)}</span>"
            "<span style='flex:1;background:#eee;height:12px;min-width:120px'>"
            f"<span style='display:block;height:12px;width:{100 * float(p):.1f}%;background:{color}'></span></span>"
            f"<span style='width:36px'>{float(p):.0%}</span></div>")
    head = f"<div style='font-weight:600;margin-bottom:2px'>{html.escape(title)}</div>" if title else ""
    return f"<div class='ferkit-probs' style='width:300px'>{head}{''.join(rows)}</div>"


def _model_label(path: Path) -> str:
    info = demo.model_info(path)
    try:
        shown = path.relative_to(demo.REPO_ROOT)
    except ValueError:
        shown = path
    accuracy = f", test acc. {info['accuracy']:.0%}" if isinstance(info.get("accuracy"), float) else ""
    return f"{shown} ({time.strftime('%Y-%m-%d %H:%M', time.localtime(path.stat().st_mtime))}{accuracy})"


class DemoApp(W.VBox):
    """Camera and picture modes over one recogniser, with a model chooser and a live probability chart.

    ``model``: a ``.keras`` file or folder (default: ``$FER_KIT_DEMO_MODEL``, else the newest under
    ``models_dir``). ``quick_dir``/``quick_epochs``/``data_name``/``data_dir``: where, how long and on what
    the 'Train a quick model' button trains. ``smoothing``, ``fps``: the camera's temporal smoothing and frame rate.
    """

    def __init__(self, model: str | os.PathLike | None = None, *, models_dir: str | os.PathLike | None = None,
                 quick_dir: str | os.PathLike | None = None, quick_epochs: int = 15, data_name: str = "ckplus48",
                 data_dir: str | os.PathLike | None = None, smoothing: float = 0.6, fps: float = 5.0,
                 status_path: str | os.PathLike | None = None):
        enable_colab_widgets()
        self.models_dir = Path(models_dir) if models_dir is not None else demo.MODELS_DIR
        self.quick_dir, self.quick_epochs, self.data_name, self.data_dir = quick_dir, quick_epochs, data_name, data_dir
        status_path = status_path if status_path is not None else os.environ.get(STATUS_ENV) or None
        self.status_path = Path(status_path) if status_path else None
        self.status: dict = {"model": None, "frames": 0, "frames_with_face": 0, "stills": 0, "uploads": 0,
                             "camera_error": None, "last_frame": None, "last_upload": None, "messages": []}
        self.recognizer = demo.Recognizer(None, smoothing=smoothing)

        self.chooser = W.Dropdown(description="model", layout=W.Layout(width="560px"))
        self.train_button = W.Button(description="Train a quick model", icon="cogs", layout=W.Layout(width="auto"),
                                     tooltip=f"train the baseline CNN on {data_name} (synthetic if absent)")
        self.model_note = W.HTML()
        self.message = W.HTML()
        self.chart = W.HTML(probability_bars(None, ()))
        self.crops = W.Image(format="png")
        self.camera = Camera(on_frame=self._camera_frame, fps=fps)
        self.fps = W.FloatSlider(value=fps, min=1, max=15, step=1, description="frames/s", continuous_update=False)
        self.smoothing = W.FloatSlider(value=smoothing, min=0, max=0.95, step=0.05, description="smoothing",
                                       continuous_update=False)
        self.upload = W.FileUpload(accept="image/*", multiple=False, description="Choose a picture",
                                   layout=W.Layout(width="auto"))
        self.picture = W.Image(format="jpeg", layout=W.Layout(max_width="640px"))
        W.link((self.fps, "value"), (self.camera, "fps"))
        self.smoothing.observe(self._smoothing_changed, names="value")
        self.chooser.observe(self._model_chosen, names="value")
        self.train_button.on_click(self._train_clicked)
        self.camera.observe(self._camera_failed, names="error_name")
        self.upload.observe(self._uploaded, names="value")

        self.tabs = W.Tab([W.VBox([self.camera, W.HBox([self.fps, self.smoothing])]),
                           W.VBox([self.upload, self.picture])])
        for i, title in enumerate(("Camera", "Picture")):
            self.tabs.set_title(i, title)
        side = W.VBox([self.chart, W.HTML("<small>what the classifier sees (48×48):</small>"), self.crops],
                      layout=W.Layout(margin="0 0 0 12px", align_items="flex-start"))
        super().__init__([W.HBox([self.chooser, self.train_button]), self.model_note, self.message,
                          W.HBox([self.tabs, side])])
        self.add_class("ferkit-demo-app")
        self.refresh_models(select=model)

    # ---------------------------------------------------------------- models
    def refresh_models(self, select: str | os.PathLike | None = None) -> None:
        """Re-list the saved models and load ``select`` (default: ``$FER_KIT_DEMO_MODEL``, else the newest)."""
        problem = None
        try:
            chosen = demo.find_model(select, root=self.models_dir)
        except demo.NoModelError as err:
            chosen, problem = None, str(err)
        paths = demo.list_models(self.models_dir)
        if chosen is not None and chosen not in paths:
            paths.insert(0, chosen)
        self.chooser.unobserve(self._model_chosen, names="value")
        self.chooser.options = [(_model_label(p), str(p)) for p in paths]
        self.chooser.value = str(chosen) if chosen is not None else None
        self.chooser.observe(self._model_chosen, names="value")
        self.chooser.disabled = not paths
        self.train_button.button_style = "" if paths else "warning"
        if chosen is None:
            self.recognizer.classifier = None
            self.status["model"] = None
            self.model_note.value = ""
            self.say(problem or demo.NO_MODEL.format(where=self.models_dir), "error" if problem else "warn")
        else:
            self.load_model(chosen)

    def load_model(self, path: str | os.PathLike) -> None:
        """Use the classifier saved at ``path``."""
        try:
            classifier = demo.Classifier.load(path)
        except demo.DemoError as err:
            self.say(str(err), "error")
            return
        self.recognizer.classifier = classifier
        self.recognizer.reset()
        info = classifier.info
        data = info.get("data", "unknown data")
        synthetic = " — trained on <b>drawn</b> faces: expect poor guesses on real ones" \
            if info.get("real_data") is False else ""
        self.model_note.value = (f"<small>{len(classifier.class_names)} classes "
                                 f"({html.escape(', '.join(classifier.class_names))}), data: {html.escape(data)}"
                                 f"{synthetic}</small>")
        self.status["model"] = str(path)
        self.say(f"Model loaded: {Path(path).parent.name}/{Path(path).name}. Start the camera or choose a picture.")

    def train_quick_model(self) -> Path:
        """What the button does: train a small model, save it, list it and load it."""
        self.train_button.disabled = True
        self.say(f"Training a quick model ({self.quick_epochs} epochs on {self.data_name}; about a minute on a "
                 "CPU) ...", "warn")
        try:
            path = demo.train_quick_model(self.quick_dir, data_name=self.data_name, data_dir=self.data_dir,
                                          epochs=self.quick_epochs)
        finally:
            self.train_button.disabled = False
        self.message.value = ""
        self.refresh_models(select=path)
        return path

    def ensure_model(self) -> demo.Classifier:
        """The loaded classifier; when there is none, first do what 'Train a quick model' does."""
        if self.recognizer.classifier is None:
            self.train_quick_model()
        if self.recognizer.classifier is None:
            raise demo.NoModelError(self.status["messages"][-1][1])
        return self.recognizer.classifier

    def _model_chosen(self, change) -> None:
        if change["new"]:
            self.load_model(change["new"])

    def _train_clicked(self, _button) -> None:
        try:
            self.train_quick_model()
        except Exception as err:  # noqa: BLE001 — a button callback: say what happened instead of losing it
            self.say(f"Training failed: {type(err).__name__}: {err}", "error")

    def _smoothing_changed(self, change) -> None:
        self.recognizer.smoother = demo.ProbabilitySmoother(change["new"])

    # ---------------------------------------------------------------- camera and pictures
    def _camera_frame(self, rgb: np.ndarray, still: bool) -> np.ndarray:
        result = self.recognizer(rgb, track=not still)
        self.status["stills" if still else "frames"] += 1
        self.status["frames_with_face"] += bool(result.faces)
        self.status["last_frame"] = {"shape": list(rgb.shape), **result.to_dict()}
        self._show(result)
        return demo.annotate(rgb, result)

    def _camera_failed(self, change) -> None:
        error = self.camera.error
        if error is None:
            if change["old"]:
                self.message.value = ""
            return
        self.status["camera_error"] = {"name": self.camera.error_name, "type": type(error).__name__,
                                       "message": str(error)}
        self.say(str(error), "error")

    def show_picture(self, image: np.ndarray | bytes, name: str = "picture") -> demo.Recognition | None:
        """Recognise a still picture (an RGB array, or the bytes of an image file) and show the result."""
        self.status["uploads"] += 1
        try:
            rgb = demo.decode_image(image, name, max_side=_PICTURE_SIDE) if isinstance(
                image, bytes | bytearray | memoryview) else np.asarray(image)
        except demo.NotAnImageError as err:
            self.picture.value = b""
            self.status["last_upload"] = {"name": name, "error": type(err).__name__, "message": str(err)}
            self.say(str(err), "error")
            self._write_status()
            return None
        result = self.recognizer(rgb, track=False, min_face=_PICTURE_MIN_FACE)
        shown = demo.annotate(rgb, result)
        scale = _SHOWN_SIDE / max(shown.shape[:2])
        if scale < 1:
            import cv2

            shown = cv2.resize(shown, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        self.picture.value = demo.encode_image(shown, "jpeg")
        self.status["last_upload"] = {"name": name, "shape": list(rgb.shape), **result.to_dict()}
        self._show(result)
        return result

    def _uploaded(self, change) -> None:
        files = change["new"]
        if not files:
            return
        upload = files[-1]
        self.show_picture(bytes(upload["content"]), upload["name"])
        self.upload.value = ()  # so that choosing the same file again is a new upload

    # ---------------------------------------------------------------- output
    def _show(self, result: demo.Recognition) -> None:
        names = result.class_names
        if result.faces:
            face = result.faces[0]
            title = "face 1 (largest)" if len(result.faces) > 1 else "the face"
            self.chart.value = probability_bars(face.probs, names, title) if face.probs is not None else \
                probability_bars(None, (), "No classifier loaded: choose a model or train a quick one.")
            self.crops.value = demo.encode_image(demo.face_strip(result), "png")
        else:
            self.chart.value = probability_bars(None, (), "No face in the last frame.")
            self.crops.value = b""
        no_model = not names and result.faces
        self.say(result.message + (" Choose a model or train a quick one to classify it." if no_model else ""),
                 "info" if len(result.faces) == 1 and not no_model else "warn")

    def say(self, text: str, kind: str = "info") -> None:
        """Show one message line (``info``, ``warn`` or ``error``) and record it in the status."""
        self.message.value = (f"<div class='ferkit-message ferkit-{kind}' style='color:{_COLORS[kind]};"
                              f"padding:2px 0'>{html.escape(text)}</div>")
        messages = self.status["messages"]
        if not messages or messages[-1] != [kind, text]:
            messages.append([kind, text])
            del messages[:-20]
        self._write_status()

    def _write_status(self) -> None:
        if self.status_path is None:
            return
        self.status_path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.status_path.with_name(self.status_path.name + ".partial")
        partial.write_text(json.dumps(self.status, indent=1))
        os.replace(partial, self.status_path)  # a reader never sees half a file
