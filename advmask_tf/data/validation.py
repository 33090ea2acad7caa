"""Checks that image/label arrays are usable, with errors that name the bad value."""

from __future__ import annotations

import numpy as np

from advmask_tf.errors import InputError


def check_images_and_labels(images, labels, num_classes: int, source: str):
    """Validates and normalises one split of an image-classification dataset.

    Images become `(N, H, W, C)`; `uint8` images are kept as `uint8` (scaled to
    [0, 1] later, in the input pipeline), floating images must already lie in
    [0, 1] and are returned as `float32`. Labels become `int64` in
    `[0, num_classes)`.

    Example:

    >>> x, y = check_images_and_labels(
    ...     np.zeros((2, 4, 4), np.uint8), np.array([0, 1]), 2, "demo")
    >>> x.shape, y.dtype
    ((2, 4, 4, 1), dtype('int64'))

    Raises:
        InputError: naming the offending shape, dtype, pixel or label.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.shape[:1] == (0,):
        raise InputError(f"{source} is empty; it needs at least one image.")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise InputError(
            f"{source}: images must have shape (N, H, W) or (N, H, W, C); "
            f"received shape {images.shape}."
        )
    if images.shape[-1] not in (1, 3):
        raise InputError(
            f"{source}: images must have 1 or 3 channels in the last axis; "
            f"received shape {images.shape}."
        )
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise InputError(
            f"{source}: labels must have shape ({images.shape[0]},) to match "
            f"the images; received shape {labels.shape}."
        )
    if images.dtype == np.uint8:
        pass
    elif np.issubdtype(images.dtype, np.floating):
        images = images.astype(np.float32, copy=False)
        finite = np.isfinite(images)
        if not finite.all():
            where = np.argwhere(~finite)[0]
            raise InputError(
                f"{source}: image {where[0]} has a non-finite pixel "
                f"({images[tuple(where)]}) at {tuple(where[1:])}; pixels must "
                "be finite floats in [0, 1] or uint8."
            )
        low, high = float(images.min()), float(images.max())
        if low < 0.0 or high > 1.0:
            raise InputError(
                f"{source}: float pixels must lie in [0, 1]; received values "
                f"in [{low}, {high}]. Divide 0..255 images by 255 or pass uint8."
            )
    else:
        raise InputError(
            f"{source}: images must be uint8 or floating point; received "
            f"dtype {images.dtype}."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        if np.issubdtype(labels.dtype, np.floating) and np.all(
            np.isfinite(labels)) and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise InputError(
                f"{source}: labels must be integers; received dtype "
                f"{labels.dtype}."
            )
    labels = labels.astype(np.int64, copy=False)
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        index = int(np.argmax(bad))
        raise InputError(
            f"{source}: label {int(labels[index])} at position {index} is "
            f"outside [0, {num_classes}); labels must be class indices."
        )
    return images, labels


def check_pixels(images, where: str) -> None:
    """Refuses images an attack cannot read right: not floating point, or
    pixels outside [0, 1] (every eps is in that scale), naming what was
    seen. `images`: an array or an eager tensor.

    >>> check_pixels(np.full((2, 4, 4, 1), 255.0), "evaluate")
    Traceback (most recent call last):
    ...
    advmask_tf.errors.InputError: evaluate takes pixels in [0, 1] (eps is ...
    """
    array = np.asarray(images)
    if not np.issubdtype(array.dtype, np.floating):
        raise InputError(
            f"{where} takes float images with pixels in [0, 1]; received "
            f"dtype {array.dtype} (divide 0..255 images by 255).")
    if array.size == 0:
        return
    low, high = float(np.min(array)), float(np.max(array))
    if not (np.isfinite(low) and np.isfinite(high)) or low < 0.0 \
            or high > 1.0:
        hint = ("; these look like 0..255 images: divide them by 255"
                if high > 1.5 else "")
        raise InputError(
            f"{where} takes pixels in [0, 1] (eps is in that scale); "
            f"received values in [{low:g}, {high:g}]{hint}.")


def looks_like_probabilities(outputs) -> bool:
    """Whether a batch of outputs are probabilities: every row
    non-negative and summing to 1 (a softmax head), not logits.

    >>> looks_like_probabilities([[0.2, 0.8], [0.5, 0.5]])
    True
    >>> looks_like_probabilities([[2.0, -1.0], [0.3, 0.7]])
    False
    """
    array = np.asarray(outputs, np.float64)
    return (array.ndim == 2 and array.shape[-1] > 1 and array.shape[0] > 0
            and bool(np.all(array >= -1e-6))
            and bool(np.allclose(array.sum(-1), 1.0, atol=1e-3)))


def check_logit_outputs(outputs, where: str) -> None:
    """Refuses outputs that are probabilities (see
    `looks_like_probabilities`): the objectives and attacks need logits,
    and a softmax head masks their gradients."""
    if looks_like_probabilities(outputs):
        raise InputError(
            f"{where} outputs probabilities (every row non-negative and "
            "summing to 1 on a probe batch): the objectives and attacks "
            "need logits; drop the final softmax (activation=None, no "
            "Softmax layer or keras.ops.softmax at the end).")

