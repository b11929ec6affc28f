"""ipywidgets for the notebooks' readers."""

from __future__ import annotations

import io

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np

from fer_kit.data import FaceSet
from fer_kit.viz import plot_probabilities, show_faces

ALL = "(all)"


def figure_png(fig, dpi: int = 80) -> bytes:
    """A matplotlib figure as PNG bytes (closed afterwards), for an ``ipywidgets.Image``."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


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
        self.picture.value = figure_png(show_faces(f.images[shown], titles, ncols=self.ncols, size=1.1))


class GeneratorExplorer(W.VBox):
    """Pick a source face and a target expression, see G(x, y) and what the judge makes of it; the
    blend slider mixes two expression conditions, y = (1 − α)·e_a + α·e_b."""

    def __init__(self, model, faces: FaceSet, indices: np.ndarray, classify, seed: int = 0):
        self.model, self.faces, self.indices = model, faces, np.asarray(indices)
        self.classify, self.seed = classify, seed
        names = list(faces.class_names)
        self.source = W.IntSlider(min=0, max=len(self.indices) - 1, description="source face", continuous_update=False)
        self.target = W.Dropdown(options=names, value=names[-1], description="expression")
        self.blend_to = W.Dropdown(options=names, value=names[0], description="blend with")
        self.alpha = W.FloatSlider(min=0, max=1, step=0.1, value=0, description="α", continuous_update=False)
        self.picture = W.Image(format="png")
        self.status = W.HTML()
        for w in (self.source, self.target, self.blend_to, self.alpha):
            w.observe(lambda _: self._draw(), names="value")
        super().__init__([W.HBox([self.source, self.target]), W.HBox([self.blend_to, self.alpha]), self.status,
                          self.picture])
        self._draw()

    def condition(self) -> np.ndarray:
        """The condition vector now chosen (one-hot, or a blend of two expressions)."""
        names, k = list(self.faces.class_names), len(self.faces.class_names)
        y = np.zeros(k, np.float32)
        y[names.index(self.target.value)] += 1 - self.alpha.value
        y[names.index(self.blend_to.value)] += self.alpha.value
        return y

    def _draw(self) -> None:
        i = self.indices[self.source.value]
        src = self.faces.images[[i]]
        fake = self.model.translate(src, self.condition()[None], seed=self.seed)
        probs = np.asarray(self.classify(fake))[0]
        names = self.faces.class_names
        fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.4), gridspec_kw={"width_ratios": [1, 1, 1.6]})
        axes[0].imshow(src[0], cmap="gray", vmin=0, vmax=255)
        axes[0].set_title(f"source: {names[self.faces.labels[i]]}", fontsize=8)
        axes[1].imshow(fake[0], cmap="gray", vmin=0, vmax=255)
        axes[1].set_title("G(x, y)", fontsize=8)
        for ax in axes[:2]:
            ax.axis("off")
        plot_probabilities(probs, names, ax=axes[2], highlight=int(np.argmax(self.condition())))
        axes[2].set_title("judge's probabilities", fontsize=8)
        self.picture.value = figure_png(fig)
        self.status.value = (f"subject <b>{self.faces.subjects[i] or '-'}</b>; the judge says "
                             f"<b>{names[int(np.argmax(probs))]}</b> ({probs.max():.0%})")
