"""Building a model under a distribution strategy without drawing a batch.

`BuildsWithoutBatch` is a mixin for a `keras.Model` whose train step needs
no compiled loss or metrics (such as `AdversarialModel`).
"""

from __future__ import annotations

import tensorflow as tf


def _one_replica(value):
    if isinstance(value, tf.distribute.DistributedValues):
        return value.values[0]
    return value


class BuildsWithoutBatch:
    """Mixin: under a strategy, build from no batch (or one replica's)."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Under a strategy Keras builds metrics and optimizer from a batch it
        # takes from a new iterator over the training data. That shifts a
        # reshuffling dataset by one shuffle (so a distributed run would see
        # other batches than a single-device one), and under
        # MultiWorkerMirroredStrategy its strategy.reduce fails on dict
        # batches (keras-team/keras issue 20329). A built AdversarialModel
        # has no compiled loss or metrics, so no batch is needed; otherwise
        # one replica's local values of a batch give the shapes.
        if self._distribute_strategy is None:
            return None
        if all(layer.built for layer in self._flatten_layers()):
            with self.distribute_strategy.scope():
                return self._symbolic_build(data_batch=None)
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(_one_replica,
                                                   next(batches))
                break
        with self.distribute_strategy.scope():
            return self._symbolic_build(data_batch=data_batch)
