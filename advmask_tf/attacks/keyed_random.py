"""Random numbers keyed per sample: a sample's draws depend only on its key
(example index, salt) and the draw's stream, never on which other samples
share its batch, so an attack gives each point the same result whatever
the batch size, order or device layout.

A counter-based generator (an integer hash of key, stream and slot) rather
than one stateless RNG call per sample: attacks such as Square draw every
query, and a per-sample `map_fn` over thousands of queries is too slow.
"""

from __future__ import annotations

import tensorflow as tf

_MASK = 0xFFFFFFFF
_MULTIPLIER = 0x45D9F3B  # a well-mixing odd constant for a 32-bit hash


def _hash32(value):
    """A 32-bit integer mix (values kept in int64 so products never
    overflow)."""
    value = tf.bitwise.bitwise_and(value, _MASK)
    for _ in range(2):
        value = tf.bitwise.bitwise_xor(tf.bitwise.right_shift(value, 16),
                                       value)
        value = tf.bitwise.bitwise_and(value * _MULTIPLIER, _MASK)
    return tf.bitwise.bitwise_xor(tf.bitwise.right_shift(value, 16), value)


def _mix(state, value):
    return _hash32(tf.bitwise.bitwise_xor(
        state, tf.bitwise.bitwise_and(value, _MASK)) + 0x9E3779B)


def keyed_uniform(keys, stream, size: int):
    """(B, size) floats uniform in [0, 1), row i a function of keys[i] and
    `stream` only.

    Args:
        keys: int64 (B, 2), e.g. `noise_keys_for(index, salt)`.
        stream: an integer (or int tensor) naming the draw (e.g. the query).
        size: draws per sample.

    >>> keys = tf.constant([[3, 7], [4, 7]], tf.int64)
    >>> a = keyed_uniform(keys, 5, 3)
    >>> b = keyed_uniform(keys[1:], 5, 3)
    >>> bool(tf.reduce_all(a[1] == b[0])), a.shape
    (True, TensorShape([2, 3]))
    """
    keys = tf.cast(keys, tf.int64)
    state = _hash32(keys[:, 0])
    state = _mix(state, tf.bitwise.right_shift(keys[:, 0], 32))
    state = _mix(state, keys[:, 1])
    state = _mix(state, tf.cast(stream, tf.int64))
    slots = tf.range(size, dtype=tf.int64)
    bits = _mix(state[:, None], _hash32(slots + 0x51ED27)[None, :])
    # The top 24 bits: exactly representable in float32, so never 1.0.
    return tf.cast(tf.bitwise.right_shift(bits, 8), tf.float32) / 2.0 ** 24
