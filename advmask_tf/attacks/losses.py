"""Per-sample losses an attack maximises."""

from __future__ import annotations

import tensorflow as tf

ATTACK_LOSSES = ("ce", "cw", "kl")


def cross_entropy(logits, labels):
    """Per-sample softmax cross-entropy."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.int32), logits=logits)


def cw_margin(logits, labels):
    """Carlini-Wagner margin: max_{j != y} z_j - z_y (positive = misclassified)."""
    num_classes = tf.shape(logits)[-1]
    one_hot = tf.one_hot(tf.cast(labels, tf.int32), num_classes,
                         dtype=logits.dtype)
    true_logit = tf.reduce_sum(logits * one_hot, axis=-1)
    # Push the true class far below every other one before taking the max.
    other = tf.reduce_max(logits - one_hot * 1e9, axis=-1)
    return other - true_logit


def kl_divergence(logits, reference_logits):
    """KL(softmax(reference) || softmax(logits)) per sample, as TRADES uses."""
    reference = tf.nn.softmax(reference_logits)
    return tf.reduce_sum(
        reference * (tf.nn.log_softmax(reference_logits)
                     - tf.nn.log_softmax(logits)), axis=-1)


def attack_loss(name, logits, labels, reference_logits=None):
    """The per-sample loss `name` (one of ATTACK_LOSSES)."""
    if name == "ce":
        return cross_entropy(logits, labels)
    if name == "cw":
        return cw_margin(logits, labels)
    if name == "kl":
        if reference_logits is None:
            raise ValueError("attack loss 'kl' needs reference_logits (the "
                             "model's logits on the clean input).")
        return kl_divergence(logits, reference_logits)
    raise ValueError(
        f"Unknown attack loss {name!r}; expected one of {ATTACK_LOSSES}.")
