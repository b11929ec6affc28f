"""The demo in a real browser: Voilà serves notebook 06 on loopback, Chromium (Debian's, driven by Playwright
for Python) opens it with a fake camera fed a y4m video of scikit-image's astronaut made at test time.

Checked on the kernel side (the app's JSON status file, ``$FER_KIT_DEMO_STATUS``): camera frames arrived,
a face was found, a prediction was made; a picture chosen through the file chooser was recognised; a
file that is not an image got its message; a refused camera got its message. Screenshots go to
``build/browser/`` (git-ignored). Skipped, with the reason, only when Chromium or Playwright is missing
(``.ci/run`` installs Chromium; ``requirements.txt`` pins Playwright and Voilà).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ROOT
from skimage import data as skimage_data

from fer_kit import demo

CHROMIUM = Path(os.environ.get("FER_KIT_CHROMIUM", "/usr/bin/chromium"))
NOTEBOOK = ROOT / "notebooks" / "06_webcam_demo.ipynb"
SHOTS = ROOT / "build" / "browser"
PORT = 18866  # fixed; the server must not silently move to another (port_retries=0)
CLASSES = ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")

_missing = [what for what, ok in (
    (f"Chromium at {CHROMIUM} (Debian: apt-get install chromium; .ci/run does it)", CHROMIUM.is_file()),
    ("Playwright for Python (pip install -r requirements.txt)", importlib.util.find_spec("playwright") is not None),
    ("Voilà (pip install -r requirements.txt)", importlib.util.find_spec("voila") is not None),
) if not ok]
pytestmark = pytest.mark.skipif(bool(_missing), reason="browser test needs " + "; ".join(_missing))


def write_y4m(path: Path, rgb: np.ndarray, frames: int = 10, fps: int = 15) -> Path:
    """A y4m video (text header, then raw 4:2:0 frames) showing ``rgb``: Chromium's fake camera input."""
    h, w = rgb.shape[:2]
    yuv = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes()  # Y plane, then U, then V
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + yuv)
    return path


def _model(folder: Path) -> Path:
    """The quick model's architecture, untrained, saved as the demo expects (weights do not matter here)."""
    from fer_kit.classify import build_baseline_cnn

    folder.mkdir(parents=True, exist_ok=True)
    build_baseline_cnn(len(CLASSES)).save(folder / "model.keras")
    (folder / "model.json").write_text(json.dumps({"class_names": CLASSES, "data": "untrained (browser test)"}))
    return folder / "model.keras"


def _status(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _wait_for(what: str, check, status_path: Path, server_log: Path, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = _status(status_path)
        if check(status):
            return status
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}; last status: {json.dumps(_status(status_path))[:1500]}\n"
                f"server log:\n{server_log.read_text()[-3000:]}")


@pytest.fixture()
def voila_server(tmp_path):
    """Voilà serving notebook 06 on 127.0.0.1:PORT (reduced mode, a throw-away model, a status file)."""
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", PORT)) == 0:
            pytest.fail(f"port {PORT} is already in use: stop whatever listens there and rerun")
    status = tmp_path / "status.json"
    env = {**os.environ, "FER_KIT_REDUCED": "1", demo.MODEL_ENV: str(_model(tmp_path / "model")),
           "FER_KIT_DEMO_STATUS": str(status), "TF_CPP_MIN_LOG_LEVEL": "2"}
    log = tmp_path / "voila.log"
    cmd = [sys.executable, "-m", "voila", str(NOTEBOOK), "--no-browser", f"--port={PORT}", "--Voila.ip=127.0.0.1",
           "--Voila.port_retries=0", "--show_tracebacks=True"]
    with open(log, "wb") as out:
        server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)  # its own process group: the kernels go with it
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"Voilà exited with {server.returncode}:\n{log.read_text()[-3000:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", PORT)) == 0:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"Voilà did not listen on port {PORT} within 60 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{PORT}/", status, log
    finally:
        server.terminate()  # by PID: Voilà shuts its kernels down on SIGTERM
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)  # the group we started, kernels included
            server.wait(timeout=10)


