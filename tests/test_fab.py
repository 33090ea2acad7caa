"""FAB-T: its boundary projection against a bisection, its distances against
the closed form of a linear classifier and against PGD on a trained CNN."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from advmask_tf.attacks import (
    FABConfig,
    PGDConfig,
    boundary_step,
    fab_targeted,
)


def _bisection_step(point, w, b, norm):
    """The same projection by bisection on the step's size (numpy)."""
    need = b - w @ point
    direction = np.sign(w * need)
    room = np.where(direction > 0, 1.0 - point, point)
    rate = np.ones_like(w) if norm == "linf" else np.abs(w)

    def gain(r):
        return np.sum(np.abs(w) * np.minimum(r * rate, room))

    low, high = 0.0, 1e6
    if gain(high) < abs(need):
        return direction * room
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if gain(middle) < abs(need) else (
            low, middle)
    return direction * np.minimum(high * rate, room)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_boundary_step_is_the_smallest_step_onto_the_hyperplane(norm):
    rng = np.random.RandomState(0)
    points = rng.uniform(0, 1, (64, 30))
    w = rng.randn(64, 30) * (rng.uniform(size=(64, 30)) > 0.2)
    # Targets from near (box inactive) to far (box binds or unreachable).
    b = np.sum(w * points, 1) + rng.randn(64) * np.linspace(0.1, 8, 64)
    steps = boundary_step(tf.constant(points, tf.float32),
                          tf.constant(w, tf.float32),
                          tf.constant(b, tf.float32), norm).numpy()
    expected = np.stack([_bisection_step(points[i], w[i], b[i], norm)
                         for i in range(64)])
    np.testing.assert_allclose(steps, expected, atol=2e-4)
    moved = points + steps
    assert np.all((moved >= -1e-6) & (moved <= 1 + 1e-6))
    reached = np.abs(np.sum(w * moved, 1) - b) < 1e-3
    assert 10 < reached.sum() < 64  # both kinds of problem were posed


@pytest.fixture(scope="module")
def linear_classifier():
    """A 10-class linear model on 4x4 images near 0.5 (the box never binds)
    and each point's exact minimal adversarial distance per norm:
    min_j margin_j / ||w_y - w_j||_dual."""
    rng = np.random.RandomState(1)
    weights = rng.randn(16, 10).astype(np.float32)
    bias = rng.randn(10).astype(np.float32) * 0.1
    net = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                            keras.layers.Dense(10)])
    net.layers[-1].set_weights([weights, bias])
    x = rng.uniform(0.45, 0.55, (40, 4, 4, 1)).astype(np.float32)
    logits = x.reshape(40, 16) @ weights + bias
    y = logits.argmax(1)
    margins = logits[np.arange(40), y][:, None] - logits
    gaps = weights.T[y][:, None, :] - weights.T[None]
    exact = {}
    for norm, dual in (("linf", 1), ("l2", 2)):
        distance = margins / np.maximum(np.linalg.norm(gaps, dual, 2), 1e-12)
        distance[np.arange(40), y] = np.inf
        exact[norm] = distance.min(1)
    return net, x, y, logits, exact


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_fab_finds_the_closed_form_minimal_perturbation(linear_classifier,
                                                        norm):
    net, x, y, logits, exact = linear_classifier
    order = np.argsort(-logits, 1).astype(np.int32)
    run = tf.function(lambda x, y, targets: fab_targeted(
        net, x, y, targets, norm, steps=100))
    found = np.full(40, np.inf)
    for rank in range(1, 10):
        x_adv, distance = run(x, y, order[:, rank])
        found = np.minimum(found, distance.numpy())
        # Every point reported is misclassified, in the box, at that distance.
        hit = np.isfinite(distance.numpy())
        adv = x_adv.numpy()[hit]
        assert np.all((adv >= 0) & (adv <= 1))
        assert np.all(net(adv).numpy().argmax(1) != y[hit])
        delta = (adv - x[hit]).reshape(-1, 16)
        measured = (np.abs(delta).max(1) if norm == "linf"
                    else np.linalg.norm(delta, axis=1))
        np.testing.assert_allclose(measured, distance.numpy()[hit],
                                   rtol=1e-4, atol=1e-6)
    assert np.all(found >= exact[norm] * (1 - 1e-3))
    np.testing.assert_allclose(found, exact[norm], rtol=0.02)
    # FABConfig's verdict follows the distances at a radius between them.
    eps = float(np.median(exact[norm]))
    if norm == "linf":
        attack = FABConfig(eps=eps, steps=100)
        fooled = tf.function(lambda x, y: attack.fooled(net, x, y))(
            x, y).numpy()
        np.testing.assert_array_equal(fooled[np.abs(exact[norm] / eps - 1)
                                             > 0.03],
                                      (exact[norm] < eps)[
                                          np.abs(exact[norm] / eps - 1)
                                          > 0.03])


def test_fab_distances_agree_with_pgd_on_a_trained_cnn(trained_standard,
                                                       fashion_mnist):
    x = fashion_mnist.x_test[:32].astype(np.float32) / 255.0
    y = fashion_mnist.y_test[:32]
    correct = trained_standard(x).numpy().argmax(1) == y
    x, y = x[correct], y[correct]
    fab = FABConfig(eps=1.0, steps=50, targets=3)
    distances = tf.function(lambda x, y: fab.distances(
        trained_standard, x, y, eps=np.inf))(x, y).numpy()
    assert np.all(np.isfinite(distances))
    # The smallest grid radius at which PGD-20 succeeds, per point (every
    # point at every radius in one batch, with per-sample radii).
    grid = np.geomspace(0.002, 0.2, 12).astype(np.float32)
    fooled = PGDConfig(eps=0.1, steps=20).fooled(
        trained_standard, np.tile(x, (len(grid), 1, 1, 1)),
        np.tile(y, len(grid)), eps=np.repeat(grid, len(y))).numpy()
    fooled = fooled.reshape(len(grid), len(y))
    pgd_smallest = np.where(fooled.any(0), grid[fooled.argmax(0)], np.inf)
    assert np.all(np.isfinite(pgd_smallest))
    below = np.concatenate([[0.0], grid])[np.searchsorted(grid,
                                                          pgd_smallest)]
    # FAB never claims a perturbation much smaller than PGD's failures
    # allow, and it is a strong attack: close to PGD's smallest radius.
    assert np.all(distances >= below * 0.75), (distances, below)
    assert np.mean(distances <= pgd_smallest * 1.25) > 0.9


def test_fab_without_a_reachable_boundary_finds_nothing():
    # The bias keeps class 0 above class 1 everywhere in the box.
    net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(
        2, kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant([1.0, 0.0]))])
    x = tf.constant([[0.5, 0.5], [0.1, 0.9]])
    x_adv, distance = fab_targeted(net, x, tf.constant([0, 0]),
                                   tf.constant([1, 1]), steps=20)
    assert np.all(np.isinf(distance.numpy()))
    np.testing.assert_array_equal(x_adv.numpy(), x.numpy())


@pytest.mark.parametrize("kwargs, message", [
    (dict(norm="l1"), "norm"),
    (dict(steps=0), "steps"),
    (dict(targets=0), "targets"),
    (dict(eta=0.5), "eta"),
    (dict(beta=1.0), "beta"),
])
def test_bad_fab_settings_fail_clearly(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FABConfig(eps=0.1, **kwargs)
