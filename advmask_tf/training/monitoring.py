"""Seeing per-example state: TensorBoard histograms, the radius table as
`.npz` and a PNG of the images with the smallest and largest IAAT radii.

The IAAT paper's point is that radii are interpretable: the smallest belong
to ambiguous images near another class, the largest to unambiguous ones.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from advmask_tf.errors import InputError
from advmask_tf.io_utils import atomic_save
from advmask_tf.plotting import pyplot, save_figure


def per_example_tables(model) -> dict:
    """{name: table variable} of the model's parts that keep one."""
    tables = {}
    if model.radius.table is not None:
        tables["iaat/radius"] = model.radius.table
    if model.weighting.table is not None:
        tables["gairat/weight"] = model.weighting.table
    return tables


def effective_sample_fraction(weights) -> float:
    """Kish's effective sample size of instance weights as a fraction of
    their number: 1 for uniform weights, 1/N when one sample has them all.

    >>> effective_sample_fraction([1.0, 1.0, 1.0, 1.0])
    1.0
    >>> effective_sample_fraction([4.0, 0.0, 0.0, 0.0])
    0.25
    """
    weights = np.asarray(weights, np.float64)
    squares = float(np.sum(weights ** 2))
    if squares == 0.0:
        return 0.0
    return float(np.sum(weights) ** 2 / (len(weights) * squares))


def save_radius_grid(path, images, labels, radii, class_names=(),
                     per_end: int = 16, title: str = "",
                     tensorboard: tuple | None = None):
    """PNG: the `per_end` training images with the smallest radii, then the
    `per_end` with the largest, each titled with its class and radius.

    >>> images = np.random.rand(40, 8, 8, 1)
    >>> save_radius_grid("/tmp/grid.png", images, np.arange(40) % 10,
    ...                  np.linspace(0, 0.2, 40), per_end=4,
    ...                  title="Radii of a toy run")
    '/tmp/grid.png'
    """
    plt = pyplot()
    order = np.argsort(radii, kind="stable")
    per_end = min(per_end, len(order) // 2)
    if per_end < 1:
        raise InputError(f"save_radius_grid needs at least 2 images; "
                         f"received {len(order)}.")
    columns = min(8, per_end)
    rows = -(-per_end // columns)
    scale = 255.0 if np.issubdtype(np.asarray(images[:1]).dtype,
                                   np.integer) else 1.0
    figure = plt.figure(figsize=(1.6 * columns, 4.2 * rows + 0.6),
                        layout="constrained")
    figure.suptitle(title or "Training images with the smallest and "
                    "largest adaptive radii", fontsize=12)
    ends = (("smallest radii (Linf, pixels in [0, 1])", order[:per_end]),
            ("largest radii (Linf, pixels in [0, 1])",
             order[::-1][:per_end]))
    for subfigure, (heading, chosen) in zip(figure.subfigures(2, 1), ends):
        subfigure.suptitle(heading, fontweight="bold")
        axes = subfigure.subplots(rows, columns, squeeze=False)
        for axis in axes.flat:
            axis.axis("off")
        for axis, i in zip(axes.flat, chosen):
            image = np.asarray(images[i], dtype=np.float32) / scale
            if image.shape[-1] == 1:
                axis.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
            else:
                axis.imshow(np.clip(image, 0, 1))
            name = class_names[labels[i]] if len(class_names) else \
                str(labels[i])
            axis.set_title(f"{name}\nr = {radii[i]:.3f}", fontsize=7)
    save_figure(figure, path, tensorboard)
    return path


class InstanceStateMonitor(keras.callbacks.Callback):
    """Histograms of the per-example tables every epoch; exports at the end.

    Writes histograms `iaat/radius` and `gairat/weight` into
    `log_dir/instance_state` (TensorBoard). At the end of training, with an
    adaptive radius, writes `export_dir/radii.npz` (index, radius, label)
    and `export_dir/radii.png` (see `save_radius_grid`).

    Args:
        log_dir: TensorBoard directory of the run.
        export_dir: where the `.npz` and the PNG go (None: not written).
        images, labels: the training arrays in example-index order.
        class_names: names of the classes, for the PNG's titles.
        title: the PNG's title (the run's dataset and eps, say); the PNG is
            also the TensorBoard image `iaat/radii` (Images tab).
    """

    def __init__(self, log_dir, export_dir=None, images=None, labels=None,
                 class_names=(), title: str = ""):
        super().__init__()
        self.title = title
        self._epochs_seen = 0
        self.log_dir = log_dir
        self.export_dir = export_dir
        self.images = images
        self.labels = labels
        self.class_names = tuple(class_names)
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        self._epochs_seen = epoch + 1
        tables = per_example_tables(self.model)
        if not tables:
            return
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(
                os.path.join(self.log_dir, "instance_state"))
        with self._writer.as_default(step=epoch):
            for name, table in tables.items():
                values = np.asarray(table.numpy())
                tf.summary.histogram(name, values)
                if name == "gairat/weight":  # its mean is 1 by construction
                    tf.summary.scalar("gairat/effective_sample_fraction",
                                      effective_sample_fraction(values))
                else:
                    tf.summary.scalar(name + "_mean", float(values.mean()))
        self._writer.flush()

    def on_train_end(self, logs=None):
        table = per_example_tables(self.model).get("iaat/radius")
        if table is None or self.export_dir is None:
            return
        radii = np.asarray(table.numpy())
        index = np.arange(len(radii))
        labels = np.asarray(self.labels) if self.labels is not None else \
            np.full(len(radii), -1)

        def write_npz(tmp):
            with open(tmp, "wb") as f:
                np.savez(f, index=index, radius=radii, label=labels)

        atomic_save(write_npz, os.path.join(self.export_dir, "radii.npz"))
        if self.images is not None and len(radii) >= 2:
            save_radius_grid(
                os.path.join(self.export_dir, "radii.png"), self.images,
                labels, radii, self.class_names, title=self.title,
                tensorboard=(os.path.join(self.log_dir, "instance_state"),
                             "iaat/radii", self._epochs_seen))
