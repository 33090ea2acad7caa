"""No silently wrong numbers: every public path refuses pixels outside
[0, 1] and networks that output probabilities, as `fit` does, naming what
it saw (issue: a Keras user's ordinary mistakes)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from advmask_tf.attacks import PGDConfig
from advmask_tf.attacks.pgd import pgd
from advmask_tf.errors import InputError
from advmask_tf.evaluation import evaluate
from advmask_tf.models import build_model
from advmask_tf.training import AdversarialModel


def logits_network():
    return build_model("small_cnn", (28, 28, 1), 10, width=2, dense_units=8)


class ProbabilityModel(keras.Model):
    """A subclassed network returning probabilities."""

    def __init__(self):
        super().__init__()
        self.flatten = keras.layers.Flatten()
        self.dense = keras.layers.Dense(10)

    def call(self, x, training=False):
        return keras.ops.softmax(self.dense(self.flatten(x)))


def softmax_heads():
    """Softmax heads that no layer check sees."""
    body = [keras.Input((28, 28, 1)), keras.layers.Flatten()]
    yield keras.Sequential(body + [keras.layers.Dense(10, activation=tf.nn.softmax)])
    yield keras.Sequential(body + [keras.layers.Dense(10), keras.layers.Lambda(
        keras.ops.softmax)])
    yield keras.Sequential(body + [keras.Sequential(
        [keras.layers.Dense(10), keras.layers.Softmax()])])
    model = ProbabilityModel()
    model(np.zeros((1, 28, 28, 1), np.float32))
    yield model


def test_pixels_in_0_255_are_refused_on_every_path(fashion_slice):
    x, y = fashion_slice(32, split="test")
    scaled = x * 255.0
    net = logits_network()
    message = r"takes pixels in \[0, 1\].*0\.\.255 images: divide"
    data = tf.data.Dataset.from_tensor_slices((scaled, y)).batch(16)
    with pytest.raises(InputError, match="evaluate " + message):
        evaluate(net, data, eps=0.1)
    with pytest.raises(InputError, match="pgd " + message):
        pgd(net, scaled, y, eps=0.1, step_size=0.025, steps=2)
    with pytest.raises(InputError, match="pgd " + message):
        PGDConfig(eps=0.1, steps=2).fooled(net, scaled, y)
    for jit_compile in (False, True):  # XLA drops the step's assertion
        model = AdversarialModel(net, attack={"eps": 0.1, "steps": 1})
        model.compile(optimizer="adam", jit_compile=jit_compile)
        with pytest.raises(InputError, match="fit " + message):
            model.fit(scaled, y, epochs=1, verbose=0)
        with pytest.raises(InputError, match="fit " + message):
            model.fit(data, epochs=1, verbose=0)
    # The same images in [0, 1] evaluate.
    good = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    assert evaluate(net, good, eps=0.1)["clean"]["total"] == 32


def test_a_later_batch_outside_0_1_stops_the_train_step(fashion_slice):
    x, y = fashion_slice(32)
    x[16:] *= 255.0  # the first batch, which fit reads first, is fine
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    model = AdversarialModel(logits_network(), attack={"eps": 0.1,
                                                       "steps": 1})
    model.compile(optimizer="adam")
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"pixels in \[0, 1\]"):
        model.fit(data, epochs=1, verbose=0)


@pytest.mark.parametrize("index", range(4))
def test_softmax_heads_are_refused_from_their_outputs(index, fashion_slice):
    net = list(softmax_heads())[index]
    x, y = fashion_slice(16, split="test")
    message = r"outputs probabilities \(every row non-negative and summing"
    model = AdversarialModel(net, attack={"eps": 0.1, "steps": 1})
    model.compile(optimizer="adam")
    with pytest.raises(InputError, match=message):
        model.fit(x, y, epochs=1, verbose=0)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    with pytest.raises(InputError, match=message):
        evaluate(net, data, eps=0.1)
