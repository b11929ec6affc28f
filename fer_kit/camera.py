"""A webcam widget for the notebook (anywidget): the browser captures, the kernel recognises, the browser
shows the annotated result.

The browser opens the camera with ``navigator.mediaDevices.getUserMedia``, draws a frame onto a canvas
every ``1/fps`` seconds and sends it to the kernel as a JPEG (a custom message with one binary buffer).
At most one frame is in flight: when the kernel is slower than ``fps``, frames are skipped, never queued.
The kernel decodes the frame, calls ``on_frame(rgb, still)`` and sends the picture it returns back
through the ``annotated`` trait. ``Snapshot`` captures a single still (the fallback where a live stream
is not wanted or not possible); on Colab, :func:`colab_snapshot` takes one from a code cell instead.

Camera failures (no camera, permission denied, ...) arrive as ``error_name``/``error_detail``, the
browser's own names; :attr:`Camera.error` turns them into the :mod:`fer_kit.demo` exception with the
message to show.

Works in JupyterLab 4, Notebook 7 and Voilà (anywidget ships their front-end extension); on Colab,
creating the widget enables Colab's custom widget manager.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable

import anywidget
import numpy as np
import traitlets as T

from fer_kit import config
from fer_kit.demo import CameraError, camera_error, decode_image, encode_image

log = logging.getLogger(__name__)

FrameHandler = Callable[[np.ndarray, bool], "np.ndarray | None"]

_ESM = r"""
function el_(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

function render({ model, el }) {
  el.classList.add("ferkit-camera");
  const bar = el_("div", "ferkit-bar");
  const startBtn = el_("button", "ferkit-btn", "Start camera");
  const stopBtn = el_("button", "ferkit-btn", "Stop");
  const snapBtn = el_("button", "ferkit-btn", "Snapshot");
  const note = el_("span", "ferkit-note", "Camera off.");
  bar.append(startBtn, stopBtn, snapBtn, note);
  const screen = el_("div", "ferkit-screen");
  const video = el_("video", "ferkit-video");
  video.muted = true;
  video.playsInline = true;
  const img = el_("img", "ferkit-annotated");
  img.alt = "annotated camera frame";
  img.style.display = "none";
  screen.append(video, img);
  el.append(bar, screen);

  const canvas = document.createElement("canvas");
  let stream = null, timer = null, inflight = 0, seq = 0, url = null, sent = 0;

  function setNote(text) { note.textContent = text; }
  function buttons() {
    startBtn.disabled = timer !== null;
    stopBtn.disabled = stream === null;
  }
  function report(name, detail) {
    model.set("error_name", name || "Error");
    model.set("error_detail", detail || "");
    model.set("running", false);
    model.save_changes();
    setNote("Camera error: " + (name || "Error") + ".");
  }

  async function open() {
    if (stream) return;
    const api = navigator.mediaDevices && navigator.mediaDevices.getUserMedia;
    if (!api) {
      const err = new Error("navigator.mediaDevices.getUserMedia is unavailable on this page");
      err.name = window.isSecureContext ? "NotSupportedError" : "SecurityError";
      throw err;
    }
    stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: model.get("width") }, height: { ideal: model.get("height") }, facingMode: "user" },
      audio: false,
    });
    video.srcObject = stream;
    await video.play();
    if (!video.videoWidth) await new Promise((r) => video.addEventListener("loadedmetadata", r, { once: true }));
    model.set("error_name", "");
    model.set("error_detail", "");
    model.save_changes();
  }

  function close() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    video.srcObject = null;
    inflight = 0;
    buttons();
  }

  async function grab(still) {
    if (!stream || !video.videoWidth) return;
    const now = performance.now();
    if (!still && inflight && now - inflight < 5000) return; // the kernel is busy: skip, never queue
    inflight = now;
    const w = video.videoWidth, h = video.videoHeight;
    canvas.width = w;
    canvas.height = h;
    canvas.getContext("2d").drawImage(video, 0, 0, w, h);
    const blob = await new Promise((r) => canvas.toBlob(r, "image/jpeg", model.get("quality")));
    if (!blob) { inflight = 0; return; }
    const buffer = await blob.arrayBuffer();
    seq += 1;
    sent += 1;
    model.send({ type: "frame", seq, width: w, height: h, still }, undefined, [buffer]);
  }

  function schedule() {
    if (timer !== null) clearInterval(timer);
    timer = setInterval(() => grab(false), 1000 / Math.max(0.2, model.get("fps")));
    buttons();
  }

  async function start() {
    try {
      setNote("Starting the camera ...");
      await open();
    } catch (err) {
      close();
      report(err.name, err.message);
      return;
    }
    model.set("running", true);
    model.save_changes();
    schedule();
    setNote(`Camera on: ${video.videoWidth}×${video.videoHeight}, ${model.get("fps")} frames/s to the kernel.`);
  }

  function stop() {
    close();
    model.set("running", false);
    model.save_changes();
    setNote("Camera off.");
  }

  async function snapshot() {
    const wasLive = timer !== null;
    try {
      await open();
    } catch (err) {
      close();
      report(err.name, err.message);
      return;
    }
    if (!wasLive) await new Promise((r) => setTimeout(r, 400)); // let exposure settle
    await grab(true);
    if (!wasLive) close();
    setNote("Snapshot sent to the kernel.");
  }

  function show() {
    const data = model.get("annotated");
    if (url) URL.revokeObjectURL(url);
    url = null;
    if (!data || data.byteLength === 0) {
      img.style.display = "none";
      video.style.display = "";
      return;
    }
    url = URL.createObjectURL(new Blob([data], { type: "image/jpeg" }));
    img.src = url;
    img.style.display = "";
    video.style.display = "none";
  }

  startBtn.addEventListener("click", start);
  stopBtn.addEventListener("click", stop);
  snapBtn.addEventListener("click", snapshot);
  model.on("change:annotated", show);
  model.on("change:fps", () => { if (timer !== null) schedule(); });
  model.on("msg:custom", (msg) => {
    if (msg.type === "done") inflight = 0;
    else if (msg.type === "start") start();
    else if (msg.type === "stop") stop();
    else if (msg.type === "snapshot") snapshot();
  });
  buttons();
  show();
  return () => { close(); if (url) URL.revokeObjectURL(url); };
}

