"""Split batch norm, perturbation-conditioned masking and their encodings."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from advmask_tf.layers import (
    PerturbationMasking,
    SplitBatchNormalization,
    interpolated,
    masking_layers,
)
from advmask_tf.layers.encodings import (
    check_encoding,
    encoding_table,
    interpolate_rows,
)
from advmask_tf.models import at_strength, build_model

STRENGTHS = (0.0, 0.05, 0.1)


def _features(seed=0, shape=(6, 5, 5, 3)):
    rng = np.random.default_rng(seed)
    return tf.constant(rng.normal(2.0, 3.0, shape), tf.float32)


@pytest.mark.parametrize("layer", [
    SplitBatchNormalization(route_boundaries=(0.0, 0.05),
                            split_rescaling=False, momentum=0.8),
    PerturbationMasking(encoding="sinusoidal", encoding_dim=6, max_eps=0.2,
                        route_boundaries=(0.0,), epsilon=1e-3),
    PerturbationMasking(encoding="one_hot", encoding_dim=3,
                        strengths=STRENGTHS),
])
def test_layer_config_round_trips(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


@pytest.mark.parametrize("norm, options", [
    ("split_batchnorm", {"route_boundaries": (0.0,)}),
    ("masking", {"encoding": "orthogonal", "encoding_dim": 8,
                 "strengths": STRENGTHS}),
])
def test_conditioned_model_saves_and_loads_with_load_model_alone(
        tmp_path, norm, options):
    net = build_model("small_cnn", (28, 28, 1), 10, norm=norm,
                      norm_options=options, width=4, dense_units=8)
    x = tf.random.uniform((4, 28, 28, 1))
    eps = tf.constant([0.0, 0.05, 0.1, 0.0])
    for _ in range(2):  # move the statistics away from their initial values
        net({"image": x, "eps": eps}, training=True)
    for layer in masking_layers(net):
        layer.scale_kernel.assign(tf.random.normal(layer.scale_kernel.shape))
    path = str(tmp_path / "net.keras")
    net.save(path)
    loaded = keras.models.load_model(path)
    assert sorted(loaded.input) == ["eps", "image"]
    np.testing.assert_allclose(loaded({"image": x, "eps": eps}).numpy(),
                               net({"image": x, "eps": eps}).numpy(),
                               atol=1e-6)


def test_split_batchnorm_normalises_each_route_with_its_own_batch_statistics():
    x = _features()
    eps = tf.constant([0.0, 0.1, 0.0, 0.1, 0.1, 0.0])
    layer = SplitBatchNormalization(route_boundaries=(0.0,), momentum=0.5,
                                    epsilon=1e-3)
    out = layer(x, eps, training=True).numpy()
    for route in (eps.numpy() == 0, eps.numpy() > 0):
        reference = keras.layers.BatchNormalization(epsilon=1e-3)
        np.testing.assert_allclose(
            out[route], reference(x.numpy()[route], training=True).numpy(),
            atol=1e-4)


def test_routes_keep_separate_moving_statistics():
    x = _features()
    eps = tf.constant([0.0, 0.1, 0.0, 0.1, 0.1, 0.0])
    layer = SplitBatchNormalization(route_boundaries=(0.0, 0.05),
                                    momentum=0.5)
    layer(x, eps, training=True)
    data = x.numpy()
    for route, chosen in ((0, eps.numpy() == 0), (2, eps.numpy() > 0.05)):
        np.testing.assert_allclose(
            layer.moving_mean.numpy()[route],
            0.5 * data[chosen].mean(axis=(0, 1, 2)), rtol=1e-5)
        np.testing.assert_allclose(
            layer.moving_variance.numpy()[route],
            0.5 + 0.5 * data[chosen].var(axis=(0, 1, 2)), rtol=1e-4)
    # No sample had 0 < eps <= 0.05: route 1 did not move.
    np.testing.assert_array_equal(layer.moving_mean.numpy()[1], 0.0)
    np.testing.assert_array_equal(layer.moving_variance.numpy()[1], 1.0)
    # In inference each sample uses its route's moving statistics.
    inference = layer(x, eps, training=False).numpy()
    mean = layer.moving_mean.numpy()[2]
    variance = layer.moving_variance.numpy()[2]
    np.testing.assert_allclose(
        inference[1], (data[1] - mean) / np.sqrt(variance + 1e-5), atol=1e-5)


def test_split_rescaling_gives_each_route_its_own_gamma():
    layer = SplitBatchNormalization(route_boundaries=(0.0,))
    x = _features()
    eps = tf.constant([0.0, 0.1] * 3)
    layer(x, eps, training=False)
    layer.gamma.assign([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    out = layer(x, eps, training=False).numpy()
    assert np.all(out[1::2] == 0.0) and np.any(out[0::2] != 0.0)


def _masking_layer(**kwargs):
    options = dict(encoding="orthogonal", encoding_dim=8, strengths=STRENGTHS)
    options.update(kwargs)
    return PerturbationMasking(**options)


def test_masking_rescaling_depends_on_eps_and_gradients_reach_the_projection():
    layer = _masking_layer()
    x = _features()
    eps = tf.constant([0.0, 0.1] * 3)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.nn.relu(layer(x, eps, training=True))
                             * tf.range(3, dtype=tf.float32))
    kernels = [layer.scale_kernel, layer.shift_kernel]
    gradients = tape.gradient(loss, kernels)
    for gradient in gradients:
        assert float(tf.reduce_max(tf.abs(gradient))) > 0
    # At initialisation every eps gets gamma = 1, beta = 0 ...
    before = [layer.rescaling(tf.constant([e])) for e in (0.0, 0.1)]
    np.testing.assert_allclose(before[0][0], before[1][0])
    np.testing.assert_allclose(before[0][1], before[1][1])
    # ... and one gradient step separates the clean and the eps masking.
    for kernel, gradient in zip(kernels, gradients):
        kernel.assign_sub(0.01 * gradient)
    (gamma0, beta0), (gamma1, beta1) = [
        layer.rescaling(tf.constant([e])) for e in (0.0, 0.1)]
    assert float(tf.reduce_max(tf.abs(gamma0 - gamma1))) > 1e-3
    assert float(tf.reduce_max(tf.abs(beta0 - beta1))) > 1e-3


def _masked_net():
    keras.utils.set_random_seed(3)
    net = build_model("small_cnn", (28, 28, 1), 10, norm="masking",
                      norm_options={"strengths": STRENGTHS,
                                    "encoding_dim": 8},
                      width=4, dense_units=8)
    for layer in masking_layers(net):
        layer.scale_kernel.assign(tf.random.normal(layer.scale_kernel.shape))
        layer.shift_kernel.assign(tf.random.normal(layer.shift_kernel.shape))
    return net


def test_interpolation_endpoints_equal_the_clean_and_the_eps_masking():
    net = _masked_net()
    x = tf.random.uniform((5, 28, 28, 1))
    eps = tf.fill([5], 0.1)
    clean = net({"image": x, "eps": tf.zeros([5])}).numpy()
    robust = net({"image": x, "eps": eps}).numpy()
    assert np.abs(clean - robust).max() > 1e-3  # the maskings differ
    np.testing.assert_allclose(
        interpolated(net, 0.0)({"image": x, "eps": eps}).numpy(), clean,
        atol=1e-5)
    np.testing.assert_allclose(
        interpolated(net, 1.0)({"image": x, "eps": eps}).numpy(), robust,
        atol=1e-5)
    half = interpolated(net, 0.5)({"image": x, "eps": eps}).numpy()
    assert np.abs(half - clean).max() > 1e-4
    assert np.abs(half - robust).max() > 1e-4
    # The interpolated model shares the weights: no copies.
    assert len(interpolated(net, 0.5).weights) == len(net.weights)


def test_mix_is_linear_in_the_rescaling():
    layer = _masking_layer()
    x = _features()
    layer(x, tf.zeros([6]))
    layer.scale_kernel.assign(tf.random.normal(layer.scale_kernel.shape))
    layer.shift_kernel.assign(tf.random.normal(layer.shift_kernel.shape))
    eps = tf.fill([6], 0.05)
    outputs = [layer(x, eps, mix=t).numpy() for t in (0.0, 0.3, 1.0)]
    np.testing.assert_allclose(outputs[1], 0.7 * outputs[0]
                               + 0.3 * outputs[2], atol=1e-5)


def test_two_replicas_give_the_moving_statistics_of_one_device(two_replicas):
    x = _features(shape=(8, 4, 4, 3))
    eps = tf.constant([0.0, 0.1, 0.1, 0.1, 0.0, 0.0, 0.1, 0.0])
    single = SplitBatchNormalization(route_boundaries=(0.0,))
    single(x, eps, training=True)
    with two_replicas.scope():
        mirrored = SplitBatchNormalization(route_boundaries=(0.0,),
                                           synchronized=True)
        mirrored.build(x.shape)
    dataset = tf.data.Dataset.from_tensor_slices((x, eps)).batch(8)
    batch = next(iter(two_replicas.experimental_distribute_dataset(dataset)))

    @tf.function
    def step(features, strengths):
        return mirrored(features, strengths, training=True)

    two_replicas.run(step, args=batch)
    # The replicas hold different samples (and route counts); synchronised
    # statistics still equal the global batch's.
    for name in ("moving_mean", "moving_variance"):
        np.testing.assert_allclose(getattr(mirrored, name).numpy(),
                                   getattr(single, name).numpy(), rtol=1e-5,
                                   atol=1e-6)


def test_encodings_interpolate_between_the_rows_of_their_set():
    table = encoding_table("orthogonal", 8, STRENGTHS, seed=4)
    np.testing.assert_allclose(table @ table.T, np.eye(3), atol=1e-5)
    codes = interpolate_rows(tf.constant([0.0, 0.025, 0.1, 0.3]), STRENGTHS,
                             table).numpy()
    np.testing.assert_allclose(codes[0], table[0], atol=1e-6)
    np.testing.assert_allclose(codes[1], 0.5 * (table[0] + table[1]),
                               atol=1e-6)
    np.testing.assert_allclose(codes[3], table[2], atol=1e-6)  # clipped


@pytest.mark.parametrize("kind, dim, strengths, max_eps, message", [
    ("binary", 4, STRENGTHS, 0.1, "Unknown encoding 'binary'"),
    ("one_hot", 4, STRENGTHS, 0.1, "dim must be 3; received 4"),
    ("orthogonal", 2, STRENGTHS, 0.1, "dim >= the number of strengths"),
    ("orthogonal", 8, (0.1,), 0.1, "at least 2 strengths"),
    ("sinusoidal", 5, (), 0.1, "even dim; received 5"),
    ("sinusoidal", 4, (), 0.0, "max_eps > 0"),
    ("one_hot", 2, (0.1, 0.1), 0.1, "distinct"),
])
def test_bad_encoding_settings_are_named(kind, dim, strengths, max_eps,
                                         message):
    with pytest.raises(ValueError, match=message):
        check_encoding(kind, dim, strengths, max_eps)


def test_bad_layer_and_model_settings_are_named():
    with pytest.raises(ValueError, match=r"route_boundaries .* \(-0\.1,\)"):
        SplitBatchNormalization(route_boundaries=(-0.1,))
    with pytest.raises(ValueError, match="mix t must be in"):
        interpolated(_masked_net(), 1.5)
    with pytest.raises(ValueError, match="has no PerturbationMasking"):
        interpolated(build_model("small_cnn", (28, 28, 1), 10), 0.5)
    with pytest.raises(ValueError, match="norm_options .* only apply"):
        build_model("small_cnn", (28, 28, 1), 10, norm="batchnorm",
                    norm_options={"strengths": STRENGTHS})
    with pytest.raises(ValueError, match="Bad norm_options"):
        build_model("small_cnn", (28, 28, 1), 10, norm="masking",
                    norm_options={"colour": "red"})


def test_at_strength_tells_the_network_its_eps():
    net = _masked_net()
    x = tf.random.uniform((3, 28, 28, 1))
    np.testing.assert_allclose(
        at_strength(net, 0.05)(x).numpy(),
        net({"image": x, "eps": tf.fill([3], 0.05)}).numpy(), atol=1e-6)
    plain = build_model("small_cnn", (28, 28, 1), 10)
    assert at_strength(plain, 0.05) is plain
