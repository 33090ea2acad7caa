"""Test setup: two logical CPU devices (for MirroredStrategy) and shared data."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Must run before TensorFlow initialises its devices.
# One thread per op: the suite runs in two processes on two cores, and
# thread pools of two in each only contend.
tf.config.threading.set_intra_op_parallelism_threads(1)
_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402  (after the devices are set)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(REPO, "configs", "tiny.py")


def tiny(overrides=None):
    """configs/tiny.py with {"section.field": value} overrides."""
    return configured("tiny.py", overrides)


def configured(config_file, overrides=None):
    """A config file under configs/ with {"section.field": value}
    overrides (what --config.section.field=value does)."""
    from advmask_tf.configs_lib import preset

    config = preset(TINY, config_file)
    for field, value in (overrides or {}).items():
        *sections, key = field.split(".")
        block = config
        for section in sections:
            block = block[section]
        block[key] = value
    return config


@pytest.fixture(scope="session")
def fashion_mnist():
    """The real Fashion-MNIST arrays (Debian's dataset-fashion-mnist)."""
    from advmask_tf.data import load_fashion_mnist

    return load_fashion_mnist()


@pytest.fixture(scope="session")
def trained_standard(fashion_mnist):
    """A small CNN trained cleanly for two epochs on 4000 real images."""
    import keras

    from advmask_tf.models import build_model
    from advmask_tf.training import AdversarialModel

    keras.utils.set_random_seed(0)
    x = fashion_mnist.x_train[:4000].astype(np.float32) / 255.0
    y = fashion_mnist.y_train[:4000]
    net = build_model("small_cnn", (28, 28, 1), 10, mean=[0.286], std=[0.353])
    model = AdversarialModel(net, objective="standard")
    model.compile(optimizer="adam")
    model.fit(x, y, batch_size=100, epochs=2, verbose=0)
    return net


@pytest.fixture(scope="session")
def two_replicas():
    """One MirroredStrategy over the two logical CPUs, shared by all tests.

    Several MirroredStrategy objects in one process can hand out clashing
    collective keys (seen as "Shape mismatch in the collective instance"), so
    the tests share one, as a training process does.
    """
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


@pytest.fixture
def float64():
    """Keras in float64 for the test (replica-equivalence tests).

    Synchronised batch norm computes E[x^2] - E[x]^2; in float32 its
    rounding differs with the reduction order and training amplifies that,
    so the replica logic is compared in float64, where only it can differ.
    """
    import keras

    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_floatx("float32")
    keras.config.set_dtype_policy("float32")


@pytest.fixture(scope="session")
def fashion_slice(fashion_mnist):
    """take(n, offset=0, split="train", dtype=float32) -> (x in [0, 1], y):
    a slice of the real Fashion-MNIST images."""

    def take(n, offset=0, split="train", dtype=np.float32):
        images = getattr(fashion_mnist, f"x_{split}")[offset:offset + n]
        labels = getattr(fashion_mnist, f"y_{split}")[offset:offset + n]
        return images.astype(dtype) / 255.0, labels

    return take


def indexed(x, y, batch=32):
    """Batches of ({"image", "index"}, label), as build_data makes them."""
    return tf.data.Dataset.from_tensor_slices(
        ({"image": x, "index": np.arange(len(y))}, y)).batch(batch)


@pytest.fixture
def replica_pair(two_replicas):
    """run(build, initial, x, y, epochs=1, validation=False, momentum=0.9)
    trains the AdversarialModel `build()` makes from the network weights
    `initial`, once on one device and once on two replicas, with the same
    SGD and batches; returns ((model, history) on one, (model, history) on
    two)."""

    def fit_on(strategy, build, initial, x, y, epochs, validation, momentum):
        with strategy.scope():
            model = build()
            model.network.set_weights(initial)
            if model.guide is not None:  # LBGAT's, HAT's: the same start
                model.guide.set_weights(initial)
            model.compile(optimizer=keras.optimizers.SGD(
                0.05, momentum=momentum))
        dataset = indexed(x, y)
        history = model.fit(dataset, epochs=epochs, verbose=0, shuffle=False,
                            validation_data=dataset if validation else None)
        return model, history.history

    def run(build, initial, x, y, epochs=1, validation=False, momentum=0.9):
        return tuple(fit_on(strategy, build, initial, x, y, epochs,
                            validation, momentum)
                     for strategy in (tf.distribute.get_strategy(),
                                      two_replicas))

    return run
