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


def _box(ax, x, y, w, h, text, color):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02", fc=color, ec="0.3"))
    ax.text(x, y, text, ha="center", va="center", fontsize=7.5)


def _arrow(ax, a, b, color="0.3", style="-|>", ls="-"):
    ax.annotate("", xy=b, xytext=a, arrowprops={"arrowstyle": style, "color": color, "lw": 1.1, "ls": ls})


def plot_unet(cfg) -> plt.Figure:
    """The generator as a U: encoder stages down, the [f(x), y, z] bottleneck, decoder stages up,
    skip connections across (stage i ↔ n − i), the condition where it enters (the paper's Fig. 1)."""
    fig, ax = plt.subplots(figsize=(10, 4.6))
    n, s = cfg.depth, cfg.image_size
    xs_enc = np.linspace(0.8, 3.6, n + 1)
    xs_dec = np.linspace(8.4, 5.6, n + 1)
    ys = np.linspace(4.2, 1.6, n + 1)
    _box(ax, xs_enc[0], ys[0], 1.1, 0.55, f"x\n{s}×{s}×1", "#fde0dd")
    for i in range(1, n + 1):
        side = s // 2**i
        _box(ax, xs_enc[i], ys[i], 1.1, 0.55, f"enc {i}\n{side}×{side}×{cfg.filters * 2 ** (i - 1)}", "#c6dbef")
        _arrow(ax, (xs_enc[i - 1], ys[i - 1] - 0.3), (xs_enc[i], ys[i] + 0.3))
        _arrow(ax, (xs_dec[i], ys[i] + 0.3), (xs_dec[i - 1], ys[i - 1] - 0.3))
        if cfg.skips:
            _arrow(ax, (xs_enc[i] + 0.55, ys[i]), (xs_dec[i] - 0.55, ys[i]), color="#3182bd", ls="--")
            ax.text((xs_enc[i] + xs_dec[i]) / 2, ys[i] + 0.08, "skip (concatenate)", fontsize=7,
                    color="#3182bd", ha="center")
        if cfg.condition_every_stage:
            ax.text(xs_dec[i] + 0.62, ys[i], "+ y", fontsize=7, color="#d95f0e")
    for i in range(1, n + 1):  # decoder tensors before each join; stage i upsamples to the level above
        side = s // 2**i
        ch = cfg.filters * 2 ** (n - 1) if i == n else cfg.filters * 2 ** max(i - 1, 0)
        _box(ax, xs_dec[i], ys[i], 1.1, 0.55, f"dec {n - i + 1}\n{side}×{side}×{ch}", "#c7e9c0")
    _box(ax, xs_dec[0], ys[0], 1.1, 0.55, f"G(x, y)\n{s}×{s}×1", "#fde0dd")
    code = f"f(x) ∈ [−1,1]^{cfg.feature_dim}  ⊕  y (one-hot {cfg.n_classes})" + (f"  ⊕  z ({cfg.z_dim})" if cfg.z_dim
                                                                                  else "")
    _box(ax, 4.6, 0.55, 4.6, 0.5, code, "#fee6ce")
    _arrow(ax, (xs_enc[n], ys[n] - 0.3), (3.2, 0.8))
    _arrow(ax, (6.0, 0.8), (xs_dec[n], ys[n] - 0.3))
    ax.text(4.6, 0.05, "f(x) also goes to D2, which compares it with samples of U(−1, 1)", ha="center", fontsize=7.5,
            style="italic")
    ax.set_xlim(0, 9.6)
    ax.set_ylim(-0.2, 4.7)
    ax.axis("off")
    ax.set_title("Generator: U-Net encoder–decoder with an expression condition (the paper's Fig. 1)", fontsize=10)
    return fig


