import keras
import numpy as np
import pytest
import tensorflow as tf

from advmask_tf.attacks import (
    PGDConfig,
    cross_entropy,
    cw_margin,
    fgsm,
    kl_divergence,
    noise_keys_for,
    pgd,
)
from advmask_tf.models import build_model


def linear_model(num_inputs=12, num_classes=3, seed=0):
    rng = np.random.RandomState(seed)
    net = keras.Sequential([keras.Input((num_inputs,)),
                            keras.layers.Dense(num_classes)])
    w = rng.randn(num_inputs, num_classes).astype(np.float32)
    b = rng.randn(num_classes).astype(np.float32)
    net.layers[0].set_weights([w, b])
    return net, w, b


def test_eps_ball_and_box_hold_for_every_sample_and_per_sample_eps():
    net = build_model("small_cnn", (28, 28, 1), 10, width=4, dense_units=8)
    rng = np.random.RandomState(0)
    x = rng.rand(16, 28, 28, 1).astype(np.float32)
    x[:4] = 0.0  # at the box edges the [0, 1] clip is active
    x[4:8] = 1.0
    y = rng.randint(0, 10, 16)
    eps = np.linspace(0.0, 0.3, 16).astype(np.float32)
    keys = noise_keys_for(tf.range(16), 5)
    for norm in ("linf", "l2"):
        for start, noise_keys in (("uniform", None), ("uniform", keys),
                                  ("normal", keys), ("none", None)):
            result = pgd(net, x, y, eps, eps / 3, 5, norm=norm,
                         random_start=start, noise_keys=noise_keys)
            delta = (result.x_adv.numpy() - x).reshape(16, -1)
            size = (np.abs(delta).max(1) if norm == "linf"
                    else np.linalg.norm(delta, axis=1))
            assert np.all(size <= eps + 1e-6), (norm, start, size - eps)
            assert result.x_adv.numpy().min() >= 0.0
            assert result.x_adv.numpy().max() <= 1.0
    assert np.all(delta[0] == 0.0)  # eps = 0 leaves the sample untouched


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_reaches_the_analytic_worst_case_of_a_linear_model(norm):
    net, w, b = linear_model()
    x = np.full((6, 12), 0.5, np.float32)  # far enough from the box edges
    y = np.array([0, 1, 2, 0, 1, 2])
    eps = 0.05
    result = pgd(net, x, y, eps, eps / 4, 40, norm=norm, loss="cw",
                 random_start="none")
    logits = net(result.x_adv).numpy()
    # Worst case of the margin z_j - z_y over the ball, for the best j.
    clean = x @ w + b
    dual = (lambda v: np.abs(v).sum()) if norm == "linf" else np.linalg.norm
    expected = [max(clean[i, j] - clean[i, y[i]] + eps * dual(w[:, j] - w[:, y[i]])
                    for j in range(3) if j != y[i]) for i in range(6)]
    achieved = cw_margin(logits, y).numpy()
    np.testing.assert_allclose(achieved, expected, atol=1e-4)


def test_trained_model_loss_order(trained_standard, fashion_mnist):
    x = fashion_mnist.x_test[:500].astype(np.float32) / 255.0
    y = fashion_mnist.y_test[:500]
    clean = cross_entropy(trained_standard(x), y).numpy().mean()
    fast = cross_entropy(trained_standard(
        fgsm(trained_standard, x, y, 0.1).x_adv), y).numpy().mean()
    strong = cross_entropy(trained_standard(
        pgd(trained_standard, x, y, 0.1, 0.025, 10).x_adv), y).numpy().mean()
    assert strong >= fast >= clean
    assert strong > clean + 1.0  # an undefended model is easy to attack


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_keyed_random_start_does_not_depend_on_the_batch_split(norm):
    net = build_model("small_cnn", (28, 28, 1), 10, width=4, dense_units=8)
    x = np.random.RandomState(2).rand(8, 28, 28, 1).astype(np.float32)
    y = np.arange(8)
    keys = noise_keys_for(tf.range(8), 11)
    whole = pgd(net, x, y, 0.1, 0.02, 2, norm=norm, noise_keys=keys).x_adv
    halves = [pgd(net, x[i:i + 4], y[i:i + 4], 0.1, 0.02, 2, norm=norm,
                  noise_keys=keys[i:i + 4]).x_adv for i in (0, 4)]
    np.testing.assert_allclose(whole, np.concatenate(halves), atol=1e-6)
    other_salt = pgd(net, x, y, 0.1, 0.02, 2, norm=norm,
                     noise_keys=noise_keys_for(tf.range(8), 12)).x_adv
    assert not np.allclose(whole, other_salt)


def test_kappa_and_success_on_constant_models():
    x = np.random.rand(5, 4).astype(np.float32)
    always_zero = keras.Sequential([
        keras.Input((4,)), keras.layers.Dense(
            3, kernel_initializer="zeros",
            bias_initializer=keras.initializers.Constant([5.0, 0.0, 0.0]))])
    right = pgd(always_zero, x, np.zeros(5), 0.1, 0.03, 7)
    wrong = pgd(always_zero, x, np.ones(5), 0.1, 0.03, 7)
    np.testing.assert_array_equal(right.kappa, [7] * 5)
    np.testing.assert_array_equal(right.success, [False] * 5)
    np.testing.assert_array_equal(wrong.kappa, [0] * 5)
    np.testing.assert_array_equal(wrong.success, [True] * 5)


