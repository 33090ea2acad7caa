"""tf.data pipelines: validation split, index per example, augmentation.

Every example is `({"image": float32 in [0, 1], "index": int64}, label)`. The
index is the example's position in the training array (validation and test
examples are indexed within their own split), so per-sample state such as IAAT
radii can live in a table indexed by it.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import tensorflow as tf

from advmask_tf.data.sources import ArraySplits, load_source
from advmask_tf.errors import InputError


@dataclasses.dataclass
class DataBundle:
    """The three datasets of a run and what a model needs to know of them."""

    train: tf.data.Dataset
    validation: tf.data.Dataset | None
    test: tf.data.Dataset
    image_shape: tuple
    num_classes: int
    num_train: int
    num_validation: int
    num_test: int
    mean: tuple
    std: tuple
    class_names: tuple = ()
    train_images: np.ndarray | None = None
    train_labels: np.ndarray | None = None
    # train_from(epoch): the training batches from that epoch on, endlessly,
    # in an order that depends on the seed and the epoch alone (see
    # `epoch_stream`); fit it with steps_per_epoch. None for bundles built
    # by hand.
    train_from: Callable[[int], tf.data.Dataset] | None = None
    steps_per_epoch: int = 0


def split_validation(num_examples: int, num_validation: int, seed: int):
    """Returns (train_positions, validation_positions), a seeded permutation.

    >>> train, val = split_validation(10, 3, seed=0)
    >>> len(train), len(val), sorted(np.concatenate([train, val]).tolist())
    (7, 3, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    if not 0 <= num_validation < num_examples:
        raise InputError(
            f"validation size {num_validation} must be in [0, {num_examples}) "
            "for a training set of that many examples.")
    order = np.random.RandomState(seed).permutation(num_examples)
    return np.sort(order[num_validation:]), np.sort(order[:num_validation])


def _to_float(image):
    if image.dtype == tf.uint8:
        return tf.cast(image, tf.float32) / 255.0
    return tf.cast(image, tf.float32)


def pad_crop_flip(image, padding: int = 4, key=None):
    """Standard 32x32 augmentation: reflect-pad, random crop, random flip.

    With `key` (a stateless-RNG seed, shape (2,)), the crop and flip are a
    function of the key alone.
    """
    shape = tf.shape(image)
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]],
                    mode="REFLECT")
    if key is None:
        cropped = tf.image.random_crop(padded, shape)
        return tf.image.random_flip_left_right(cropped)
    crop_key, flip_key = tf.unstack(
        tf.random.experimental.stateless_split(key, 2))
    cropped = tf.image.stateless_random_crop(padded, shape, crop_key)
    return tf.image.stateless_random_flip_left_right(cropped, flip_key)


