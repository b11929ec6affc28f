"""Figures the notebooks share. Each function draws on an ``ax`` (or makes a figure) and returns it."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from fer_kit.data import FaceSet, class_counts, intensity_stats, subject_expression_matrix


def show_faces(images: np.ndarray, titles: Sequence[str] | None = None, ncols: int = 8,
               size: float = 1.2, suptitle: str | None = None) -> plt.Figure:
    """A grid of 48×48 gray faces."""
    n = max(len(images), 1)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * (1.25 if titles else 1)),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(images):
            ax.imshow(images[k], cmap="gray", vmin=0, vmax=255)
            if titles is not None:
                ax.set_title(titles[k], fontsize=7)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def class_grid(faces: FaceSet, per_class: int = 8, seed: int = 0, indices: np.ndarray | None = None,
               size: float = 1.0) -> plt.Figure:
    """One row per class with ``per_class`` random examples (blank where a class has fewer)."""
    rng = np.random.default_rng(seed)
    pool = np.arange(len(faces)) if indices is None else np.asarray(indices)
    k = len(faces.class_names)
    fig, axes = plt.subplots(k, per_class, figsize=(per_class * size, k * size), squeeze=False)
    for c, name in enumerate(faces.class_names):
        members = pool[faces.labels[pool] == c]
        chosen = rng.choice(members, size=min(per_class, len(members)), replace=False) if len(members) else []
        for j, ax in enumerate(axes[c]):
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if j < len(chosen):
                ax.imshow(faces.images[chosen[j]], cmap="gray", vmin=0, vmax=255)
        axes[c, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(f"{faces.name}: random examples per class", y=1.0)
    fig.tight_layout()
    return fig


def plot_class_distribution(faces: FaceSet, ax: plt.Axes | None = None, log: bool = False) -> plt.Axes:
    """Bar chart of images per class, one colour per source split, counts written on the bars."""
    counts = class_counts(faces).drop(columns="total", errors="ignore")
    long = counts.reset_index().melt(id_vars="class", var_name="split", value_name="images")
    ax = ax or plt.subplots(figsize=(7, 3.2))[1]
    sns.barplot(data=long, x="class", y="images", hue="split", ax=ax, palette="viridis")
    for container in ax.containers:
        ax.bar_label(container, fontsize=7, padding=1)
    if log:
        ax.set_yscale("log")
    ax.set_title(f"{faces.name}: images per class")
    ax.set_xlabel("")
    sns.despine(ax=ax)
    return ax


def mean_faces(faces: FaceSet, ax_row: Sequence[plt.Axes] | None = None) -> plt.Figure:
    """The pixel-wise mean face of each class, and its difference from the overall mean."""
    k = len(faces.class_names)
    overall = faces.images.astype(np.float32).mean(axis=0)
    fig, axes = plt.subplots(2, k, figsize=(k * 1.3, 2.9), squeeze=False)
    for c, name in enumerate(faces.class_names):
        members = faces.images[faces.labels == c].astype(np.float32)
        mean = members.mean(axis=0) if len(members) else np.zeros_like(overall)
        axes[0, c].imshow(mean, cmap="gray", vmin=0, vmax=255)
        axes[0, c].set_title(f"{name}\n(n={len(members)})", fontsize=8)
        axes[1, c].imshow(mean - overall, cmap="coolwarm", vmin=-25, vmax=25)
        for ax in axes[:, c]:
            ax.axis("off")
    axes[1, 0].text(-6, 24, "minus\nmean", ha="right", va="center", fontsize=8)
    fig.suptitle(f"{faces.name}: mean face per class (top) and its difference from the overall mean (bottom)",
                 fontsize=9)
    fig.tight_layout()
    return fig


def plot_intensity(faces: FaceSet) -> plt.Figure:
    """Brightness and contrast per class (violins): do classes differ in more than expression?"""
    stats = intensity_stats(faces)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3))
    for ax, col in zip(axes, ("mean", "contrast")):
        sns.violinplot(data=stats, x="class", y=col, ax=ax, order=list(faces.class_names), inner="quartile",
                       cut=0, density_norm="width", color="#9ecae1")
        ax.set_xlabel("")
        ax.tick_params(axis="x", labelrotation=30)
        sns.despine(ax=ax)
    axes[0].set_ylabel("mean pixel value")
    axes[1].set_ylabel("pixel std (contrast)")
    fig.suptitle(f"{faces.name}: intensity statistics per class", fontsize=10)
    fig.tight_layout()
    return fig


def plot_subject_matrix(faces: FaceSet, max_subjects: int = 60, ax: plt.Axes | None = None) -> plt.Axes:
    """Heat map of images per subject × expression (the pairs a cGAN can learn from)."""
    matrix = subject_expression_matrix(faces)
    if matrix.empty:
        raise ValueError(f"{faces.name} has no subject ids, so there is no subject × expression matrix")
    shown = matrix.loc[matrix.sum(axis=1).sort_values(ascending=False).index[:max_subjects]]
    ax = ax or plt.subplots(figsize=(7, max(3, len(shown) * 0.12)))[1]
    sns.heatmap(shown, cmap="Blues", ax=ax, cbar_kws={"label": "images"}, linewidths=0.2, linecolor="white",
                yticklabels=len(shown) <= 40)
    ax.set_title(f"{faces.name}: images per subject × expression ({len(shown)} of {len(matrix)} subjects)")
    ax.set_xlabel("")
    return ax


def plot_expressions_per_subject(faces: FaceSet, ax: plt.Axes | None = None) -> plt.Axes:
    """Histogram of how many distinct expressions each subject shows."""
    matrix = subject_expression_matrix(faces)
    n_expr = (matrix > 0).sum(axis=1)
    ax = ax or plt.subplots(figsize=(5, 2.8))[1]
    counts = n_expr.value_counts().reindex(range(1, len(faces.class_names) + 1), fill_value=0)
    ax.bar(counts.index, counts.values, color="#4c72b0")
    ax.bar_label(ax.containers[0], fontsize=8)
    ax.set_xlabel("distinct expressions shown by a subject")
    ax.set_ylabel("subjects")
    sns.despine(ax=ax)
    return ax


def plot_duplicate_pairs(faces: FaceSet, dups: pd.DataFrame, n: int = 6) -> plt.Figure | None:
    """Show up to ``n`` duplicate pairs side by side with their splits and labels."""
    if dups.empty:
        return None
    rows = dups.head(n)
    images, titles = [], []
    for r in rows.itertuples():
        images += [faces.images[r.i], faces.images[r.j]]
        titles += [f"{r.split_i}\n{r.label_i}", f"{r.split_j}\n{r.label_j} ({r.kind})"]
    return show_faces(np.stack(images), titles, ncols=min(2 * n, 12), size=1.3,
                      suptitle="duplicate pairs across splits")
