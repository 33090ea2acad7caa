"""The randomness attacks rely on: keyed draws that are uniform and
independent, and EOT gradients that average a randomised network's draws."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from advmask_tf.attacks.apgd import expected_loss_and_gradient
from advmask_tf.attacks.keyed_random import keyed_uniform

# The 0.999 quantile of chi-square with 63 degrees of freedom (64 bins).
CHI2_63_999 = 103.4


def _chi_square(values, bins=64):
    counts, _ = np.histogram(values, bins=bins, range=(0.0, 1.0))
    expected = values.size / bins
    return float(np.sum((counts - expected) ** 2 / expected))


def _draws(first_key, salt, stream, keys=4096, size=64):
    index = tf.range(first_key, first_key + keys, dtype=tf.int64)
    pairs = tf.stack([index, tf.fill([keys], tf.constant(salt, tf.int64))], 1)
    return keyed_uniform(pairs, stream, size).numpy()


def test_keyed_draws_are_uniform_in_the_unit_interval():
    values = _draws(0, 7, 0)
    assert values.min() >= 0.0 and values.max() < 1.0
    assert abs(values.mean() - 0.5) < 0.005
    assert abs(values.var() - 1 / 12) < 0.002
    assert _chi_square(values.ravel()) < CHI2_63_999
    # Every slot and every key's row are uniform on their own, too.
    assert _chi_square(values[:, 5]) < CHI2_63_999
    assert _chi_square(values[:, 63]) < CHI2_63_999


@pytest.mark.parametrize("other", [
    dict(first_key=1, salt=7, stream=0),     # neighbouring keys
    dict(first_key=0, salt=8, stream=0),     # another salt
    dict(first_key=0, salt=7, stream=1),     # the next query
    dict(first_key=2 ** 32, salt=7, stream=0),  # keys differing in high bits
])
def test_keyed_draws_are_uncorrelated_across_keys_salts_and_streams(other):
    # Row i of each: key first_key + i (with first_key 1, each key against
    # its successor).
    base = _draws(0, 7, 0)
    shifted = _draws(**other)
    assert not np.array_equal(base, shifted)
    correlation = np.corrcoef(base.ravel(), shifted.ravel())[0, 1]
    # 262,144 pairs: an independent pair's correlation is about +-0.002.
    assert abs(correlation) < 0.01
    # Joint uniformity: the pairs fill an 8 x 8 grid evenly.
    joint = (np.floor(base * 8) * 8 + np.floor(shifted * 8)).ravel()
    assert _chi_square(joint / 64.0) < CHI2_63_999


def test_neighbouring_slots_are_uncorrelated():
    values = _draws(0, 7, 3)
    correlation = np.corrcoef(values[:, :-1].ravel(), values[:, 1:].ravel())
    assert abs(correlation[0, 1]) < 0.01


class AlwaysOnDropout(keras.layers.Layer):
    """Drops half the inputs on every call, at inference too: a randomised
    network of the kind the rand version of AutoAttack is for."""

    def call(self, inputs):
        keep = tf.cast(tf.random.uniform(tf.shape(inputs)) < 0.5,
                       inputs.dtype)
        return inputs * keep * 2.0


def _randomised_network():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((12,)), AlwaysOnDropout(),
                             keras.layers.Dense(16, activation="tanh"),
                             keras.layers.Dense(4)])


def test_eot_gradients_average_the_draws_of_a_randomised_network():
    net = _randomised_network()
    point = tf.random.stateless_uniform((8, 12), seed=[1, 2])
    y = tf.constant([0, 1, 2, 3] * 2)

    def gradients(draws, repeats=60):
        return np.stack([
            expected_loss_and_gradient(net, point, y, "ce", draws=draws)[1]
            for _ in range(repeats)])

    single, averaged = gradients(1), gradients(16)
    # The mean of 16 draws: the same expectation, a sixteenth the variance
    # (asserted with room for the sampling error of 60 repeats).
    spread_single = single.var(axis=0).mean()
    spread_averaged = averaged.var(axis=0).mean()
    assert spread_single > 0
    assert spread_averaged < spread_single / 8
    # Unbiased: the two means differ by sampling error only (about
    # 0.8 sqrt(var / 60) per coordinate); a sum instead of a mean would not.
    difference = np.abs(averaged.mean(axis=0) - single.mean(axis=0)).mean()
    assert difference < 2 * np.sqrt(spread_single / 60)


def test_eot_on_a_deterministic_network_is_the_plain_gradient():
    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((12,)),
                            keras.layers.Dense(16, activation="tanh"),
                            keras.layers.Dense(4)])
    point = tf.random.stateless_uniform((8, 12), seed=[3, 4])
    y = tf.constant([0, 1, 2, 3] * 2)
    one = expected_loss_and_gradient(net, point, y, "dlr", draws=1)
    many = expected_loss_and_gradient(net, point, y, "dlr", draws=7)
    np.testing.assert_allclose(many[0], one[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(many[1], one[1], rtol=1e-4, atol=1e-6)
    assert np.array_equal(many[2], one[2])
