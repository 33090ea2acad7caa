"""RobMask training: sampled strengths, the mixed objective, conditioning."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from advmask_tf.attacks.pgd import PGDConfig, noise_keys_for
from advmask_tf.layers import masking_layers
from advmask_tf.models import at_strength, build_model
from advmask_tf.training import AdversarialModel, StepFacts
from advmask_tf.training.objectives import Mixed
from advmask_tf.training.radius import SampledRadius

STRENGTHS = (0.0, 0.025, 0.05, 0.075, 0.1)


def test_sampled_strengths_come_from_the_set_and_follow_the_example():
    policy = SampledRadius(strengths=STRENGTHS)
    keys = noise_keys_for(tf.range(400, dtype=tf.int64), 7)
    draws = policy.draw(400, keys).numpy()
    assert set(np.round(draws.astype(float), 6)) == set(STRENGTHS)
    counts = np.unique(draws, return_counts=True)[1]
    assert counts.min() > 50  # roughly uniform: 80 expected each
    # Sample i's draw depends on its key only, not on the rest of the batch.
    np.testing.assert_array_equal(policy.draw(10, keys[200:210]).numpy(),
                                  draws[200:210])
    # A new step (salt) draws anew.
    assert np.any(policy.draw(400, noise_keys_for(
        tf.range(400, dtype=tf.int64), 8)).numpy() != draws)


def test_sampled_range_stays_inside_it():
    draws = SampledRadius(low=0.02, high=0.06).draw(500).numpy()
    assert draws.min() >= 0.02 and draws.max() < 0.06
    assert draws.max() - draws.min() > 0.03


@pytest.mark.parametrize("kwargs, message", [
    ({}, "needs `strengths`"),
    ({"low": 0.1, "high": 0.05}, "high > low"),
    ({"strengths": (0.0, -0.1)}, r"radius.strengths must be a tuple of "
     r"numbers in \[0, 1\]"),
])
def test_bad_sampled_radius_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SampledRadius(**kwargs)


def test_mixed_objective_tells_clean_zero_and_x_adv_its_radius():
    x = tf.zeros((3, 2, 2, 1))
    x_adv = tf.ones((3, 2, 2, 1))
    eps = tf.constant([0.0, 0.05, 0.1])
    facts = StepFacts(image=x, label=tf.zeros(3, tf.int32))
    (clean, clean_eps), (adv, adv_eps) = Mixed().passes(facts, x_adv, eps)
    assert clean is x and adv is x_adv
    np.testing.assert_array_equal(clean_eps.numpy(), [0, 0, 0])
    np.testing.assert_allclose(adv_eps.numpy(), eps.numpy())
    logits = [tf.constant([[2.0, 0.0]] * 3), tf.constant([[0.0, 2.0]] * 3)]
    y = tf.zeros(3, tf.int32)
    per_sample, _, _ = Mixed(clean_weight=0.5, adv_weight=2.0).loss(
        logits, StepFacts(image=x, label=y))
    expected = 0.5 * np.log1p(np.exp(-2.0)) + 2.0 * np.log1p(np.exp(2.0))
    np.testing.assert_allclose(per_sample.numpy(), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="both are 0"):
        Mixed(clean_weight=0.0, adv_weight=0.0)


@keras.saving.register_keras_serializable(package="advmask_tf_tests")
class RecordStrength(keras.layers.Layer):
    """Passes features through; records every eps it is called with
    (eagerly)."""

    seen = []

    def call(self, features, eps):
        if tf.executing_eagerly():
            RecordStrength.seen.append(np.asarray(eps))
        return features


def test_training_tells_the_network_each_pass_strength_also_under_attack():
    image = keras.Input((4, 4, 1), name="image")
    eps = keras.Input((), name="eps")
    x = RecordStrength()(keras.layers.Flatten()(image), eps)
    net = keras.Model({"image": image, "eps": eps}, keras.layers.Dense(3)(x))
    model = AdversarialModel(
        net, objective="mixed", attack={"eps": 0.1, "steps": 2,
                                     "step_size": 0.05},
        radius={"name": "sampled", "strengths": (0.05, 0.1)},
        track_clean_accuracy=False)
    model.compile(optimizer="sgd", run_eagerly=True)
    RecordStrength.seen.clear()
    indices = np.arange(8)
    model.fit({"image": np.random.rand(8, 4, 4, 1).astype("float32"),
               "index": indices}, np.zeros(8, "int32"), batch_size=8,
              epochs=1, verbose=0)
    # fit's check of its first data calls the network once, told 0 (a
    # network that outputs probabilities is refused before training).
    probe, *seen = RecordStrength.seen
    np.testing.assert_array_equal(probe, np.zeros(8))
    # 2 attack steps + the clean pass + the adversarial pass.
    assert len(seen) == 4
    drawn = seen[0]
    assert set(np.round(drawn.astype(float), 6)) <= {0.05, 0.1}
    np.testing.assert_allclose(seen[1], drawn)        # attacked at its eps
    np.testing.assert_array_equal(seen[2], np.zeros(8))  # clean pass
    np.testing.assert_allclose(seen[3], drawn)        # adversarial pass


def _robmask_data(fashion_mnist, count, start=0):
    x = fashion_mnist.x_train[start:start + count].astype(np.float32) / 255.0
    return x, fashion_mnist.y_train[start:start + count]


# Slow (2.5 min here): bench/robmask.py measures the told-eps curve of a
# full RobMask run; the default suite keeps the masking's mechanics
# (tests above) and the preset's replica test.
@pytest.mark.slow
def test_robmask_learns_distinct_clean_and_adversarial_maskings(
        fashion_mnist):
    """Real data: a short RobMask run learns, and its rescaling for eps 0
    and eps 0.1 differ in every masking layer, and told 0.1 the network is
    more robust than told 0: the strength it is told matters."""
    keras.utils.set_random_seed(0)
    x, y = _robmask_data(fashion_mnist, 3000)
    net = build_model("small_cnn", (28, 28, 1), 10, norm="masking",
                      norm_options={"strengths": STRENGTHS,
                                    "encoding_dim": 8},
                      mean=[0.286], std=[0.353], width=8, dense_units=32)
    model = AdversarialModel(
        net, objective="mixed",
        attack={"eps": 0.1, "steps": 5, "step_size": 0.03},
        radius={"name": "sampled", "strengths": STRENGTHS},
        num_examples=len(y))
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    model.fit({"image": x, "index": np.arange(len(y))}, y, batch_size=100,
              epochs=3, verbose=0)

    for layer in masking_layers(net):
        gamma0, beta0 = layer.rescaling(tf.constant([0.0]))
        gamma1, beta1 = layer.rescaling(tf.constant([0.1]))
        difference = float(tf.reduce_max(tf.abs(gamma0 - gamma1))
                           + tf.reduce_max(tf.abs(beta0 - beta1)))
        assert difference > 1e-2, layer.name

    test_x, test_y = _robmask_data(fashion_mnist, 500, start=50000)
    attack = PGDConfig(eps=0.1, steps=10, step_size=0.025)

    def accuracies(strength):
        view = at_strength(net, strength)
        clean = np.argmax(view(test_x).numpy(), -1) == test_y
        fooled = attack.fooled(view, test_x, test_y).numpy()
        return clean.mean(), (clean & ~fooled).mean()

    clean_at_0, robust_at_0 = accuracies(0.0)
    clean_at_eps, robust_at_eps = accuracies(0.1)
    assert clean_at_0 > 0.7  # chance is 0.1
    assert robust_at_eps > 0.3
    assert clean_at_eps > 0.6
    assert robust_at_eps > robust_at_0 + 0.05
