"""Figures for people: matplotlib without a display, titles that say what
was measured, point labels that do not collide, a layout check, PNGs
written atomically and the same images in TensorBoard.

Every plot of the toolkit goes through `save_figure`, which warns
(`PlotLayoutWarning`) when the figure has no title, an axis without a label,
several series without a legend, overlapping text, a legend over data, or a
percentage axis running outside [0, 100].
"""

from __future__ import annotations

import itertools
import os
import warnings

import numpy as np
import tensorflow as tf
from matplotlib.transforms import Bbox

from advmask_tf.io_utils import atomic_save

DATASET_NAMES = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST",
                 "cifar10": "CIFAR-10", "cifar100": "CIFAR-100",
                 "svhn_cropped": "SVHN"}

# Where a point's label may go, in points from the point, tried in order.
_LABEL_OFFSETS = ((5, 5), (5, -6), (-5, 5), (-5, -6), (0, 9), (0, -10),
                  (10, 0), (-10, 0), (12, 14), (-12, 14), (12, -15),
                  (-12, -15), (0, 20), (0, -21))


class PlotLayoutWarning(UserWarning):
    """A figure was written with a layout problem (see `layout_problems`)."""


def pyplot():
    """matplotlib.pyplot on the Agg backend (works on headless machines)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def dataset_name(data_config) -> str:
    """The dataset of a config's data block, as a reader knows it.

    >>> from advmask_tf.configs_lib import default_data_config
    >>> dataset_name(default_data_config())
    'Fashion-MNIST'
    """
    if data_config.source == "tfds":
        name = data_config.tfds_name
    elif data_config.source == "fashion_mnist":
        name = "fashion_mnist"
    else:
        name = (os.path.basename(os.path.normpath(data_config.path))
                or data_config.source)
    return DATASET_NAMES.get(name, name)


def context_line(dataset: str | None = None, eps: float | None = None,
                 points: int | None = None, checkpoint: str | None = None,
                 split: str = "test") -> str:
    """What a figure measured, for its title; parts left None are omitted.

    >>> context_line("Fashion-MNIST", 0.1, 10000, "best")
    'Fashion-MNIST, Linf eps 0.1, 10,000 test points, best checkpoint'
    """
    parts = []
    if dataset:
        parts.append(dataset)
    if eps is not None:
        parts.append(f"Linf eps {eps:g}")
    if points:
        parts.append(f"{int(points):,} {split} points")
    if checkpoint:
        parts.append(f"{checkpoint} checkpoint")
    return ", ".join(parts)


def robust_label(key: str) -> str:
    """The axis label of a report's robust accuracy entry.

    >>> robust_label("worst_case"), robust_label("pgd20")
    ('worst-case robust accuracy (%)', 'robust accuracy under pgd20 (%)')
    """
    if key == "worst_case":
        return "worst-case robust accuracy (%)"
    return f"robust accuracy under {key} (%)"


def clamp_percent_axes(ax, margin: float = 2.0) -> None:
    """Fits the x and y limits of a percentage plot to its data with
    `margin` points of room, never beyond [0, 100]. Markers on the edge
    stay whole (their clipping is turned off)."""
    points = np.concatenate([np.asarray(a, float).reshape(-1, 2)
                             for a in _data_points(ax)] or
                            [np.zeros((0, 2))])
    for index, setter in ((0, ax.set_xlim), (1, ax.set_ylim)):
        values = points[:, index] if len(points) else np.array([0.0, 100.0])
        low = max(0.0, float(values.min()) - margin)
        high = min(100.0, float(values.max()) + margin)
        if high - low < 2 * margin:
            middle = (low + high) / 2
            low = max(0.0, middle - 2 * margin)
            high = min(100.0, low + 4 * margin)
        setter(low, high)
    for artist in list(ax.lines) + list(ax.collections):
        artist.set_clip_on(False)


def label_points(ax, points, fontsize: float = 7, color=None) -> None:
    """Annotates each (x, y, text) in `points` beside its marker, choosing
    for each the first nearby position that overlaps no marker, no label
    placed before it, no legend, and stays inside the axes. Call it last,
    once the limits and the layout are final."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    area = ax.get_window_extent(renderer).padded(-3)
    radius = fig.dpi * 4.5 / 72  # about a marker's half width, in pixels
    taken = [_box(x - radius, y - radius, x + radius, y + radius)
             for x, y in ax.transData.transform(_all_points(ax))]
    if ax.get_legend() is not None:
        taken.append(ax.get_legend().get_window_extent(renderer))
    taken += [text.get_window_extent(renderer) for text in ax.texts]
    lines = [_box(x - 1, y - 1, x + 1, y + 1)
             for x, y in _line_samples(ax)]
    for x, y, text in _merge_coinciding(ax, points, radius):
        note = None
        for obstacles in (taken + lines, taken):
            note = _place_label(ax, renderer, area, obstacles, x, y, text,
                                fontsize, color)
            if note is not None:
                break
        if note is None:  # crowded: the first place; the check will say
            note = ax.annotate(text, (x, y), xytext=_LABEL_OFFSETS[0],
                               textcoords="offset points", fontsize=fontsize,
                               color=color)
        taken.append(note.get_window_extent(renderer))


