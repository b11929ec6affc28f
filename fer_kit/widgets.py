"""ipywidgets for the notebooks' readers."""

from __future__ import annotations

import io

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np

from fer_kit.data import FaceSet
from fer_kit.viz import show_faces

ALL = "(all)"


class FaceBrowser(W.VBox):
    """Pick a class, a subject and a split; see the matching faces, a page at a time."""

    def __init__(self, faces: FaceSet, per_page: int = 24, ncols: int = 8):
        self.faces, self.per_page, self.ncols = faces, per_page, ncols
        subjects = sorted(set(faces.subjects) - {""})
        self.cls = W.Dropdown(options=[ALL, *faces.class_names], description="class")
        self.subject = W.Dropdown(options=[ALL, *subjects], description="subject", disabled=not subjects)
        self.split = W.Dropdown(options=[ALL, *faces.split_names], description="split",
                                disabled=not faces.split_names)
        self.page = W.IntSlider(min=0, max=0, description="page", continuous_update=False)
        self.status = W.HTML()
        self.picture = W.Image(format="png")  # a rendered PNG: no Output-widget capture needed
        for w in (self.cls, self.subject, self.split):
            w.observe(self._filters_changed, names="value")
        self.page.observe(lambda _: self._draw(), names="value")
        super().__init__([W.HBox([self.cls, self.subject, self.split]), W.HBox([self.page, self.status]), self.picture])
        self._filters_changed()

    def selection(self) -> np.ndarray:
        """Indices of the faces matching the current pickers."""
        pick = {k: (None if w.value == ALL else w.value)
                for k, w in (("label", self.cls), ("subject", self.subject), ("split", self.split))}
        return self.faces.where(**pick)

    def _filters_changed(self, _=None) -> None:
        n = len(self.selection())
        self.page.max = max(0, (n - 1) // self.per_page)
        self.page.value = 0
        self._draw()

    def _draw(self) -> None:
        idx = self.selection()
        shown = idx[self.page.value * self.per_page:(self.page.value + 1) * self.per_page]
        if not len(shown):
            self.status.value = "No face matches these choices."
            self.picture.value = b""
            return
        self.status.value = f"<b>{len(idx)}</b> matching image(s); showing {len(shown)}"
        f = self.faces
        titles = [f"{f.class_names[f.labels[i]]}\n{f.subjects[i] or f.splits[i]}" for i in shown]
        fig = show_faces(f.images[shown], titles, ncols=self.ncols, size=1.1)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        plt.close(fig)
        self.picture.value = buffer.getvalue()
