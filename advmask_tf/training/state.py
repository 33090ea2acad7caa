"""Per-example state tables: one row per training example, indexed by the
example's dataset index, stored as a non-trainable weight of the model.

Being a model weight, a table is saved by `save_weights`, `ModelCheckpoint`
and `BackupAndRestore` and restored on resume. Under a distribution strategy
every replica all-gathers the rows the whole global batch changed and
applies them all, so the copies stay identical; the variable's aggregation
(`only_first_replica`) then just takes one of them.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from advmask_tf.errors import InputError


def add_table(model: keras.Model, name: str, size: int, initial: float
              ) -> keras.Variable:
    """Adds a float32 table of `size` rows, all `initial`, to `model`.

    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> table = add_table(model, "radius", 4, 0.1)
    >>> [round(float(v), 2) for v in table.numpy()]
    [0.1, 0.1, 0.1, 0.1]
    """
    if not isinstance(size, int) or size < 1:
        raise InputError(
            f"A per-example table needs the number of training examples "
            f"(an integer >= 1); received {size!r} for {name!r}.")
    return model.add_weight(
        name=name, shape=(size,), dtype="float32",
        initializer=keras.initializers.Constant(initial), trainable=False,
        aggregation="only_first_replica")


def gather_rows(table, index):
    """table[index] for an int index vector."""
    return tf.gather(tf.convert_to_tensor(table), tf.cast(index, tf.int32))


def scatter_rows(table, index, values):
    """Sets table[index] = values, for the global batch under a strategy.

    Indices must be unique within the (global) batch, as they are for
    examples of one epoch.
    """
    index = tf.cast(tf.reshape(index, [-1]), tf.int32)
    values = tf.cast(tf.reshape(values, [-1]), tf.float32)
    if tf.distribute.get_strategy().num_replicas_in_sync > 1:
        context = tf.distribute.get_replica_context()
        index = context.all_gather(index, axis=0)
        values = context.all_gather(values, axis=0)
    table.assign(tf.tensor_scatter_nd_update(
        tf.convert_to_tensor(table), index[:, None], values))


def require_index(index, what: str):
    """Raises a ValueError when a batch has no example index."""
    if index is None:
        raise InputError(
            f"{what} keeps a value per training example and needs each "
            "example's dataset index: feed batches of ({'image': x, 'index': "
            "i}, y), as advmask_tf.data.build_data makes them; received "
            "bare images.")