def _merge_coinciding(ax, points, radius):
    """Points drawn on the same spot (within `radius` pixels) get one label
    listing their texts ("1, 3"), not labels stacked on each other."""
    merged = []  # [display x, display y, data x, data y, texts]
    for x, y, text in points:
        px, py = ax.transData.transform((x, y))
        for group in merged:
            if np.hypot(group[0] - px, group[1] - py) <= radius:
                group[4].append(text)
                break
        else:
            merged.append([px, py, x, y, [text]])
    return [(x, y, ", ".join(texts)) for _, _, x, y, texts in merged]


def _place_label(ax, renderer, area, obstacles, x, y, text, fontsize,
                 color):
    """The first annotation of `text` near (x, y) that stays in `area` and
    clear of `obstacles` (display boxes), or None."""
    for dx, dy in _LABEL_OFFSETS:
        note = ax.annotate(
            text, (x, y), xytext=(dx, dy), textcoords="offset points",
            fontsize=fontsize, color=color,
            ha="left" if dx > 0 else "right" if dx < 0 else "center",
            va="bottom" if dy > 0 else "top" if dy < 0 else "center")
        box = note.get_window_extent(renderer)
        if _inside(box, area) and not any(_overlap(box, other, 0.0)
                                           for other in obstacles):
            return note
        note.remove()
    return None


def _line_samples(ax, spacing: float = 3.0):
    """Points every `spacing` pixels along the axes' lines (display)."""
    for line in ax.lines:
        if line.get_linestyle() in ("None", "", " "):
            continue
        xy = ax.transData.transform(np.asarray(line.get_xydata(), float))
        xy = xy[np.isfinite(xy).all(axis=1)]
        for start, end in zip(xy[:-1], xy[1:]):
            steps = max(1, int(np.hypot(*(end - start)) / spacing))
            for t in np.linspace(0, 1, steps + 1):
                yield start + t * (end - start)