def plot_discriminators(cfg) -> plt.Figure:
    """D1 on (image, condition) and D2 on encoder features vs the uniform prior (the paper's Fig. 2)."""
    fig, ax = plt.subplots(figsize=(10, 3.2))
    p = cfg.image_size // 2**cfg.depth
    _box(ax, 1.0, 2.5, 1.7, 0.5, "x′ (real, same subject)\nor G(x, y) (fake)", "#fde0dd")
    _box(ax, 1.0, 1.7, 1.7, 0.4, f"y tiled to {p}×{p}×{cfg.n_classes}", "#fee6ce")
    _box(ax, 4.0, 2.1, 2.2, 0.7, f"D1: {cfg.depth} strided convs on the image,\nthen ⊕ y for the patch head",
         "#c6dbef")
    _box(ax, 7.4, 2.5, 2.6, 0.45, f"{p}×{p} patch logits: real or fake?", "#e5f5e0")
    _box(ax, 7.4, 1.8, 2.6, 0.45, f"aux (image only): which of {cfg.n_classes} expressions?", "#f0f0f0")
    for a, b in (((1.85, 2.5), (2.9, 2.2)), ((1.85, 1.7), (2.9, 2.0)), ((5.1, 2.2), (6.1, 2.5)),
                 ((5.1, 2.0), (6.1, 1.8))):
        _arrow(ax, a, b)
    _box(ax, 1.0, 0.75, 1.7, 0.4, f"f* ~ U(−1, 1)^{cfg.feature_dim}: positive", "#e5f5e0")
    _box(ax, 1.0, 0.25, 1.7, 0.4, "f(x) from G's encoder: negative", "#fde0dd")
    _box(ax, 4.0, 0.5, 2.2, 0.6, f"D2: MLP {cfg.d2_units}→{cfg.d2_units // 2}→1", "#c6dbef")
    _box(ax, 7.4, 0.5, 2.6, 0.45, "logit: prior sample or encoder feature?", "#e5f5e0")
    for a, b in (((1.85, 0.75), (2.9, 0.55)), ((1.85, 0.25), (2.9, 0.45)), ((5.1, 0.5), (6.1, 0.5))):
        _arrow(ax, a, b)
    ax.set_xlim(0, 8.8)
    ax.set_ylim(0, 2.9)
    ax.axis("off")
    ax.set_title("Discriminators (the paper's Fig. 2): D1 judges images with their condition, D2 judges features",
                 fontsize=10)
    return fig


def show_translation_grid(grid: np.ndarray, class_names: Sequence[str], ax: plt.Axes | None = None,
                          title: str = "source → G(x, y) for each expression") -> plt.Axes:
    """Show a :func:`fer_kit.gan_training.sample_grid` mosaic with the expressions named on top."""
    k = len(class_names)
    ax = ax or plt.subplots(figsize=(1.2 * (k + 1), 1.2 * grid.shape[0] / 48 + 0.8))[1]
    ax.imshow(grid, cmap="gray", vmin=0, vmax=255)
    ax.set_yticks([])
    ax.set_xticks(np.arange(k + 1) * 48 + 24 + np.r_[0, [4] * k], ["source", *class_names], rotation=30, fontsize=8)
    ax.xaxis.tick_top()
    ax.set_title(title, fontsize=10)
    return ax


def plot_balance(counts: np.ndarray, added: np.ndarray, class_names: Sequence[str], ax: plt.Axes | None = None,
                 title: str = "training images per class") -> plt.Axes:
    """Stacked bars: the original training images and the images augmentation adds to each class."""
    ax = ax or plt.subplots(figsize=(7, 3))[1]
    x = np.arange(len(class_names))
    ax.bar(x, counts, color="#4c72b0", label="original")
    ax.bar(x, added, bottom=counts, color="#dd8452", label="added")
    for i, (c, a) in enumerate(zip(counts, added)):
        ax.text(i, c + a, f"{c}+{a}" if a else str(c), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, class_names, rotation=30)
    ax.set_ylim(0, (np.asarray(counts) + np.asarray(added)).max() * 1.15)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    sns.despine(ax=ax)
    return ax


