"""Test setup: two logical CPU devices (for MirroredStrategy) and shared data."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Must run before TensorFlow initialises its devices.
_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def fashion_mnist():
    """The real Fashion-MNIST arrays (Debian's dataset-fashion-mnist)."""
    from advmask_tf.data import load_fashion_mnist

    return load_fashion_mnist()


@pytest.fixture(scope="session")
def trained_standard(fashion_mnist):
    """A small CNN trained cleanly for one epoch on 4000 real images."""
    import keras

    from advmask_tf.models import build_model
    from advmask_tf.training import AdversarialModel

    keras.utils.set_random_seed(0)
    x = fashion_mnist.x_train[:4000].astype(np.float32) / 255.0
    y = fashion_mnist.y_train[:4000]
    net = build_model("small_cnn", (28, 28, 1), 10, mean=[0.286], std=[0.353])
    model = AdversarialModel(net, method="standard")
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
