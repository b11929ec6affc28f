"""Image preprocessing defined once: grayscale conversion, 48×48 resizing, Haar face cropping.

The data readers (CK+ original release), the training pipelines and the live demo all go
through these functions, so the camera sees faces exactly as the classifier was trained on them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

IMAGE_SIZE = 48  # the side of every face the kit stores, trains on and classifies


def to_gray_uint8(image: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Return a 2-D uint8 grayscale image and the conversion applied (None if none was needed).

    Accepts gray, gray+alpha, RGB, RGBA (channels last, RGB order) and 16-bit or float images.
    """
    arr = np.asarray(image)
    conversion = None
    if arr.ndim == 3:
        channels = arr.shape[2]
        if channels == 1:
            arr = arr[..., 0]
        elif channels == 2:
            arr, conversion = arr[..., 0], "gray+alpha→gray"
        elif channels in (3, 4):
            rgb = arr[..., :3]
            conversion = "RGBA→gray" if channels == 4 else "RGB→gray"
            weights = np.array([0.299, 0.587, 0.114])
            arr = (rgb.astype(np.float64) @ weights)
            if image.dtype == np.uint8:
                arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        else:
            raise ValueError(f"expected 1-4 channels, got {channels}")
    elif arr.ndim != 2:
        raise ValueError(f"expected a 2-D or 3-D image, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if arr.dtype == np.uint16 or (np.issubdtype(arr.dtype, np.integer) and arr.max(initial=0) > 255):
            arr = np.clip(np.rint(arr.astype(np.float64) / 257.0), 0, 255).astype(np.uint8)
            conversion = "16-bit→8-bit" if conversion is None else conversion + ", 16-bit→8-bit"
        elif np.issubdtype(arr.dtype, np.floating):
            scale = 255.0 if arr.max(initial=0) <= 1.0 else 1.0
            arr = np.clip(np.rint(arr * scale), 0, 255).astype(np.uint8)
            conversion = conversion or "float→8-bit"
        else:
            arr = np.clip(arr, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr), conversion


def resize_face(gray: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Resize a grayscale face crop to ``size``×``size`` (area averaging when shrinking)."""
    if gray.shape == (size, size):
        return gray
    shrinking = gray.shape[0] > size or gray.shape[1] > size
    return cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


@lru_cache(maxsize=1)
def haar_cascade() -> cv2.CascadeClassifier:
    """OpenCV's bundled frontal-face Haar cascade (needs opencv 4.x; 5.x wheels dropped it)."""
    if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "data"):
        raise RuntimeError(
            f"OpenCV {cv2.__version__} has no CascadeClassifier/Haar files; install "
            "'opencv-python-headless>=4.8,<5' (see requirements.txt)."
        )
    path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise RuntimeError(f"could not load the Haar cascade {path}")
    return cascade


def detect_faces(gray: np.ndarray, min_size: int = 24) -> np.ndarray:
    """Face boxes ``(x, y, w, h)`` in a grayscale uint8 image, largest first."""
    boxes = haar_cascade().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5,
                                            minSize=(min_size, min_size))
    boxes = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
    return boxes[np.argsort(-(boxes[:, 2] * boxes[:, 3]), kind="stable")]


def crop_box(gray: np.ndarray, box: tuple[int, int, int, int] | np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Square crop of ``box`` (clipped to the image), resized to ``size``×``size``."""
    x, y, w, h = (int(v) for v in box)
    side = max(w, h)
    cx, cy = x + w // 2, y + h // 2
    x0, y0 = max(cx - side // 2, 0), max(cy - side // 2, 0)
    x1, y1 = min(x0 + side, gray.shape[1]), min(y0 + side, gray.shape[0])
    return resize_face(gray[y0:y1, x0:x1], size)


def center_crop(gray: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """The central square of the image, resized: the fallback when no face is found."""
    h, w = gray.shape
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    return resize_face(gray[y0:y0 + side, x0:x0 + side], size)


def crop_largest_face(gray: np.ndarray, size: int = IMAGE_SIZE) -> tuple[np.ndarray, bool]:
    """Crop the largest detected face to ``size``×``size``; ``(center crop, False)`` when none is found."""
    boxes = detect_faces(gray)
    if len(boxes) == 0:
        return center_crop(gray, size), False
    return crop_box(gray, boxes[0], size), True