def test_kappa_counts_iterates_before_the_label_flips():
    # Logit of class 1 minus class 0 is 10 * (mean(x) - 0.5); from x = 0.45
    # each step of 0.02 raises the mean by 0.02: iterates 0, 1, 2 are class 0
    # (0.45, 0.47, 0.49), iterate 3 (0.51) and later are class 1.
    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    net.layers[0].set_weights([np.stack([np.zeros(4), np.full(4, 2.5)], 1),
                               np.array([0.0, -5.0])])
    x = np.full((1, 4), 0.45, np.float32)
    result = pgd(net, x, [0], 0.2, 0.02, 6, random_start="none")
    assert int(result.kappa[0]) == 3 and bool(result.success[0])


def test_attack_runs_inside_tf_function_and_under_a_strategy(two_replicas):
    net, _, _ = linear_model()
    x = tf.constant(np.random.default_rng(0).random((8, 12), np.float32))
    y = tf.zeros(8, tf.int32)
    eager = pgd(net, x, y, 0.1, 0.1 / 3, 4, random_start="none").x_adv
    graph = tf.function(lambda x, y, e: pgd(
        net, x, y, e, e / 3, 4, random_start="none").x_adv)
    np.testing.assert_allclose(graph(x, y, tf.fill([8], 0.1)), eager,
                               atol=1e-6)
    strategy = two_replicas
    dataset = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices((x, y)).batch(8))
    per_replica = strategy.run(tf.function(lambda b: pgd(
        net, b[0], b[1], 0.1, 0.03, 4, random_start="none").x_adv),
        args=(next(iter(dataset)),))
    gathered = tf.concat(strategy.experimental_local_results(per_replica), 0)
    np.testing.assert_allclose(gathered, eager, atol=1e-6)


def test_batch_statistics_mode_leaves_moving_statistics_alone():
    net = build_model("small_cnn", (28, 28, 1), 10, width=4, dense_units=8)
    bn = [layer for layer in net.layers
          if isinstance(layer, keras.layers.BatchNormalization)][0]
    before = [v.numpy().copy() for v in (bn.moving_mean, bn.moving_variance)]
    x = np.random.rand(16, 28, 28, 1).astype(np.float32)
    y = np.zeros(16)
    batch = pgd(net, x, y, 0.1, 0.025, 3, random_start="none",
                bn_mode="batch")
    inference = pgd(net, x, y, 0.1, 0.025, 3, random_start="none")
    for old, new in zip(before, (bn.moving_mean, bn.moving_variance)):
        np.testing.assert_array_equal(old, new.numpy())
    assert not np.allclose(batch.x_adv, inference.x_adv)


def test_kl_loss_attack_uses_clean_reference():
    net, _, _ = linear_model()
    x = np.random.rand(4, 12).astype(np.float32)
    result = pgd(net, x, np.zeros(4), 0.1, 0.03, 5, loss="kl",
                 random_start="normal")
    divergence = kl_divergence(net(result.x_adv), net(x)).numpy()
    assert np.all(divergence > 0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(eps=-0.1), "eps must be finite and >= 0"),
    (dict(eps=float("nan")), "eps must be finite"),
    (dict(eps=[0.1, -1.0]), "eps must be finite"),
    (dict(steps=0), "steps must be an integer >= 1; received 0"),
    (dict(steps=2.5), "received 2.5"),
    (dict(norm="l1"), "'l1'"),
    (dict(loss="hinge"), "'hinge'"),
    (dict(random_start="gaussian"), "'gaussian'"),
    (dict(bn_mode="train"), "'train'"),
])
def test_invalid_attack_settings_raise(kwargs, message):
    net, _, _ = linear_model()
    args = dict(eps=0.1, step_size=0.01, steps=3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        pgd(net, np.zeros((2, 12), np.float32), [0, 1], **args)
    config_args = {k: v for k, v in args.items() if k != "step_size"}
    with pytest.raises(ValueError, match=message):
        PGDConfig(**config_args)


def test_single_step_attacks_of_fast_training_stay_where_their_papers_say():
    """FGSM-RS (uniform start in the eps-ball, step 1.25 eps, projected)
    stays in the ball; N-FGSM (noise from the 2 eps ball, step eps, no
    projection) leaves it, up to 3 eps, always inside [0, 1]."""
    from conftest import configured

    from advmask_tf.runs.assembly import attack_settings
    from advmask_tf.training.objectives import make_objective, training_attack

    net = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(),
                            keras.layers.Dense(4)])
    x = tf.random.uniform((256, 6, 6, 1), seed=1)
    y = tf.zeros(256, tf.int32)
    distances = {}
    for name in ("fgsm_rs", "nfgsm"):
        config = configured(f"fashion_mnist_{name}.py")
        attack = training_attack(attack_settings(config),
                                 make_objective("madry"))
        assert attack.steps == 1
        x_adv = attack.run(net, x, y, seed=3).x_adv
        assert float(tf.reduce_min(x_adv)) >= 0.0
        assert float(tf.reduce_max(x_adv)) <= 1.0
        distances[name] = tf.reduce_max(tf.abs(x_adv - x), axis=[1, 2, 3])
    eps = 0.1
    assert float(tf.reduce_max(distances["fgsm_rs"])) <= eps + 1e-6
    assert float(tf.reduce_max(distances["nfgsm"])) <= 3 * eps + 1e-6
    # Most N-FGSM points end outside the eps-ball (noise 2 eps, step eps).
    assert float(tf.reduce_mean(tf.cast(distances["nfgsm"] > eps + 1e-6,
                                        tf.float32))) > 0.9