export default { render };
"""

_CSS = """
.ferkit-camera { display: flex; flex-direction: column; gap: 6px; }
.ferkit-bar { display: flex; align-items: center; gap: 6px; flex-wrap: wrap; }
.ferkit-btn { padding: 4px 12px; border: 1px solid #999; border-radius: 3px; background: #f0f0f0; cursor: pointer;
  font: inherit; }
.ferkit-btn:disabled { opacity: 0.45; cursor: default; }
.ferkit-note { color: #555; font-size: 0.9em; }
.ferkit-screen { width: 100%; max-width: 640px; min-height: 120px; background: #222; border-radius: 4px;
  overflow: hidden; }
.ferkit-video, .ferkit-annotated { display: block; width: 100%; height: auto; }
"""


class Camera(anywidget.AnyWidget):
    """Webcam frames from the browser to ``on_frame(rgb, still)``; its returned picture back to the browser.

    ``on_frame`` gets a uint8 RGB frame and ``still`` (True for a snapshot) and returns the picture to
    show (or None to show nothing new). ``fps`` is the rate frames are sent at; ``width``/``height`` the
    resolution asked of the camera (the browser may choose another).
    """

    _esm = _ESM
    _css = _CSS

    fps = T.Float(5.0, help="frames per second sent to the kernel").tag(sync=True)
    width = T.Int(640, help="ideal capture width").tag(sync=True)
    height = T.Int(480, help="ideal capture height").tag(sync=True)
    quality = T.Float(0.8, help="JPEG quality of the frames sent").tag(sync=True)
    running = T.Bool(False, help="set by the browser: the live stream is on").tag(sync=True)
    error_name = T.Unicode("", help="set by the browser: getUserMedia's error name").tag(sync=True)
    error_detail = T.Unicode("", help="set by the browser: the error's message").tag(sync=True)
    annotated = T.Bytes(b"", help="the JPEG shown in the browser").tag(sync=True)
    frames = T.Int(0, help="frames received by the kernel")
    failures = T.Int(0, help="frames whose processing raised (the last message is in `problem`)")
    problem = T.Unicode("", help="the last processing error")

    def __init__(self, on_frame: FrameHandler | None = None, **kwargs):
        enable_colab_widgets()
        super().__init__(**kwargs)
        self.on_frame = on_frame
        self.on_msg(self._on_message)

    @property
    def error(self) -> CameraError | None:
        """The camera failure the browser reported, as a :mod:`fer_kit.demo` exception (None if none)."""
        return camera_error(self.error_name, self.error_detail) if self.error_name else None

    def start(self) -> None:
        """Ask the browser views to start the live stream (as the Start button does)."""
        self.send({"type": "start"})

    def stop(self) -> None:
        """Ask the browser views to stop the camera."""
        self.send({"type": "stop"})

    def snapshot(self) -> None:
        """Ask the browser views to send one still frame."""
        self.send({"type": "snapshot"})

    def show(self, rgb: np.ndarray | None) -> None:
        """Show ``rgb`` in the widget (None clears it)."""
        self.annotated = b"" if rgb is None else encode_image(rgb, "jpeg", quality=85)

    def process(self, data: bytes | memoryview, still: bool = False) -> None:
        """Handle one encoded frame as if the browser had sent it (what the message handler calls)."""
        rgb = decode_image(data, "camera frame")
        self.frames += 1
        out = self.on_frame(rgb, still) if self.on_frame is not None else rgb
        if out is not None:
            self.show(out)

    def _on_message(self, _widget, content: dict, buffers: list) -> None:
        if content.get("type") != "frame":
            return
        try:
            if not buffers:
                raise ValueError("a frame message without its image buffer")
            self.process(buffers[0], bool(content.get("still")))
        except Exception as exc:  # noqa: BLE001 — keep the stream alive; the reason is kept in `problem`
            self.failures += 1
            self.problem = f"{type(exc).__name__}: {exc}"
            log.exception("camera frame %s failed", content.get("seq"))
        finally:
            self.send({"type": "done", "seq": content.get("seq")})  # the browser may send the next frame


def enable_colab_widgets() -> None:
    """On Colab, enable the custom widget manager that third-party widgets need (a no-op elsewhere)."""
    if config.in_colab():
        from google.colab import output  # type: ignore[import-not-found]

        output.enable_custom_widget_manager()


_COLAB_SNAPSHOT_JS = """
async function takePhoto(quality) {
  const div = document.createElement('div');
  const button = document.createElement('button');
  button.textContent = 'Capture';
  div.appendChild(button);
  const video = document.createElement('video');
  video.style.display = 'block';
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({video: true});
  } catch (err) {
    throw new Error(err.name + ': ' + err.message);
  }
  document.body.appendChild(div);
  div.appendChild(video);
  video.srcObject = stream;
  await video.play();
  google.colab.output.setIframeHeight(document.documentElement.scrollHeight, true);
  await new Promise((resolve) => button.onclick = resolve);
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  stream.getVideoTracks()[0].stop();
  div.remove();
  return canvas.toDataURL('image/jpeg', quality);
}
"""


def colab_snapshot(quality: float = 0.85) -> np.ndarray:
    """Colab only: show a live preview with a Capture button in the cell's output and return the still as
    uint8 RGB — the fallback when the live widget cannot run. Camera failures raise the
    :mod:`fer_kit.demo` exception (``NoCameraError``, ``CameraPermissionError``, ...)."""
    if not config.in_colab():
        raise RuntimeError("colab_snapshot works in Google Colab only; elsewhere use the Camera widget")
    from google.colab.output import eval_js  # type: ignore[import-not-found]

    try:
        data_url = eval_js(_COLAB_SNAPSHOT_JS + f"takePhoto({float(quality)})")
    except Exception as exc:  # noqa: BLE001 — Colab wraps the browser's error in its own type
        text = str(exc)
        name = next((w.rstrip(":") for w in text.split() if w.rstrip(":").endswith("Error")), "")
        raise camera_error(name, text) from exc
    return decode_image(base64.b64decode(data_url.split(",", 1)[1]), "snapshot")
