"""Random images shaped like a configured dataset, without reading it.

A dry run (`advmask_tf.runs.dry_run`) builds a whole run on these, so a
CIFAR-10 preset can be checked on a machine that has no CIFAR-10.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from advmask_tf.data.sources import (
    FASHION_MNIST_CLASSES,
    ArraySplits,
    load_source,
)
from advmask_tf.errors import InputError


@dataclasses.dataclass(frozen=True)
class SourceSignature:
    """What a model needs to know of a dataset: its name, image shape,
    class count and class names."""

    name: str
    image_shape: tuple
    num_classes: int
    class_names: tuple = ()


def _cifar_pickle_classes(path: str) -> int:
    """CIFAR-100's pickle directory has a `train` file, CIFAR-10's has
    `data_batch_1`."""
    if path and os.path.exists(os.path.join(path, "train")) and not \
            os.path.exists(os.path.join(path, "data_batch_1")):
        return 100
    return 10


def source_signature(data_config) -> SourceSignature:
    """The signature of a `data` config block's dataset, read without
    loading it where the source allows (tensorflow-datasets knows its
    datasets' features without their files; the CIFAR pickles are always
    32x32x3); IDX and npz files are read.

    >>> from advmask_tf.configs_lib import default_data_config
    >>> data = default_data_config(); data.source = "tfds"
    >>> data.tfds_name = "cifar10"
    >>> signature = source_signature(data)
    >>> signature.image_shape, signature.num_classes
    ((32, 32, 3), 10)
    """
    source, wanted = data_config.source, int(data_config.num_classes)
    if source == "fashion_mnist":
        signature = SourceSignature("fashion_mnist", (28, 28, 1), 10,
                                    FASHION_MNIST_CLASSES)
    elif source == "cifar_pickle":
        signature = SourceSignature(
            "cifar_pickle", (32, 32, 3),
            _cifar_pickle_classes(data_config.path))
    elif source == "tfds":
        import tensorflow_datasets as tfds

        if not data_config.tfds_name:
            raise InputError("data source 'tfds' needs data.tfds_name, "
                             "for example 'cifar10'.")
        try:
            info = tfds.builder(data_config.tfds_name,
                                data_dir=data_config.data_dir or None).info
        except Exception as error:  # tfds raises several types here
            raise InputError(
                f"data.tfds_name={data_config.tfds_name!r} is not a "
                f"tensorflow-datasets dataset: {error}") from None
        label = info.features["label"]
        signature = SourceSignature(
            data_config.tfds_name, tuple(info.features["image"].shape),
            int(label.num_classes), tuple(label.names))
    else:
        splits = load_source(source, data_config.path or None,
                             num_classes=wanted or None)
        signature = SourceSignature(splits.name, splits.image_shape,
                                    splits.num_classes, splits.class_names)
    if wanted and wanted != signature.num_classes:
        signature = dataclasses.replace(signature, num_classes=wanted,
                                        class_names=())
    return signature


def synthetic_splits(signature: SourceSignature, num_train: int,
                     num_test: int, seed: int = 0) -> ArraySplits:
    """Uniform random uint8 images of the signature's shape, labels
    cycling over its classes (every class appears once there are enough).

    >>> splits = synthetic_splits(SourceSignature("x", (8, 8, 3), 4), 6, 2)
    >>> splits.x_train.shape, splits.y_train.tolist()
    ((6, 8, 8, 3), [0, 1, 2, 3, 0, 1])
    """
    rng = np.random.default_rng(seed)

    def images(n):
        return rng.integers(0, 256, (n,) + tuple(signature.image_shape),
                            dtype=np.uint8)

    def labels(n):
        return (np.arange(n) % signature.num_classes).astype(np.int64)

    return ArraySplits(f"synthetic {signature.name}", images(num_train),
                       labels(num_train), images(num_test), labels(num_test),
                       signature.num_classes, signature.class_names)