def epoch_stream(images, labels, batch_size: int, augment: bool, seed: int,
                 first_epoch: int = 0):
    """The training batches of every epoch from `first_epoch` on, endlessly,
    and the number of steps an epoch takes.

    Epoch e visits the examples in an order drawn from (seed, e) alone, and
    augments each from (seed, e, its index), so a run resumed at epoch e
    trains on exactly the batches an uninterrupted run trains on there. (A
    shuffle that reshuffles each iteration would start a new process at
    epoch 0's order.) Batches are full: an epoch's leftover examples open
    the next epoch's first batch.

    >>> x = np.arange(5, dtype=np.float32).reshape(5, 1, 1, 1)
    >>> stream, steps = epoch_stream(x, np.arange(5), 2, False, seed=0)
    >>> resumed, _ = epoch_stream(x, np.arange(5), 2, False, 0, first_epoch=1)
    >>> first = [b[1].numpy().tolist() for b in stream.take(4)]
    >>> steps, first[steps:] == [b[1].numpy().tolist() for b in resumed.take(2)]
    (2, True)
    """
    n = len(labels)
    batch = min(int(batch_size), n)
    steps = n // batch
    skipped = int(first_epoch) * steps * batch
    images_t, labels_t = tf.constant(images), tf.constant(labels)
    seed_t = tf.constant(int(seed), tf.int64)

    def visits(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([seed_t, epoch]))
        return tf.data.Dataset.from_tensor_slices(
            (tf.fill([n], epoch), order))

    def example(epoch, index):
        image = _to_float(tf.gather(images_t, index))
        if augment:
            key = tf.random.experimental.stateless_fold_in(
                tf.stack([seed_t, epoch]), index)
            image = pad_crop_flip(image, key=key)
        return {"image": image, "index": index}, tf.gather(labels_t, index)

    stream = (tf.data.Dataset.range(skipped // n, np.iinfo(np.int64).max)
              .flat_map(visits).skip(skipped % n)
              .map(example, num_parallel_calls=tf.data.AUTOTUNE)
              .batch(batch, drop_remainder=True))
    return stream.prefetch(tf.data.AUTOTUNE), steps


def make_dataset(images, labels, indices, batch_size: int, shuffle: bool,
                 augment: bool, seed: int, drop_remainder: bool = False):
    """Batches arrays into `({"image", "index"}, label)` examples."""
    dataset = tf.data.Dataset.from_tensor_slices(
        ({"image": images, "index": indices.astype(np.int64)}, labels))
    if shuffle:
        dataset = dataset.shuffle(len(labels), seed=seed,
                                  reshuffle_each_iteration=True)

    def prepare(features, label):
        image = _to_float(features["image"])
        if augment:
            image = pad_crop_flip(image)
        return {"image": image, "index": features["index"]}, label

    dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _channel_stats(images):
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    flat = images.reshape(-1, images.shape[-1]).astype(np.float64) / scale
    return tuple(flat.mean(0).tolist()), tuple(flat.std(0).tolist())


def _subset(n: int, limit: int):
    return n if not limit or limit <= 0 else min(n, int(limit))


def build_data(data_config, batch_size: int, seed: int = 0,
               splits: ArraySplits | None = None) -> DataBundle:
    """Builds train/validation/test datasets from a `data` config block
    (`configs_lib.default_data_config()`, which holds the defaults).

    Fields read: source, path, tfds_name, data_dir, download, num_classes,
    validation_size, train_limit, test_limit, augment ('auto' | bool).

    >>> from advmask_tf.configs_lib import default_data_config
    >>> bundle = build_data(default_data_config(), batch_size=128)  # doctest: +SKIP
    >>> bundle.image_shape, bundle.num_classes  # doctest: +SKIP
    ((28, 28, 1), 10)
    """
    if batch_size <= 0:
        raise InputError(f"batch_size must be positive; received {batch_size}.")
    if splits is None:
        splits = load_source(
            data_config.source, data_config.path or None,
            data_config.tfds_name or None, data_config.data_dir or None,
            bool(data_config.download), data_config.num_classes or None)
    wanted = int(data_config.num_classes)
    if wanted and wanted != splits.num_classes:
        raise InputError(
            f"data.num_classes={wanted} but {splits.name} has "
            f"{splits.num_classes} classes; set 0 (take them from the data) "
            f"or {splits.num_classes}.")
    n_train_all = _subset(len(splits.y_train), data_config.train_limit)
    n_val = int(data_config.validation_size)
    if 0 < n_val and n_val >= n_train_all:
        raise InputError(
            f"data.validation_size={n_val} leaves no training examples out of "
            f"{n_train_all}; choose a value in [0, {n_train_all}).")
    train_pos, val_pos = split_validation(n_train_all, n_val, seed)
    x_train, y_train = splits.x_train[train_pos], splits.y_train[train_pos]
    n_test = _subset(len(splits.y_test), data_config.test_limit)
    x_test, y_test = splits.x_test[:n_test], splits.y_test[:n_test]

    augment = data_config.augment
    if augment == "auto":
        augment = splits.image_shape[0] == 32 and splits.image_shape[-1] == 3
    elif not isinstance(augment, bool):
        raise InputError(
            f"data.augment must be 'auto', True or False; received {augment!r}.")
    mean, std = _channel_stats(x_train)

    train = make_dataset(x_train, y_train, np.arange(len(y_train)),
                         batch_size, shuffle=True, augment=augment, seed=seed,
                         drop_remainder=len(y_train) >= batch_size)

    def train_from(epoch: int) -> tf.data.Dataset:
        return epoch_stream(x_train, y_train, batch_size, augment, seed,
                            first_epoch=epoch)[0]
    validation = None
    if n_val:
        validation = make_dataset(
            splits.x_train[val_pos], splits.y_train[val_pos],
            np.arange(n_val), batch_size, shuffle=False, augment=False,
            seed=seed)
    test = make_dataset(x_test, y_test, np.arange(n_test), batch_size,
                        shuffle=False, augment=False, seed=seed)
    return DataBundle(
        train=train, validation=validation, test=test,
        image_shape=splits.image_shape, num_classes=splits.num_classes,
        num_train=len(y_train), num_validation=n_val, num_test=n_test,
        mean=mean, std=std, class_names=splits.class_names,
        train_images=x_train, train_labels=y_train, train_from=train_from,
        steps_per_epoch=len(y_train) // min(batch_size, len(y_train)))


def prefetch_to(dataset: tf.data.Dataset, device: str) -> tf.data.Dataset:
    """The dataset repeated and prefetched onto `device` (a GPU is fed
    while it computes); `fit` then needs steps_per_epoch, as the repeated
    dataset has no end.

    >>> batches = tf.data.Dataset.range(3).batch(2)
    >>> fed = prefetch_to(batches, "/cpu:0")
    >>> [b.numpy().tolist() for b in fed.take(3)]
    [[0, 1], [2], [0, 1]]
    """
    return dataset.repeat().apply(
        tf.data.experimental.prefetch_to_device(device, buffer_size=2))


def split_inputs(features):
    """(image, index) from a batch's features: the {"image", "index"} dict
    `build_data` makes, or a bare image tensor (index None).

    >>> split_inputs({"image": 1, "index": 2})
    (1, 2)
    """
    if isinstance(features, dict):
        if "image" not in features:
            raise InputError(
                "Batch features must hold an 'image' entry; received keys "
                f"{sorted(features)}.")
        return features["image"], features.get("index")
    return features, None