def plot_probabilities(probs: np.ndarray, class_names: Sequence[str], ax: plt.Axes | None = None,
                       highlight: int | None = None) -> plt.Axes:
    """Horizontal bars of one face's class probabilities (``highlight`` in another colour)."""
    ax = ax or plt.subplots(figsize=(3.2, 2.4))[1]
    colors = ["#dd8452" if i == highlight else "#4c72b0" for i in range(len(class_names))]
    ax.barh(np.arange(len(class_names)), probs, color=colors)
    ax.set_yticks(np.arange(len(class_names)), class_names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability", fontsize=8)
    sns.despine(ax=ax)
    return ax


SETTING_COLORS = {"none": "#8c8c8c", "traditional": "#4c72b0", "gan": "#dd8452"}


def plot_table6(table: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Test accuracy per protocol and setting with 95 % confidence intervals; the paper's numbers as ×."""
    groups = list(dict.fromkeys(table["protocol"]))
    ax = ax or plt.subplots(figsize=(2.6 * len(groups) + 2, 3.4))[1]
    width = 0.26
    for j, setting in enumerate(("none", "traditional", "gan")):
        rows = [table[(table["protocol"] == g) & (table["setting"] == setting)] for g in groups]
        x = np.arange(len(groups)) + (j - 1) * width
        means = [r["test acc"].iloc[0] if len(r) else np.nan for r in rows]
        low = [r["test acc"].iloc[0] - r["CI low"].iloc[0] if len(r) else np.nan for r in rows]
        high = [r["CI high"].iloc[0] - r["test acc"].iloc[0] if len(r) else np.nan for r in rows]
        ax.bar(x, means, width, color=SETTING_COLORS[setting], label=setting,
               yerr=np.nan_to_num([low, high], nan=0.0), capsize=3)
        paper = [r["paper test"].iloc[0] if len(r) else np.nan for r in rows]
        ax.scatter(x, paper, marker="x", color="k", zorder=3, label="paper" if j == 0 else None)
    ax.set_xticks(np.arange(len(groups)), groups)
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
    ax.set_title("Table 6: mean over seeds, 95 % CI; × = the paper")
    sns.despine(ax=ax)
    return ax


def plot_per_class(per_class: pd.DataFrame, protocol: str, highlight: Sequence[str] = ("disgust", "contempt", "fear"),
                   ax: plt.Axes | None = None) -> plt.Axes:
    """Per-class test accuracy for each setting (one protocol); minority classes' names in bold."""
    frame = per_class.xs(protocol, level="protocol").droplevel("data")
    frame = frame[[s for s in ("none", "traditional", "gan") if s in frame.columns]]
    ax = ax or plt.subplots(figsize=(8, 3.2))[1]
    frame.plot.bar(ax=ax, color=[SETTING_COLORS[c] for c in frame.columns], width=0.8)
    ax.set_ylabel("accuracy (%)")
    ax.set_xlabel("")
    for label in ax.get_xticklabels():
        label.set_rotation(30)
        if label.get_text() in highlight:
            label.set_fontweight("bold")
    ax.set_title(f"per-class test accuracy ({protocol}); minority classes in bold")
    ax.legend(fontsize=8)
    sns.despine(ax=ax)
    return ax


def plot_confusions(results: list[dict], protocol: str, class_names: Sequence[str]) -> plt.Figure:
    """Row-normalised confusion matrices summed over seeds and folds, one panel per setting."""
    settings = [s for s in ("none", "traditional", "gan") if any(r["setting"] == s for r in results)]
    fig, axes = plt.subplots(1, len(settings), figsize=(4.2 * len(settings), 3.8), squeeze=False)
    for ax, setting in zip(axes[0], settings):
        total = sum(np.array(r["metrics"]["confusion"]) for r in results
                    if r["setting"] == setting and r["protocol"] == protocol)
        norm = total / np.maximum(total.sum(axis=1, keepdims=True), 1)
        sns.heatmap(norm, ax=ax, vmin=0, vmax=1, cmap="Blues", annot=True, fmt=".2f", annot_kws={"fontsize": 6},
                    xticklabels=class_names, yticklabels=class_names, cbar=False)
        ax.set_title(f"{setting} ({protocol})", fontsize=9)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def plot_curves(results: list[dict], protocol: str, seed: int = 0, fold: int = 0) -> plt.Figure:
    """Training and validation accuracy per epoch of one seed and fold, one line per setting."""
    fig, ax = plt.subplots(figsize=(7, 3))
    for r in results:
        if (r["protocol"], r["seed"], r["fold"]) != (protocol, seed, fold):
            continue
        h = r["metrics"]["history"]
        color = SETTING_COLORS[r["setting"]]
        ax.plot(np.arange(1, len(h["accuracy"]) + 1), h["accuracy"], color=color, ls="--", lw=1)
        ax.plot(np.arange(1, len(h["val_accuracy"]) + 1), h["val_accuracy"], color=color, label=r["setting"])
        ax.axvline(r["metrics"]["best_epoch"], color=color, lw=0.8, alpha=0.5)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{protocol}, seed {seed}, fold {fold}: validation (solid), training (dashed); chosen epoch |")
    ax.legend(fontsize=8)
    sns.despine(ax=ax)
    return fig
