"""Batch normalisation whose statistics are chosen per sample by a route.

A route is picked from the conditioning input eps by `route_boundaries`:
route r holds the samples with exactly r boundaries below their eps, so
(0.0,) gives clean (eps = 0) and adversarial (eps > 0) routes, and (0.0,
0.05) adds a route for eps > 0.05. In training each route is normalised with
the mean and variance of its own samples in the batch (all replicas' samples
when `synchronized`), and only the routes present in the batch move their
statistics. In inference each sample uses its route's moving statistics.
Subclasses add the rescaling in `call`.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from advmask_tf.errors import InputError


def check_boundaries(boundaries) -> tuple:
    """Sorted, finite, distinct, >= 0 route boundaries.

    >>> check_boundaries([0.05, 0.0])
    (0.0, 0.05)
    """
    values = tuple(sorted(float(b) for b in boundaries))
    if any(not math.isfinite(b) or b < 0 for b in values) or len(
            set(values)) != len(values):
        raise InputError(
            "route_boundaries must be distinct finite values >= 0, such as "
            f"(0.0,) for clean/adversarial routes; received {boundaries!r}.")
    return values


def _all_replicas_sum(value, synchronized: bool):
    context = tf.distribute.get_replica_context()
    if (not synchronized or context is None
            or context.num_replicas_in_sync == 1):
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


class RoutedNormalization(keras.layers.Layer):
    """Normalisation with one set of statistics per route (base class).

    Call as `layer(features, eps)`, features (B, ..., C) with channels last
    and eps (B,) the conditioning strength per sample.

    Args:
        route_boundaries: see the module docstring; () gives one route.
        momentum: of the moving statistics (as Keras' BatchNormalization).
        epsilon: added to the variance.
        synchronized: compute batch statistics over all replicas.
    """

    def __init__(self, route_boundaries=(0.0,), momentum: float = 0.9,
                 epsilon: float = 1e-5, synchronized: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        self.route_boundaries = check_boundaries(route_boundaries)
        if not 0.0 <= momentum < 1.0:
            raise InputError(f"momentum must be in [0, 1); received "
                             f"{momentum!r}.")
        if not epsilon > 0:
            raise InputError(f"epsilon must be > 0; received {epsilon!r}.")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.synchronized = bool(synchronized)

    @property
    def num_routes(self) -> int:
        return len(self.route_boundaries) + 1

    def build(self, inputs_shape, eps_shape=None):
        channels = inputs_shape[-1]
        if channels is None:
            raise InputError(f"{self.name}: the channel dimension must be "
                             f"known; received shape {inputs_shape}.")
        self.channels = int(channels)
        shape = (self.num_routes, self.channels)
        self.moving_mean = self.add_weight(
            name="moving_mean", shape=shape, initializer="zeros",
            trainable=False, aggregation="mean")
        self.moving_variance = self.add_weight(
            name="moving_variance", shape=shape, initializer="ones",
            trainable=False, aggregation="mean")

    def routes(self, eps):
        """One-hot (B, num_routes) route of each sample."""
        eps = tf.reshape(tf.cast(eps, self.variable_dtype), [-1])
        if not self.route_boundaries:
            return tf.ones_like(eps)[:, None]
        boundaries = tf.constant(self.route_boundaries, dtype=eps.dtype)
        above = tf.cast(eps[:, None] > boundaries[None, :], tf.int32)
        return tf.one_hot(tf.reduce_sum(above, axis=1), self.num_routes,
                          dtype=eps.dtype)

    def normalize(self, x, onehot, training):
        """x normalised with its route's statistics (in the variable dtype)."""
        spatial = list(range(1, x.shape.rank - 1))
        per_sample = (lambda t: tf.reduce_sum(t, axis=spatial)) if spatial \
            else (lambda t: t)
        broadcast = [-1] + [1] * len(spatial) + [self.channels]
        if training:
            size = tf.cast(tf.reduce_prod(tf.shape(x)[1:-1]), x.dtype)
            count = _all_replicas_sum(tf.reduce_sum(onehot, 0) * size,
                                      self.synchronized)
            safe = tf.maximum(count, 1.0)[:, None]
            mean = _all_replicas_sum(
                tf.matmul(onehot, per_sample(x), transpose_a=True),
                self.synchronized) / safe
            centered = x - tf.reshape(tf.matmul(onehot, mean), broadcast)
            variance = _all_replicas_sum(
                tf.matmul(onehot, per_sample(tf.square(centered)),
                          transpose_a=True), self.synchronized) / safe
            present = (count > 0)[:, None]
            for moving, batch in ((self.moving_mean, mean),
                                  (self.moving_variance, variance)):
                moving.assign(tf.where(
                    present,
                    moving * self.momentum + batch * (1.0 - self.momentum),
                    moving))
        else:
            centered = x - tf.reshape(
                tf.matmul(onehot, tf.convert_to_tensor(self.moving_mean)),
                broadcast)
            variance = tf.convert_to_tensor(self.moving_variance)
        scale = tf.math.rsqrt(tf.matmul(onehot, variance) + self.epsilon)
        return centered * tf.reshape(scale, broadcast)

    def normalized(self, inputs, eps, training):
        """(x_hat in the variable dtype, one-hot routes): what subclasses
        rescale."""
        onehot = self.routes(eps)
        return self.normalize(tf.cast(inputs, self.variable_dtype), onehot,
                              bool(training)), onehot

    def broadcast_channels(self, per_sample, rank):
        """(B or 1, C) -> shape that broadcasts against (B, ..., C)."""
        return tf.reshape(per_sample, [-1] + [1] * (rank - 2)
                          + [self.channels])

    def compute_output_shape(self, inputs_shape, eps_shape=None):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(route_boundaries=list(self.route_boundaries),
                      momentum=self.momentum, epsilon=self.epsilon,
                      synchronized=self.synchronized)
        return config


@keras.saving.register_keras_serializable(package="advmask_tf")
class SplitBatchNormalization(RoutedNormalization):
    """Batch norm with separate statistics per route (AdvProp's split BN).

    Args:
        route_boundaries: (0.0,) for clean / adversarial; more values give one
            route per eps bucket.
        split_rescaling: also a separate (gamma, beta) per route; otherwise
            one rescaling shared by all routes.
        center, scale: learn beta / gamma.
        momentum, epsilon, synchronized: as `RoutedNormalization`.

    Example:

    >>> layer = SplitBatchNormalization(route_boundaries=(0.0,))
    >>> x = tf.random.normal((4, 8, 8, 3)); eps = tf.constant([0., 0., .1, .1])
    >>> layer(x, eps, training=True).shape
    TensorShape([4, 8, 8, 3])
    >>> tuple(layer.moving_mean.shape)  # (routes, channels)
    (2, 3)
    """

    def __init__(self, route_boundaries=(0.0,), split_rescaling: bool = True,
                 center: bool = True, scale: bool = True, **kwargs):
        super().__init__(route_boundaries=route_boundaries, **kwargs)
        self.split_rescaling = bool(split_rescaling)
        self.center = bool(center)
        self.scale = bool(scale)

    def build(self, inputs_shape, eps_shape=None):
        super().build(inputs_shape, eps_shape)
        shape = (self.num_routes if self.split_rescaling else 1,
                 self.channels)
        self.gamma = self.add_weight(name="gamma", shape=shape,
                                     initializer="ones") if self.scale \
            else None
        self.beta = self.add_weight(name="beta", shape=shape,
                                    initializer="zeros") if self.center \
            else None

    def _per_sample(self, weight, onehot):
        weight = tf.convert_to_tensor(weight)
        return tf.matmul(onehot, weight) if self.split_rescaling \
            else weight[0][None, :]

    def call(self, inputs, eps, training=None):
        x_hat, onehot = self.normalized(inputs, eps, training)
        rank = x_hat.shape.rank
        if self.gamma is not None:
            x_hat = x_hat * self.broadcast_channels(
                self._per_sample(self.gamma, onehot), rank)
        if self.beta is not None:
            x_hat = x_hat + self.broadcast_channels(
                self._per_sample(self.beta, onehot), rank)
        return tf.cast(x_hat, self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(split_rescaling=self.split_rescaling,
                      center=self.center, scale=self.scale)
        return config
