"""Margins, boundary distances and feature smoothness against closed forms."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from advmask_tf.analysis.margins import (
    boundary_distance,
    confidence,
    fraction_within,
    logit_margins,
)
from advmask_tf.analysis.smoothness import (
    feature_model,
    pgd_perturbation,
    smoothness_batch,
)
from advmask_tf.attacks import noise_keys_for


def linear_model(weights, bias):
    model = keras.Sequential([keras.Input((weights.shape[0],)),
                              keras.layers.Dense(weights.shape[1],
                                                 name="linear")])
    model.layers[0].kernel.assign(weights.astype(np.float32))
    model.layers[0].bias.assign(bias.astype(np.float32))
    return model


def test_margins_and_confidence_of_known_logits():
    logits = np.array([[3.0, 1.0, 2.5], [0.0, 2.0, -1.0]])
    labels = np.array([0, 0])
    np.testing.assert_allclose(logit_margins(logits, labels), [0.5, -2.0])
    expected = np.exp(3.0) / np.exp([3.0, 1.0, 2.5]).sum()
    assert confidence(logits)[0] == pytest.approx(expected)


def test_boundary_distance_of_a_binary_linear_model_is_the_closed_form():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(6, 2))
    bias = np.zeros(2)
    model = linear_model(weights, bias)
    max_eps = 0.1
    # Points at least max_eps inside [0, 1], so the box never binds.
    x = rng.uniform(0.11, 0.89, size=(64, 6)).astype(np.float32)
    logits = x @ weights + bias
    labels = logits.argmax(1)
    w_diff = weights[:, 0] - weights[:, 1]
    # Linf distance to the hyperplane f_0 = f_1: |margin| / ||w_0 - w_1||_1.
    closed_form = np.abs(logits[:, 0] - logits[:, 1]) / np.abs(w_diff).sum()
    found = boundary_distance(model, x, labels, max_eps, bisections=12)
    reachable = closed_form < max_eps
    assert reachable.sum() > 20 and (~reachable).sum() > 0
    np.testing.assert_allclose(found[reachable], closed_form[reachable],
                               atol=max_eps / 2 ** 12 + 1e-5)
    assert np.all(np.isinf(found[~reachable]))


def test_misclassified_points_are_at_distance_zero():
    weights = np.array([[1.0, -1.0]])
    model = linear_model(weights, np.zeros(2))
    x = np.full((2, 1), 0.5, np.float32)
    found = boundary_distance(model, x, np.array([1, 0]), 0.1, bisections=3)
    assert found[0] == 0.0 and found[1] > 0.0
    assert fraction_within(found, [0.0]) == [0.5]


def test_bad_bisection_settings_are_refused():
    model = linear_model(np.eye(2), np.zeros(2))
    with pytest.raises(ValueError, match="max_eps > 0.*received max_eps=0"):
        boundary_distance(model, np.zeros((1, 2), np.float32),
                          np.zeros(1, int), 0.0)


def test_smoothness_of_a_scaled_orthogonal_layer_is_its_scale():
    scale = 2.5
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(8, 8)))
    model = linear_model(scale * q, np.zeros(8))
    features = feature_model(model, ["linear"])
    x = tf.constant(np.random.default_rng(2).uniform(0.2, 0.8, (16, 8)),
                    tf.float32)
    labels = tf.zeros(16, tf.int32)
    ratios = smoothness_batch(lambda image: [features(image)],
                              pgd_perturbation(model, 0.1, 5), x, labels,
                              noise_keys_for(tf.range(16), 0), 0.1)
    np.testing.assert_allclose(ratios["random"], scale, rtol=1e-5)
    np.testing.assert_allclose(ratios["adversarial"], scale, rtol=1e-5)


def test_smoothness_of_a_general_linear_layer_matches_its_matrix():
    weights = np.random.default_rng(3).normal(size=(5, 3))
    model = linear_model(weights, np.zeros(3))
    features = feature_model(model, ["linear"])
    x = tf.fill((4, 5), 0.5)
    ratios = smoothness_batch(lambda image: [features(image)],
                              pgd_perturbation(model, 0.1, 3), x,
                              tf.zeros(4, tf.int32),
                              noise_keys_for(tf.range(4), 0), 0.1, seed=3)
    # Recompute the random corner the function used.
    signs = np.sign(tf.random.stateless_uniform((4, 5), (3, 1), -1.0, 1.0))
    delta = 0.1 * signs
    expected = (np.linalg.norm(delta @ weights, axis=1)
                / np.linalg.norm(delta, axis=1))
    np.testing.assert_allclose(ratios["random"][0], expected, rtol=1e-5)
    top = np.linalg.svd(weights, compute_uv=False)[0]
    assert np.all(ratios["adversarial"] <= top * (1 + 1e-6))
