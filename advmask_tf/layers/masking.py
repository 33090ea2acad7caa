"""RobMask's perturbation-conditioned masking layer and its interpolation.

Batch norm is a normalisation followed by a rescaling (gamma, beta); with the
ReLU after it the rescaling acts as a feature mask. `PerturbationMasking`
keeps the normalisation shared (or split by route, as `SplitBatchNormalization`)
and produces the rescaling from an encoding of the perturbation strength eps:

    gamma(eps) = relu(enc(eps) W_gamma + b_gamma)
    beta(eps)  = enc(eps) W_beta + b_beta

The projections start at W = 0, b_gamma = 1, b_beta = 0 (plain batch norm
for every eps) and learn to differ. `mix` evaluates the rescaling
(1 - t) * rescaling(0) + t * rescaling(eps), the paper's linear combination
of the clean and the adversarial masking; `interpolated` turns a conditioned
model into one that does so at a fixed t.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from advmask_tf.errors import InputError
from advmask_tf.layers.encodings import (
    check_encoding,
    encoding_table,
    interpolate_rows,
    sinusoidal,
)
from advmask_tf.layers.routed import RoutedNormalization


@keras.saving.register_keras_serializable(package="advmask_tf")
class PerturbationMasking(RoutedNormalization):
    """Normalisation + a rescaling computed from the encoding of eps.

    Args:
        encoding: "orthogonal", "one_hot" or "sinusoidal"
            (`advmask_tf.layers.encodings`).
        encoding_dim: length of the encoding (one_hot: number of strengths).
        strengths: the set the orthogonal / one_hot encodings are defined on
            (eps between two is interpolated); include 0, the clean strength.
        max_eps: scale of the sinusoidal encoding (default: max(strengths)).
        seed: of the random orthogonal rows.
        route_boundaries: () (default) shares the normalisation statistics
            over all eps, as the paper; (0.0,) splits clean / adversarial.
        momentum, epsilon, synchronized: as `RoutedNormalization`.

    Call: `layer(features, eps, mix=None)`; mix (scalar or (B,)) in [0, 1].

    Example:

    >>> layer = PerturbationMasking(encoding="orthogonal", encoding_dim=8,
    ...                             strengths=(0.0, 0.05, 0.1))
    >>> x = tf.random.normal((4, 6, 6, 3)); eps = tf.constant([0., .05, .1, .1])
    >>> layer(x, eps, training=True).shape
    TensorShape([4, 6, 6, 3])
    >>> [tuple(w.shape) for w in layer.trainable_weights]
    [(8, 3), (3,), (8, 3), (3,)]
    """

    def __init__(self, encoding: str = "orthogonal", encoding_dim: int = 16,
                 strengths=(0.0, 0.1), max_eps: float | None = None,
                 seed: int = 0, route_boundaries=(), **kwargs):
        super().__init__(route_boundaries=route_boundaries, **kwargs)
        if max_eps is None:
            max_eps = max(strengths) if len(strengths) else 0.0
        self.strengths = check_encoding(encoding, encoding_dim, strengths,
                                        max_eps)
        self.encoding = encoding
        self.encoding_dim = int(encoding_dim)
        self.max_eps = float(max_eps)
        self.seed = int(seed)

    def build(self, inputs_shape, eps_shape=None):
        super().build(inputs_shape, eps_shape)
        self.table = None
        if self.encoding != "sinusoidal":
            table = encoding_table(self.encoding, self.encoding_dim,
                                   self.strengths, self.seed)
            self.table = self.add_weight(
                name="encoding_table", shape=table.shape, trainable=False,
                initializer=keras.initializers.Constant(table))
        shape = (self.encoding_dim, self.channels)
        self.scale_kernel = self.add_weight(name="scale_kernel", shape=shape,
                                            initializer="zeros")
        self.scale_bias = self.add_weight(name="scale_bias",
                                          shape=(self.channels,),
                                          initializer="ones")
        self.shift_kernel = self.add_weight(name="shift_kernel", shape=shape,
                                            initializer="zeros")
        self.shift_bias = self.add_weight(name="shift_bias",
                                          shape=(self.channels,),
                                          initializer="zeros")

    def encode(self, eps):
        """(B, encoding_dim) encoding of eps (B,)."""
        eps = tf.reshape(tf.cast(eps, self.variable_dtype), [-1])
        if self.encoding == "sinusoidal":
            return sinusoidal(eps, self.encoding_dim, self.max_eps)
        return interpolate_rows(eps, self.strengths,
                                tf.convert_to_tensor(self.table))

    def rescaling(self, eps):
        """(gamma, beta), each (B, channels), for eps (B,)."""
        code = self.encode(eps)
        gamma = tf.nn.relu(tf.matmul(code, self.scale_kernel)
                           + self.scale_bias)
        beta = tf.matmul(code, self.shift_kernel) + self.shift_bias
        return gamma, beta

    def call(self, inputs, eps, training=None, mix=None):
        x_hat, _ = self.normalized(inputs, eps, training)
        eps = tf.reshape(tf.cast(eps, self.variable_dtype), [-1])
        gamma, beta = self.rescaling(eps)
        if mix is not None:
            t = tf.cast(mix, self.variable_dtype) * tf.ones_like(eps)
            gamma0, beta0 = self.rescaling(tf.zeros_like(eps))
            gamma = (1.0 - t)[:, None] * gamma0 + t[:, None] * gamma
            beta = (1.0 - t)[:, None] * beta0 + t[:, None] * beta
        rank = x_hat.shape.rank
        return tf.cast(x_hat * self.broadcast_channels(gamma, rank)
                       + self.broadcast_channels(beta, rank),
                       self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(encoding=self.encoding, encoding_dim=self.encoding_dim,
                      strengths=list(self.strengths), max_eps=self.max_eps,
                      seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="advmask_tf")
class MaskInterpolation(keras.layers.Layer):
    """Calls a `PerturbationMasking` layer with a fixed mix t (shares its
    weights); built by `interpolated`, for evaluation."""

    def __init__(self, masking: PerturbationMasking, t: float, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(t) <= 1.0:
            raise InputError(f"mix t must be in [0, 1]; received {t!r}.")
        self.masking = masking
        self.t = float(t)

    def call(self, inputs, eps, training=None):
        return self.masking(inputs, eps, training=training, mix=self.t)

    def compute_output_shape(self, inputs_shape, eps_shape=None):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(masking=keras.saving.serialize_keras_object(
            self.masking), t=self.t)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["masking"] = keras.saving.deserialize_keras_object(
            config["masking"])
        return cls(**config)


def masking_layers(model: keras.Model) -> list:
    """The `PerturbationMasking` layers of a model, in order."""
    return [layer for layer in model.layers
            if isinstance(layer, PerturbationMasking)]


def interpolated(model: keras.Model, t: float) -> keras.Model:
    """A model sharing `model`'s weights whose every masking layer uses the
    rescaling (1 - t) * rescaling(0) + t * rescaling(eps).

    t = 1 is the model itself; t = 0 its clean masking at every eps (the
    normalisation statistics still follow eps's route).

    >>> from advmask_tf.models import build_model
    >>> net = build_model("small_cnn", (28, 28, 1), 10, norm="masking",
    ...                   norm_options={"strengths": (0.0, 0.1)})
    >>> half = interpolated(net, 0.5)
    >>> sorted(half.input)
    ['eps', 'image']
    """
    if not masking_layers(model):
        raise InputError(
            f"model {model.name!r} has no PerturbationMasking layer to "
            "interpolate; build it with norm='masking'.")
    if not 0.0 <= float(t) <= 1.0:
        raise InputError(f"mix t must be in [0, 1]; received {t!r}.")

    def share_or_wrap(layer):
        if isinstance(layer, PerturbationMasking):
            return MaskInterpolation(layer, t, name=layer.name + "_mix")
        return layer

    return keras.models.clone_model(model, clone_function=share_or_wrap)
