"""What a training step accepts, checked the way Keras users get it wrong:
a network that outputs logits (not probabilities), labels as integers or
one-hot rows, pixels in [0, 1]."""

from __future__ import annotations

import keras
import tensorflow as tf

from advmask_tf.errors import InputError


def check_logits(network) -> None:
    """Refuses a network that outputs probabilities: the objectives and
    attacks take logits (a softmax output would be softmaxed twice)."""
    if network is None or not hasattr(network, "layers"):
        raise InputError(f"AdversarialModel needs a Keras model mapping "
                         f"images to logits; received {network!r}.")
    last = network.layers[-1] if network.layers else None
    if isinstance(last, keras.layers.Softmax) or getattr(
            last, "activation", None) is keras.activations.softmax:
        raise InputError(
            f"network {network.name!r} ends in a softmax (layer "
            f"{last.name!r}): AdversarialModel needs logits; drop the "
            "softmax activation (use activation=None).")


def first_images(x, limit: int = 4096):
    """The images of the data `fit` is given, as far as they can be read
    without consuming it: an array's first `limit`, the first batch of a
    tf.data dataset or a PyDataset; None for a generator.

    >>> first_images({"image": tf.zeros((3, 2, 2, 1))}).shape
    TensorShape([3, 2, 2, 1])
    """
    if isinstance(x, tf.data.Dataset):
        element = next(iter(x.take(1)), None)
    elif isinstance(x, keras.utils.PyDataset):
        element = x[0] if len(x) else None
    elif hasattr(x, "shape") or isinstance(x, (dict, list)):
        element = x
    else:
        return None
    if isinstance(element, tuple):
        element = element[0]
    if isinstance(element, dict):
        element = element.get("image")
    return None if element is None else element[:limit]


def class_labels(y):
    """int32 class labels from integer labels or one-hot rows.

    >>> class_labels(tf.constant([[0.0, 1.0], [1.0, 0.0]])).numpy().tolist()
    [1, 0]
    """
    if y.shape.rank == 2 and y.shape[-1] != 1:
        return tf.argmax(y, -1, output_type=tf.int32)
    return tf.cast(tf.reshape(y, [-1]), tf.int32)


def checked_pixels(image):
    """`image`, after a check that its pixels lie in [0, 1] (the attacks'
    eps is in that scale; uint8 0..255 images must be divided by 255)."""
    low, high = tf.reduce_min(image), tf.reduce_max(image)
    with tf.control_dependencies([tf.debugging.Assert(
            tf.logical_and(low >= 0, high <= 1),
            ["AdversarialModel expects pixels in [0, 1] (divide 0..255 "
             "images by 255); a batch has min", low, "and max", high])]):
        return tf.identity(image)


def checked_index(index, num_examples):
    """`index`, after a check that every example index lies in
    [0, num_examples) (the per-example tables' rows); inside a graph a
    violation raises InvalidArgumentError with this message."""
    if not num_examples:
        return index
    with tf.control_dependencies([tf.debugging.Assert(
            tf.logical_and(tf.reduce_min(index) >= 0,
                           tf.reduce_max(index) < num_examples),
            ["example indices must lie in [0, num_examples =",
             num_examples, "); a batch has min", tf.reduce_min(index),
             "and max", tf.reduce_max(index),
             "(give num_examples = the size of the training set)"])]):
        return tf.identity(index)