def layout_problems(fig) -> list[str]:
    """What would make `fig` hard to read, one sentence per problem: no
    title; an axes with data but no x or y label; several labelled series
    and no legend; two texts overlapping; a legend over data points; an
    axis labelled in % whose limits leave [0, 100]."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    problems = []
    figures = _all_figures(fig)
    titled = any(f._suptitle is not None and f._suptitle.get_text()
                 for f in figures)
    axes = fig.get_axes()
    titled = titled or any(ax.get_title() for ax in axes)
    if not titled:
        problems.append("the figure has no title")
    figure_legend = any(f.legends for f in figures)
    super_label = {side: any(getattr(f, f"_sup{side}label", None) is not None
                             for f in figures) for side in "xy"}
    for ax in axes:
        name = ax.get_title() or ax.get_label() or "an axes"
        if not ax.axison or not _has_data(ax):
            continue
        for side, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())):
            if not label and not super_label[side] and not _shared_label(
                    ax, side):
                problems.append(f"{name}: the {side} axis has no label")
            limits = ax.get_xlim() if side == "x" else ax.get_ylim()
            if "(%)" in label and (min(limits) < 0 or max(limits) > 100):
                problems.append(
                    f"{name}: the {side} axis is in % but runs from "
                    f"{min(limits):.3g} to {max(limits):.3g}")
        labelled = [a for a in (list(ax.lines) + list(ax.collections)
                                + list(ax.patches))
                    if not a.get_label().startswith("_")]
        if len(labelled) > 1 and ax.get_legend() is None and not \
                figure_legend:
            problems.append(f"{name}: {len(labelled)} labelled series but "
                            "no legend")
        legend = ax.get_legend()
        if legend is not None:
            box = legend.get_window_extent(renderer)
            for x, y in ax.transData.transform(_all_points(ax)):
                if box.contains(x, y):
                    problems.append(f"{name}: the legend covers data")
                    break
    texts = _texts(fig, renderer)
    for (a, box_a), (b, box_b) in itertools.combinations(texts, 2):
        if _overlap(box_a, box_b):
            problems.append(f"texts overlap: {a.get_text()!r} and "
                            f"{b.get_text()!r}")
    return problems


def save_figure(fig, path: str, tensorboard: tuple | None = None) -> None:
    """Writes `fig` as a PNG at `path` atomically and closes it; warns
    (`PlotLayoutWarning`) for each of its `layout_problems`.

    Args:
        tensorboard: optional (log_dir, tag, step): the same image is also
            written to TensorBoard's Images dashboard (`log_image`).
    """
    for problem in layout_problems(fig):
        warnings.warn(f"{os.path.basename(path)}: {problem}",
                      PlotLayoutWarning, stacklevel=2)
    atomic_save(lambda tmp: fig.savefig(tmp, format="png", dpi=120,
                                        bbox_inches="tight"), path)
    pyplot().close(fig)
    if tensorboard is not None:
        log_image(*tensorboard, png_path=path)


def log_image(log_dir: str, tag: str, step: int = 0,
              png_path: str = "") -> None:
    """Writes the PNG at `png_path` into TensorBoard (`log_dir`, `tag`)."""
    image = tf.image.decode_png(tf.io.read_file(png_path), channels=4)
    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        tf.summary.image(tag, image[None], step=step)
    writer.flush()
    writer.close()


def _shared_label(ax, side: str) -> bool:
    """Whether an axes sharing this one's `side` axis carries its label."""
    group = ax.get_shared_x_axes() if side == "x" else \
        ax.get_shared_y_axes()
    return any((other.get_xlabel() if side == "x" else other.get_ylabel())
               for other in group.get_siblings(ax))


def _all_figures(fig) -> list:
    found = [fig]
    for sub in getattr(fig, "subfigs", []):
        found += _all_figures(sub)
    return found


def _data_points(ax):
    for line in ax.lines:
        yield line.get_xydata()
    for collection in ax.collections:
        offsets = collection.get_offsets()
        if len(offsets):
            yield offsets


def _all_points(ax):
    arrays = [np.asarray(a, float).reshape(-1, 2) for a in _data_points(ax)]
    points = np.concatenate(arrays) if arrays else np.zeros((0, 2))
    return points[np.isfinite(points).all(axis=1)]


def _has_data(ax) -> bool:
    return bool(ax.lines or ax.collections or ax.patches or ax.images)


def _texts(fig, renderer) -> list:
    """(text, display box) of every text drawn, tick labels included."""
    found = {}

    def add(text):
        if text is not None and text.get_visible() and text.get_text() \
                and text.get_text().strip():
            found[id(text)] = (text, text.get_window_extent(renderer))

    for figure in _all_figures(fig):
        for name in ("_suptitle", "_supxlabel", "_supylabel"):
            add(getattr(figure, name, None))
        for text in figure.texts:
            add(text)
        for legend in figure.legends:
            for text in legend.get_texts():
                add(text)
    for ax in fig.get_axes():
        for text in (ax.title, ax._left_title, ax._right_title):
            add(text)
        for text in ax.texts:
            add(text)
        legend = ax.get_legend()
        if legend is not None:
            for text in legend.get_texts() + [legend.get_title()]:
                add(text)
        if not ax.axison:
            continue
        for axis, low_high in ((ax.xaxis, ax.get_xlim()),
                               (ax.yaxis, ax.get_ylim())):
            if not axis.get_visible():
                continue
            add(axis.label)
            low, high = sorted(low_high)
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not low <= tick.get_loc() <= high:
                    continue
                for label in (tick.label1, tick.label2):
                    if label.get_visible():
                        add(label)
    return list(found.values())


def _box(x0, y0, x1, y1):
    return Bbox.from_extents(x0, y0, x1, y1)


def _overlap(a, b, slack: float = 1.0) -> bool:
    """Whether two display boxes share more than `slack` pixels each way."""
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > slack
            and min(a.y1, b.y1) - max(a.y0, b.y0) > slack)


def _inside(box, area) -> bool:
    return (box.x0 >= area.x0 and box.x1 <= area.x1 and box.y0 >= area.y0
            and box.y1 <= area.y1)
