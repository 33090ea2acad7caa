"""Datasets: sources, validation and tf.data pipelines."""

from advmask_tf.data.pipeline import (
    DataBundle,
    build_data,
    make_dataset,
    prefetch_to,
    split_inputs,
    split_validation,
)
from advmask_tf.data.sources import (
    FASHION_MNIST_DIR,
    SOURCES,
    ArraySplits,
    load_cifar_pickle_dir,
    load_fashion_mnist,
    load_idx_dir,
    load_npz,
    load_source,
    load_tfds,
    read_idx,
)
from advmask_tf.data.validation import (
    check_images_and_labels,
)

__all__ = [
    "DataBundle",
    "build_data",
    "make_dataset",
    "prefetch_to",
    "split_inputs",
    "split_validation",
    "FASHION_MNIST_DIR",
    "SOURCES",
    "ArraySplits",
    "load_cifar_pickle_dir",
    "load_fashion_mnist",
    "load_idx_dir",
    "load_npz",
    "load_source",
    "load_tfds",
    "read_idx",
    "check_images_and_labels",
]
