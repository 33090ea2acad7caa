"""Per-sample losses an attack maximises.

Every loss computes in float32 whatever the network's dtype: under mixed
precision a float16 margin overflows (the CW margin's 1e9) and softmaxes
lose their small probabilities, and robust accuracy must not depend on the
dtype policy.
"""

from __future__ import annotations

import tensorflow as tf

from advmask_tf.errors import InputError

ATTACK_LOSSES = ("ce", "cw", "kl", "dlr", "dlr_targeted", "ce_targeted")
# Losses that need a target class per sample.
TARGETED_LOSSES = ("dlr_targeted", "ce_targeted")


def float32(logits):
    """Logits (of any float dtype) as float32."""
    return tf.cast(logits, tf.float32)


def cross_entropy(logits, labels):
    """Per-sample softmax cross-entropy (float32)."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.int32), logits=float32(logits))


def cw_margin(logits, labels):
    """Carlini-Wagner margin: max_{j != y} z_j - z_y (positive = misclassified).

    >>> float(cw_margin(tf.constant([[1.0, 3.0]], tf.float16), [0])[0])
    2.0
    """
    logits = float32(logits)
    num_classes = tf.shape(logits)[-1]
    one_hot = tf.one_hot(tf.cast(labels, tf.int32), num_classes,
                         dtype=logits.dtype)
    true_logit = tf.reduce_sum(logits * one_hot, axis=-1)
    # Push the true class far below every other one before taking the max.
    other = tf.reduce_max(logits - one_hot * 1e9, axis=-1)
    return other - true_logit


def kl_divergence(logits, reference_logits):
    """KL(softmax(reference) || softmax(logits)) per sample, as TRADES uses."""
    logits, reference_logits = float32(logits), float32(reference_logits)
    reference = tf.nn.softmax(reference_logits)
    return tf.reduce_sum(
        reference * (tf.nn.log_softmax(reference_logits)
                     - tf.nn.log_softmax(logits)), axis=-1)


def _check_classes(logits, needed, loss):
    num_classes = logits.shape[-1]
    if num_classes is not None and num_classes < needed:
        raise InputError(
            f"The {loss} loss needs at least {needed} classes; the model "
            f"has {num_classes}. Use loss 'ce' or 'cw' instead.")


def dlr(logits, labels):
    """Difference of logits ratio (Croce & Hein 2020), untargeted.

    -(z_y - max_{j != y} z_j) / (z_(1) - z_(3)), z_(k) the k-th largest
    logit. It is invariant to shifting and scaling the logits, so saturated
    or rescaled logits cannot hide the gradient from it.

    >>> float(dlr(tf.constant([[3.0, 1.0, 0.0]]), tf.constant([0]))[0])
    -0.6666...
    """
    _check_classes(logits, 3, "dlr")
    logits = float32(logits)
    ordered = tf.sort(logits, axis=-1, direction="DESCENDING")
    return cw_margin(logits, labels) / (
        ordered[:, 0] - ordered[:, 2] + 1e-12)


def dlr_targeted(logits, labels, targets):
    """Targeted DLR: -(z_y - z_t) / (z_(1) - (z_(3) + z_(4)) / 2).

    >>> float(dlr_targeted(tf.constant([[4.0, 2.0, 1.0, 0.0]]),
    ...                    tf.constant([0]), tf.constant([1]))[0])
    -0.571...
    """
    _check_classes(logits, 4, "dlr_targeted")
    logits = float32(logits)
    num_classes = tf.shape(logits)[-1]
    true_logit = tf.reduce_sum(
        logits * tf.one_hot(tf.cast(labels, tf.int32), num_classes,
                            dtype=logits.dtype), -1)
    target_logit = tf.reduce_sum(
        logits * tf.one_hot(tf.cast(targets, tf.int32), num_classes,
                            dtype=logits.dtype), -1)
    ordered = tf.sort(logits, axis=-1, direction="DESCENDING")
    scale = ordered[:, 0] - 0.5 * (ordered[:, 2] + ordered[:, 3]) + 1e-12
    return (target_logit - true_logit) / scale


def attack_loss(name, logits, labels, reference_logits=None, targets=None):
    """The per-sample loss `name` (one of ATTACK_LOSSES), to be maximised.

    Targeted losses ("dlr_targeted", "ce_targeted") need `targets`.
    """
    if name in TARGETED_LOSSES and targets is None:
        raise InputError(f"attack loss {name!r} needs targets (one class per "
                         "sample).")
    if name == "ce":
        return cross_entropy(logits, labels)
    if name == "dlr":
        return dlr(logits, labels)
    if name == "dlr_targeted":
        return dlr_targeted(logits, labels, targets)
    if name == "ce_targeted":
        return -cross_entropy(logits, targets)
    if name == "cw":
        return cw_margin(logits, labels)
    if name == "kl":
        if reference_logits is None:
            raise InputError("attack loss 'kl' needs reference_logits (the "
                             "model's logits on the clean input).")
        return kl_divergence(logits, reference_logits)
    raise InputError(
        f"Unknown attack loss {name!r}; expected one of {ATTACK_LOSSES}.")
