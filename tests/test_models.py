import keras
import numpy as np
import pytest

from advmask_tf.config_reference import reference_markdown
from advmask_tf.models import MODELS, build_model, resolve_norm

SMALL = {
    "small_cnn": dict(width=4, dense_units=8),
    "resnet18": dict(width=4),
    "preact_resnet18": dict(width=4),
    "wide_resnet": dict(depth=10, width=1),
}


@pytest.mark.parametrize("name", MODELS)
def test_models_build_and_round_trip_through_keras_files(name, tmp_path):
    # Every model of the zoo: a new one needs its small arguments here.
    assert name in SMALL, f"add small arguments of {name!r} to SMALL"
    assert f"'{name}'" in reference_markdown()  # a model.name choice
    shape = (28, 28, 1) if name == "small_cnn" else (32, 32, 3)
    net = build_model(name, shape, 7, mean=[0.5] * shape[-1],
                      std=[0.25] * shape[-1], **SMALL[name])
    x = np.random.RandomState(0).rand(3, *shape).astype(np.float32)
    assert net(x).shape == (3, 7)
    path = str(tmp_path / f"{name}.keras")
    net.save(path)
    loaded = keras.models.load_model(path)  # no custom_objects needed
    np.testing.assert_allclose(loaded.predict(x, verbose=0),
                               net.predict(x, verbose=0), atol=1e-5)


@pytest.mark.parametrize("norm, options", [
    ("split_batchnorm", {"route_boundaries": (0.0,)}),
    ("masking", {"encoding": "sinusoidal", "encoding_dim": 4,
                 "max_eps": 0.1}),
])
@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_model_takes_the_conditioned_norms(name, norm, options,
                                                 tmp_path):
    import advmask_tf  # noqa: F401  (registers the conditioned layers)
    from advmask_tf.layers import masking_layers

    shape = (28, 28, 1) if name == "small_cnn" else (32, 32, 3)
    net = build_model(name, shape, 7, norm=norm, norm_options=options,
                      **SMALL[name])
    x = np.random.RandomState(0).rand(4, *shape).astype(np.float32)
    clean = {"image": x, "eps": np.zeros(4, np.float32)}
    attacked = {"image": x, "eps": np.full(4, 0.1, np.float32)}
    net(attacked, training=True)  # the adversarial route's statistics move
    for layer in masking_layers(net):  # the masking's initial W is 0
        layer.scale_kernel.assign(
            np.random.RandomState(1).randn(*layer.scale_kernel.shape))
    assert not np.allclose(net(clean).numpy(), net(attacked).numpy())
    path = str(tmp_path / f"{name}-{norm}.keras")
    net.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded(attacked).numpy(),
                               net(attacked).numpy(), atol=1e-5)


def test_full_size_parameter_counts_match_the_references():
    # ResNet-18 (CIFAR) has 11.17M parameters; WRN-34-10 46.2M.
    assert abs(build_model("resnet18", (32, 32, 3), 10).count_params()
               - 11.17e6) < 0.02e6
    assert abs(build_model("wide_resnet", (32, 32, 3), 10, depth=34,
                           width=10).count_params() - 46.16e6) < 0.1e6


def test_model_normalises_its_own_input():
    net = build_model("small_cnn", (28, 28, 1), 10, mean=[0.3], std=[0.2])
    layer = net.get_layer("input_normalization")
    out = layer(np.full((1, 28, 28, 1), 0.5, np.float32))
    np.testing.assert_allclose(out, np.full((1, 28, 28, 1), 1.0), atol=1e-5)


def test_norm_choices(two_replicas):
    plain = build_model("small_cnn", (28, 28, 1), 10, norm="batchnorm")
    synced = build_model("small_cnn", (28, 28, 1), 10, norm="sync_batchnorm")
    none = build_model("small_cnn", (28, 28, 1), 10, norm="none")

    def batch_norms(model):
        return [layer for layer in model.layers
                if isinstance(layer, keras.layers.BatchNormalization)]

    assert batch_norms(plain)
    assert not any(layer.synchronized for layer in batch_norms(plain))
    assert batch_norms(synced)
    assert all(layer.synchronized for layer in batch_norms(synced))
    assert not batch_norms(none)
    assert resolve_norm("auto") == "batchnorm"
    strategy = two_replicas
    with strategy.scope():
        assert resolve_norm("auto") == "sync_batchnorm"


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="vgg"), "'vgg'"),
    (dict(name="small_cnn", norm="layernorm"), "'layernorm'"),
    (dict(name="wide_resnet", depth=12), "received 12"),
    (dict(name="small_cnn", depth=12), "Bad arguments"),
    (dict(name="small_cnn", num_classes=1), "received 1"),
    (dict(name="small_cnn", std=[0.0]), "positive"),
])
def test_bad_model_arguments(kwargs, message):
    args = dict(name="small_cnn", input_shape=(28, 28, 1), num_classes=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        build_model(**args)