def test_camera_and_picture_modes_in_chromium(voila_server, tmp_path, report_figure):
    from playwright.sync_api import expect, sync_playwright

    url, status_path, server_log = voila_server
    frame = demo.sample_frame()
    video = write_y4m(tmp_path / "astronaut.y4m", frame)
    picture = tmp_path / "astronaut.png"  # the photo itself (512×512), for the picture mode
    cv2.imwrite(str(picture), cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR))
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a picture\n")
    SHOTS.mkdir(parents=True, exist_ok=True)
    wait = lambda what, check, timeout=120: _wait_for(what, check, status_path, server_log, timeout)  # noqa: E731

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"],
            env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})  # Chromium has its own allocator
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(url, timeout=60_000)
            start = page.get_by_role("button", name="Start camera")
            message = page.locator(".ferkit-message")  # the app's message line
            failed = page.get_by_text("Traceback (most recent call last)").or_(
                page.get_by_text("There was an error when executing cell"))  # a cell raised: Voilà stops there
            expect(start.or_(failed).first).to_be_visible(timeout=240_000)  # Voilà first runs the whole notebook
            if failed.count():
                pytest.fail(f"Voilà could not run the notebook:\n{failed.first.inner_text()[-3000:]}\n"
                            f"server log:\n{server_log.read_text()[-2000:]}")

            # live camera: frames reach the kernel, a face is found and classified, the result comes back
            start.click()
            status = wait("camera frames with a classified face", lambda s: s.get("frames", 0) >= 3 and any(
                f.get("label") for f in ((s.get("last_frame") or {}).get("faces") or [])))
            face = status["last_frame"]["faces"][0]
            assert status["last_frame"]["shape"] == [480, 640, 3]
            assert status["frames_with_face"] >= 1 and face["label"] in CLASSES
            assert sum(face["probs"]) == pytest.approx(1, abs=1e-3)
            x, y, w, h = face["box"]
            assert 230 <= x + w / 2 <= 350 and 60 <= y + h / 2 <= 160  # the astronaut's face
            shown = page.locator("img.ferkit-annotated")
            expect(shown).to_be_visible(timeout=30_000)
            assert shown.evaluate("img => img.naturalWidth") == 640
            expect(page.locator(".ferkit-probs").first).to_contain_text(face["label"])
            app = page.locator(".ferkit-demo-app")
            app.screenshot(path=str(SHOTS / "camera.png"))
            page.get_by_role("button", name="Stop").click()
            expect(page.get_by_text("Camera off.")).to_be_visible()

            # picture mode, through the file chooser: a photo, then a file that is not an image
            page.get_by_role("tab", name="Picture").click()
            for path in (picture, text_file):
                uploads = _status(status_path).get("uploads", 0)
                with page.expect_file_chooser() as chooser:
                    page.get_by_role("button", name="Choose a picture").click()
                chooser.value.set_files(str(path))
                status = wait(f"the upload of {path.name}", lambda s, n=uploads: s.get("uploads", 0) > n)
                last = status["last_upload"]
                assert last["name"] == path.name
                if path == picture:
                    assert last["shape"] == [512, 512, 3] and len(last["faces"]) == 1
                    assert last["faces"][0]["label"] in CLASSES
                    page.wait_for_timeout(500)  # let the picture paint
                    app.screenshot(path=str(SHOTS / "picture.png"))
                else:
                    assert last["error"] == "NotAnImageError"
                    expect(message).to_contain_text("'notes.txt' is not an image")

            # a refused camera: the browser's NotAllowedError reaches the kernel and comes back as a message
            page.get_by_role("tab", name="Camera").click()
            page.evaluate("""() => { navigator.mediaDevices.getUserMedia = () =>
                Promise.reject(new DOMException('Permission denied', 'NotAllowedError')); }""")
            page.get_by_role("button", name="Start camera").click()
            status = wait("the camera error", lambda s: s.get("camera_error") is not None, timeout=30)
            assert status["camera_error"]["type"] == "CameraPermissionError"
            expect(message).to_contain_text("Camera permission denied")
        finally:
            browser.close()
    report_figure(f"{status['frames']} camera frames reached the kernel; screenshots in {SHOTS}")
