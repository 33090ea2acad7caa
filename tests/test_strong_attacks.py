"""APGD, Square, the AutoAttack-style cascade and the gradient-masking
checks: against closed forms, a trained network and masked networks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from advmask_tf.attacks import (
    APGDConfig,
    AttackBudgets,
    AutoAttackConfig,
    PGDConfig,
    SquareConfig,
    build_attacks,
)
from advmask_tf.evaluation.checks import (
    CheckSettings,
    failed_checks,
    sanity_checks,
)
from advmask_tf.evaluation.reports import report_markdown
from advmask_tf.evaluation.robust import evaluate
from advmask_tf.evaluation.robustbench import robustbench_entry

EPS = 0.1


@pytest.fixture(scope="module")
def linear_problem():
    """A 5-class linear model on 4x4 images in [0.3, 0.7] (the box never
    binds at eps 0.1), and each point's exact Linf worst-case margin
    min_j (m_j - eps * ||w_y - w_j||_1)."""
    rng = np.random.RandomState(0)
    weights = rng.randn(16, 5).astype(np.float32)
    net = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                            keras.layers.Dense(5)])
    net.layers[-1].set_weights([weights, np.zeros(5, np.float32)])
    x = rng.uniform(0.3, 0.7, (300, 4, 4, 1)).astype(np.float32)
    logits = x.reshape(300, 16) @ weights
    y = logits.argmax(1)
    margins = logits[np.arange(300), y][:, None] - logits
    l1 = np.abs(weights.T[y][:, None, :] - weights.T[None]).sum(2)
    worst = margins - EPS * l1
    worst[np.arange(300), y] = np.inf
    return net, x, y, worst.min(1)


@pytest.mark.parametrize("attack", [
    PGDConfig(eps=EPS, steps=20),
    APGDConfig(eps=EPS, steps=50),
    APGDConfig(eps=EPS, steps=50, loss="dlr_targeted", targets=4),
    SquareConfig(eps=EPS, queries=1000),
], ids=["pgd", "apgd_ce", "apgd_t", "square"])
def test_attacks_never_fool_a_provably_robust_point(linear_problem, attack):
    net, x, y, worst = linear_problem
    fooled = tf.function(lambda a, b: attack.fooled(net, a, b))(x, y).numpy()
    assert not np.any(fooled & (worst > 0))
    # ... and each finds most of the points that can be fooled.
    assert fooled[worst < -0.1].mean() > 0.9


def test_apgd_t_reaches_the_analytic_worst_case(linear_problem):
    net, x, y, worst = linear_problem
    attack = APGDConfig(eps=EPS, steps=50, loss="dlr_targeted", targets=4)
    fooled = attack.fooled(net, x, y).numpy()
    np.testing.assert_array_equal(fooled, worst < 0)


@pytest.mark.slow  # APGD's closed-form tests above bound it
def test_apgd_is_at_least_as_strong_as_pgd20_on_a_trained_network(
        trained_standard, fashion_mnist):
    x = fashion_mnist.x_test[:400].astype(np.float32) / 255.0
    y = fashion_mnist.y_test[:400]
    eps = 0.01  # small enough that neither attack breaks everything
    pgd = PGDConfig(eps=eps, steps=20).fooled(trained_standard, x, y).numpy()
    apgd = APGDConfig(eps=eps, steps=20).fooled(trained_standard, x,
                                                y).numpy()
    assert 0.05 < pgd.mean() < 0.95
    assert apgd.mean() >= pgd.mean() - 0.005


@tf.custom_gradient
def _no_gradient(x):
    def grad(upstream):
        raise AssertionError("an attack asked for a gradient")
    return tf.identity(x), grad


class NoGradient(keras.layers.Layer):
    def call(self, x):
        return _no_gradient(x)


def test_square_needs_no_gradients(linear_problem):
    net, x, y, worst = linear_problem
    guarded = keras.Sequential([keras.Input((4, 4, 1)), NoGradient(), net])
    with pytest.raises(Exception, match="asked for a gradient"):
        PGDConfig(eps=EPS, steps=2).fooled(guarded, x[:4], y[:4])
    fooled = SquareConfig(eps=EPS, queries=300).fooled(guarded, x, y).numpy()
    assert fooled[worst < -0.1].mean() > 0.8


class Spy:
    """A stage that records which labels it saw and fools listed ones."""

    def __init__(self, fools):
        self.fools, self.seen = set(fools), []

    def fooled(self, model, x, y, eps=None, noise_keys=None):
        labels = tf.cast(y, tf.int32)

        def record(values):  # runs eagerly, also inside tf.function
            self.seen.extend(values.numpy().tolist())
            return 0

        with tf.control_dependencies(
                [tf.py_function(record, [labels], tf.int32)]):
            labels = tf.identity(labels)
        return tf.reduce_any(tf.equal(labels[:, None],
                                      tf.constant(sorted(self.fools))[None]),
                             axis=1)


class SpyEnsemble:
    def __init__(self, **stages):
        self._stages = stages

    def stages(self):
        return self._stages


def test_the_cascade_only_attacks_points_still_robust():
    # A network that classifies every point right: label = argmax of x
    # (logits 2x, so its rows are no probabilities).
    x = np.eye(8, dtype=np.float32)[:, None, :, None]  # (8, 1, 8, 1)
    labels = np.arange(8)
    net = keras.Sequential([keras.Input((1, 8, 1)), keras.layers.Flatten(),
                            keras.layers.Rescaling(2.0)])
    first, second, third = Spy({0, 1}), Spy({2}), Spy({3, 7})
    data = tf.data.Dataset.from_tensor_slices((x, labels)).batch(8)
    points = {}
    report = evaluate(net, data, {"aa": SpyEnsemble(
        one=first, two=second, three=third)}, points=points)
    seen = [sorted(spy.seen) for spy in (first, second, third)]
    assert seen == [list(range(8)), [2, 3, 4, 5, 6, 7], [3, 4, 5, 6, 7]]
    stages = report["aa"]["stages"]
    assert [stages[s]["broken"] for s in ("one", "two", "three")] == [2, 1, 2]
    assert report["aa"]["correct"] == report["worst_case"]["correct"] == 3
    np.testing.assert_array_equal(points["aa/two"],
                                  [0, 0, 0, 1, 1, 1, 1, 1])


@pytest.mark.slow  # the cascade's stages: the per-point test below
def test_autoattack_is_no_weaker_than_pgd20(trained_standard, fashion_mnist,
                                           capsys):
    x = fashion_mnist.x_test[:120].astype(np.float32) / 255.0
    data = tf.data.Dataset.from_tensor_slices(
        ({"image": x, "index": np.arange(120)},
         fashion_mnist.y_test[:120])).batch(60)
    attacks = build_attacks("pgd,autoattack", 0.01, AttackBudgets(
        apgd_steps=20, apgd_targets=3, fab_steps=10, square_queries=100))
    points = {}
    report = evaluate(trained_standard, data, attacks, points=points,
                      verbose=1)
    # The progress shows every attack and stage, robust so far.
    shown = capsys.readouterr().out
    for name in ("pgd20", "autoattack/apgd_ce", "autoattack/apgd_t",
                 "autoattack/fab_t", "autoattack/square", "worst"):
        assert f"{name}: " in shown, (name, shown)
    assert report["autoattack"]["correct"] <= report["pgd20"]["correct"] + 1
    assert report["autoattack"]["correct"] < report["clean"]["correct"]
    assert not np.any(points["autoattack"] & ~points["clean"])


SMALL_BUDGETS = AttackBudgets(apgd_steps=10, apgd_targets=2, fab_steps=10,
                              square_queries=60)


def _robust_by_index(network, x, y, order, batch, names):
    """Per-point robust masks (in the original order) of an evaluation of
    the points taken in `order`, `batch` at a time."""
    data = tf.data.Dataset.from_tensor_slices(
        ({"image": x[order], "index": order}, y[order])).batch(batch)
    points = {}
    evaluate(network, data, build_attacks(names, 0.01, SMALL_BUDGETS),
             points=points)
    restored = {}
    for name, mask in points.items():
        restored[name] = np.empty_like(mask)
        restored[name][order] = mask
    return restored


def test_autoattack_is_per_point_and_no_stronger_than_its_cascade(
        trained_standard, fashion_mnist):
    x = fashion_mnist.x_test[:40].astype(np.float32) / 255.0
    y = fashion_mnist.y_test[:40]
    stages = ("apgd_ce", "apgd_t", "fab_t", "square")
    first = _robust_by_index(trained_standard, x, y, np.arange(40), 40,
                             ",".join(("autoattack",) + stages))
    # The cascade never leaves a point robust that a stage alone breaks.
    for stage in stages:
        assert not np.any(first["autoattack"] & ~first[stage]), stage
    assert first["square"].sum() > first["autoattack"].sum()
    # Another batch size and order: the same verdict for every point.
    shuffled = np.random.RandomState(0).permutation(40)
    second = _robust_by_index(trained_standard, x, y, shuffled, 13,
                              "autoattack,square")
    for name in second:
        np.testing.assert_array_equal(first[name], second[name], name)


def _check_subset(fashion_mnist, count=200):
    x = fashion_mnist.x_test[:count].astype(np.float32) / 255.0
    return tf.data.Dataset.from_tensor_slices(
        ({"image": x, "index": np.arange(count)},
         fashion_mnist.y_test[:count])).batch(100)


def _run_checks(network, data, eps, count, verbose=0):
    attacks = build_attacks("pgd,cw_inf", eps)
    points = {}
    evaluate(network, data, attacks, points=points)
    return sanity_checks(network, data, eps, attacks, points, CheckSettings(
        points=count, square_queries=300, step_factor=3, restarts=1),
        verbose=verbose)


class RandomisedInput(keras.layers.Layer):
    """Gaussian input noise at inference: a randomised 'defence'."""

    def call(self, x):
        return x + tf.random.normal(tf.shape(x), stddev=0.3)


def test_checks_pass_on_an_honest_network_and_fail_on_masked_ones(
        trained_standard, fashion_mnist, capsys):
    # 100 points each (noise of 0.3 makes the randomised network's attacks
    # disagree measurably there).
    data = _check_subset(fashion_mnist, 100)
    honest = _run_checks(trained_standard, data, 0.01, 100, verbose=1)
    assert failed_checks(honest) == [], honest
    shown = capsys.readouterr().out  # each verdict as it finished
    for name in ("deterministic", "large_eps", "more_steps", "black_box",
                 "logit_scale"):
        assert f"check {name}: passed (" in shown, (name, shown)

    # Logits times 1e4: the CE gradient underflows to exactly 0.
    saturated = keras.Sequential([keras.Input((28, 28, 1)), trained_standard,
                                  keras.layers.Rescaling(1e4)])
    checks = _run_checks(saturated, data, 0.01, 100)
    assert {"large_eps", "black_box", "logit_scale"} <= set(
        failed_checks(checks)), checks
    assert "pgd20" in checks["black_box"]["detail"]

    randomised = keras.Sequential([keras.Input((28, 28, 1)),
                                   RandomisedInput(), trained_standard])
    checks = _run_checks(randomised, data, 0.01, 100)
    assert {"deterministic", "more_steps"} <= set(failed_checks(checks)), \
        checks


@pytest.mark.parametrize("kwargs, message", [
    (dict(points=0), "checks.points"),
    (dict(large_eps=2.0), "large_eps"),
    (dict(tolerance=-0.1), "tolerance"),
])
def test_bad_check_settings_fail_clearly(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CheckSettings(**kwargs)


@pytest.mark.parametrize("make, message", [
    (lambda: build_attacks("pgd,fab", 0.1), "Unknown eval.attacks 'fab'"),
    (lambda: build_attacks("", 0.1), "eval.attacks is empty"),
    (lambda: APGDConfig(eps=0.1, loss="kl"), "Unknown APGD loss 'kl'"),
    (lambda: APGDConfig(eps=0.1, targets=0), "targets"),
    (lambda: SquareConfig(eps=0.1, queries=0), "queries"),
    (lambda: SquareConfig(eps=0.1, p_init=1.5), "p_init"),
    (lambda: AutoAttackConfig(eps=-0.1), "eps"),
])
def test_bad_attack_settings_fail_clearly(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_dlr_needs_enough_classes():
    net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="at least 3 classes"):
        APGDConfig(eps=0.1, steps=2, loss="dlr").fooled(
            net, tf.zeros((1, 2)), tf.zeros(1, tf.int32))


def test_only_the_official_budgets_are_labelled_standard_autoattack():
    official = build_attacks("autoattack", 0.1)["autoattack"].settings()
    assert official["version"] == "standard"
    assert "budgets_changed" not in official
    reduced = build_attacks("autoattack,autoattack_fast", 0.1, AttackBudgets(
        apgd_steps=5, apgd_targets=3, square_queries=50))
    report = {"eps": 0.1, "clean": {"accuracy": 0.9, "correct": 9,
                                    "total": 10},
              "worst_case": {"accuracy": 0.5, "correct": 5, "total": 10},
              "autoattack": {"accuracy": 0.5, "correct": 5, "total": 10},
              "attacks": {name: attack.settings()
                          for name, attack in reduced.items()}}
    settings = report["attacks"]["autoattack"]
    assert settings["version"] == "custom"
    assert settings["follows_version"] == "standard"
    assert settings["budgets_changed"] == {
        "apgd_steps": {"used": 5, "official": 100},
        "targets": {"used": 3, "official": 9},
        "square_queries": {"used": 50, "official": 5000}}
    # The fast version has no FAB-T: its budget is not its concern.
    assert "fab_steps" not in report["attacks"]["autoattack_fast"][
        "budgets_changed"]
    markdown = report_markdown("reduced", report)
    assert ("autoattack is a custom AutoAttack (the standard version's "
            "stages with apgd_steps 5 instead of 100, targets 3 instead of "
            "9, square_queries 50 instead of 5000): not the standard "
            "AutoAttack.") in markdown
    entry = robustbench_entry(report, "m.keras", "fashion_mnist")
    assert entry["attacks"]["autoattack"]["version"] == "custom"
