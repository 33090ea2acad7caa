"""What `evaluate` accepts, as `fit` does: a tf.data.Dataset of
(images, labels), batched or not, or an (images, labels) pair of arrays;
integer labels of shape (N,) or (N, 1), or one-hot rows. Anything else is
refused naming what was received."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from advmask_tf.errors import InputError

ACCEPTED = ("a tf.data.Dataset of (images, labels) (batched or not) or an "
            "(images, labels) pair of arrays")


def _image_spec(features_spec):
    if isinstance(features_spec, dict):
        return features_spec.get("image")
    return features_spec


def evaluation_batches(data, batch_size: int = 256,
                       image_rank: int | None = None) -> tf.data.Dataset:
    """`data` as batches of (features, labels).

    `image_rank` is the rank of a batch of images the network takes (4 for
    (B, H, W, C)); a dataset whose images have one dimension less is
    unbatched and gets batched here, as is one with scalar labels.

    >>> x = np.zeros((5, 2, 2, 1), np.float32); y = np.arange(5)
    >>> [int(b[1].shape[0]) for b in evaluation_batches((x, y), 2)]
    [2, 2, 1]
    >>> single = tf.data.Dataset.from_tensor_slices((x, y))
    >>> [int(b[1].shape[0]) for b in evaluation_batches(single, 4)]
    [4, 1]
    """
    if isinstance(data, (tuple, list)) and len(data) == 2 and \
            not isinstance(data, tf.data.Dataset):
        images, labels = data
        if len(images) != len(labels):
            raise InputError(
                f"evaluate() received {len(images)} images and "
                f"{len(labels)} labels; give one label per image.")
        return tf.data.Dataset.from_tensor_slices(
            (images, labels)).batch(batch_size)
    if not isinstance(data, tf.data.Dataset):
        raise InputError(f"evaluate() takes {ACCEPTED}; received "
                         f"{type(data).__name__}.")
    spec = data.element_spec
    if not isinstance(spec, tuple) or len(spec) != 2:
        extra = (" (evaluation does not weight points: drop the sample "
                 "weights)" if isinstance(spec, tuple) and len(spec) == 3
                 else "")
        raise InputError(f"evaluate() takes {ACCEPTED}; received elements "
                         f"{spec}{extra}.")
    image = _image_spec(spec[0])
    if not isinstance(image, tf.TensorSpec):
        raise InputError(
            "evaluate(): a dataset's features must be images or a dict "
            f"with an 'image' entry; received {spec[0]}.")
    label_rank = spec[1].shape.rank
    unbatched = label_rank == 0 or (
        image_rank is not None and image.shape.rank == image_rank - 1)
    return data.batch(batch_size) if unbatched else data


def class_labels(labels, num_classes: int) -> tf.Tensor:
    """Integer class labels (B,) from what `fit` accepts: integers of shape
    (B,) or (B, 1), or one-hot rows (B, num_classes); anything else, or a
    class outside [0, num_classes), is refused naming it.

    >>> class_labels(np.array([[2], [0]]), 3).numpy().tolist()
    [2, 0]
    >>> class_labels(np.array([[0., 1., 0.], [1., 0., 0.]]), 3).numpy().tolist()
    [1, 0]
    >>> class_labels(np.array([3, 0]), 3)
    Traceback (most recent call last):
    ...
    advmask_tf.errors.InputError: evaluate() received label 3; the network ...
    """
    array = np.asarray(labels)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim == 2 and array.shape[1] == num_classes:
        one_hot = np.all((array == 0) | (array == 1)) and np.all(
            array.sum(1) == 1)
        if not one_hot:
            raise InputError(
                f"evaluate() received label rows of width {num_classes} "
                "that are not one-hot (one 1, zeros elsewhere); give each "
                "point's class.")
        array = array.argmax(1)
    if array.ndim != 1:
        raise InputError(
            f"evaluate() takes labels of shape (N,) or (N, 1), or one-hot "
            f"rows (N, {num_classes}); received shape {array.shape}.")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise InputError(
                "evaluate() takes integer class labels; received "
                f"{array.dtype} values such as {array[0]!r}.")
    array = array.astype(np.int64)
    outside = array[(array < 0) | (array >= num_classes)]
    if outside.size:
        raise InputError(
            f"evaluate() received label {int(outside[0])}; the network has "
            f"{num_classes} classes, so labels are in [0, {num_classes}).")
    return tf.constant(array, tf.int32)
