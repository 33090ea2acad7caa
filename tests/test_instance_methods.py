"""IAAT radii and GAIRAT weights: rules, schedules, state, equivalences."""

import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO

from advmask_tf.attacks import AttackResult
from advmask_tf.configs_lib import preset
from advmask_tf.models import build_model
from advmask_tf.training import (
    AdaptiveRadius,
    AdversarialModel,
    GeometryAwareWeighting,
    Iaat,
    StepFacts,
    gairat_weights,
)

STEPS = 4


class ThresholdAttack:
    """A stand-in attack: sample i breaks exactly when eps > thresholds[i]."""

    steps = STEPS

    def __init__(self, thresholds):
        self.thresholds = tf.constant(thresholds, tf.float32)
        self.calls = []

    def run(self, network, image, label, eps=None, step_size=None,
            noise_keys=None, compute_success=True):
        eps = tf.broadcast_to(tf.cast(eps, tf.float32), self.thresholds.shape)
        self.calls.append((eps.numpy(), np.asarray(step_size)))
        broken = eps > self.thresholds
        return AttackResult(x_adv=image, success=broken,
                            kappa=tf.where(broken, 1, STEPS))


def _policy(thresholds, previous, **kwargs):
    holder = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    policy = AdaptiveRadius(**kwargs)
    policy.build(holder, len(previous))
    policy.table.assign(np.asarray(previous, np.float32))
    return policy, ThresholdAttack(thresholds)


def _craft(policy, attack, epoch, clean_correct=None):
    n = attack.thresholds.shape[0]
    clean_correct = tf.constant([True] * n if clean_correct is None
                                else clean_correct)
    return policy.craft(attack, lambda eps: None, StepFacts(
        image=tf.zeros((n, 2)), label=tf.zeros(n, tf.int32),
        index=tf.range(n), clean_correct=clean_correct,
        epoch=tf.constant(epoch)))


def test_paper_rule_moves_each_radius_by_gamma():
    policy, attack = _policy([0.05, 0.2, 0.2], [0.1, 0.1, 0.01],
                             warmup_eps=0.1, gamma=0.02, warmup_epochs=1)
    _craft(policy, attack, epoch=1)
    # broken at 0.1 -> down; held -> up; held at 0.01 -> up
    np.testing.assert_allclose(policy.table.numpy(), [0.08, 0.12, 0.03],
                               atol=1e-7)
    eps, step = attack.calls[0]
    np.testing.assert_allclose(eps, [0.1, 0.1, 0.01])
    # step = max(eps / 5, min_step)
    np.testing.assert_allclose(step.ravel(), [0.025, 0.025, 0.025])


def test_paper_rule_floors_at_zero_and_caps():
    policy, attack = _policy([0.0, 1.0], [0.01, 0.19], warmup_eps=0.1,
                             gamma=0.02, warmup_epochs=0, max_eps=0.2,
                             min_step=0.0)
    _craft(policy, attack, epoch=0)
    np.testing.assert_allclose(policy.table.numpy(), [0.0, 0.2], atol=1e-7)
    np.testing.assert_allclose(attack.calls[0][1].ravel(), [0.002, 0.038],
                               rtol=1e-6)


def test_authors_code_rule_matches_hand_computation():
    thresholds = [0.05, 0.11, 0.2, 0.2]
    policy, attack = _policy(thresholds, [0.1] * 4, warmup_eps=0.1,
                             rule="authors_code", gamma=0.02, smoothing=0.1,
                             warmup_epochs=0)
    _craft(policy, attack, epoch=0, clean_correct=[True, True, True, False])
    # candidates: broken at 0.1 -> 0.08; held at 0.1, broken at 0.12 ->
    # 0.1; held at 0.12 -> 0.12; misclassified clean -> 0.
    candidates = np.array([0.08, 0.1, 0.12, 0.0])
    np.testing.assert_allclose(policy.table.numpy(),
                               0.1 * candidates + 0.9 * 0.1, atol=1e-7)
    assert len(attack.calls) == 2
    np.testing.assert_allclose(attack.calls[1][0], [0.12] * 4, atol=1e-7)


@pytest.mark.parametrize("rule", ["paper", "authors_code"])
def test_warmup_attacks_at_the_warmup_eps_and_keeps_the_table(rule):
    policy, attack = _policy([0.0, 1.0], [0.03, 0.3], warmup_eps=0.1,
                             rule=rule, warmup_epochs=2)
    _craft(policy, attack, epoch=1)
    np.testing.assert_allclose(attack.calls[0][0], [0.1, 0.1])
    np.testing.assert_allclose(policy.table.numpy(), [0.03, 0.3])
    assert len(attack.calls) == 1  # no probe attack during warmup


def test_bad_radius_settings_name_the_value():
    with pytest.raises(ValueError, match="'sometimes'"):
        AdaptiveRadius(rule="sometimes")
    with pytest.raises(ValueError, match="gamma.*-0.1"):
        AdaptiveRadius(gamma=-0.1)
    with pytest.raises(ValueError, match="max_eps=0.05"):
        AdaptiveRadius(warmup_eps=0.1, max_eps=0.05)
    net = build_model("small_cnn", (28, 28, 1), 10, width=4, dense_units=8)
    with pytest.raises(ValueError, match="number of training examples"):
        AdversarialModel(net, radius={"name": "adaptive"})


def _at_epoch(epoch):
    """The facts a weighting reads: the epoch (no example index)."""
    return StepFacts(image=None, label=None, epoch=tf.constant(epoch))


def test_gairat_weight_forms_by_hand():
    kappa = tf.constant([0, 2, 4])
    lam = -1.0
    expected_tanh = [(1 + math.tanh(lam + 5 * (1 - 2 * k / 4))) / 2
                     for k in (0, 2, 4)]
    np.testing.assert_allclose(gairat_weights(kappa, 4, lam, "tanh"),
                               expected_tanh, rtol=1e-6)
    expected_sigmoid = [1 / (1 + math.exp(-(lam + 5 * (1 - 2 * k / 4))))
                        for k in (0, 2, 4)]
    np.testing.assert_allclose(gairat_weights(kappa, 4, lam, "sigmoid"),
                               expected_sigmoid, rtol=1e-6)
    np.testing.assert_allclose(gairat_weights(kappa, 4, lam, "discrete"),
                               [5 / 5, 3 / 5, 1 / 5], rtol=1e-6)
    np.testing.assert_array_equal(
        gairat_weights(kappa, 4, float("inf"), "tanh"), [1.0, 1.0, 1.0])


@pytest.mark.parametrize("form", ["tanh", "sigmoid", "discrete"])
def test_weights_sum_to_the_batch_size_and_favour_small_kappa(form):
    weighting = GeometryAwareWeighting(form=form, lam=0.0, burn_in_epochs=1)
    kappa = tf.constant([0, 1, 3, 10, 10, 7])
    weights = weighting.weights(kappa, 10, _at_epoch(1)).numpy()
    assert weights.sum() == pytest.approx(6.0, rel=1e-6)
    assert np.all(np.diff(weights[[0, 1, 2, 5, 3]]) <= 0)
    assert weights[0] > weights[3]
    burn_in = weighting.weights(kappa, 10, _at_epoch(0)).numpy()
    np.testing.assert_array_equal(burn_in, np.ones(6))


def test_lambda_schedules_hit_every_value_and_never_nan():
    linear = GeometryAwareWeighting(schedule="linear", lam_start=3.0,
                                    lam_end=-1.0, burn_in_epochs=2,
                                    total_epochs=7)
    values = [float(linear.lam_at(tf.constant(e))) for e in range(2, 7)]
    np.testing.assert_allclose(values, [3.0, 2.0, 1.0, 0.0, -1.0], atol=1e-6)
    piecewise = GeometryAwareWeighting(
        schedule="piecewise", lam_boundaries=(3, 5),
        lam_values=(float("inf"), 0.0, -1.5), burn_in_epochs=1)
    values = [float(piecewise.lam_at(tf.constant(e))) for e in range(1, 7)]
    assert values == [math.inf, math.inf, 0.0, 0.0, -1.5, -1.5]
    kappa = tf.constant([0, 5, 10])
    for weighting in (linear, piecewise, GeometryAwareWeighting(lam=-50.0)):
        for epoch in range(8):
            w = weighting.weights(kappa, 10, _at_epoch(epoch))
            assert np.all(np.isfinite(w.numpy())), (weighting.schedule, epoch)


def test_bad_lambda_schedules_are_refused():
    with pytest.raises(ValueError, match="lam_start must be a finite"):
        GeometryAwareWeighting(schedule="linear", lam_start=float("inf"),
                               total_epochs=10)
    with pytest.raises(ValueError, match="total_epochs"):
        GeometryAwareWeighting(schedule="linear", burn_in_epochs=3)
    with pytest.raises(ValueError, match=r"\(5, 4\)"):
        GeometryAwareWeighting(schedule="piecewise", lam_boundaries=(5, 4),
                               lam_values=(0.0, 1.0, 2.0))
    with pytest.raises(ValueError, match="one value more"):
        GeometryAwareWeighting(schedule="piecewise", lam_boundaries=(5,),
                               lam_values=(0.0,))
    with pytest.raises(ValueError, match="nan"):
        GeometryAwareWeighting(lam=float("nan"))


def test_iaat_objective_trains_on_x_adv_only_where_clean_is_right():
    x = tf.zeros((3, 2, 2, 1))
    x_adv = tf.ones((3, 2, 2, 1))
    facts = StepFacts(image=x, label=tf.zeros(3, tf.int32),
                      clean_correct=tf.constant([True, False, True]))
    [(chosen, _)] = Iaat().passes(facts, x_adv, eps=0.1)
    np.testing.assert_array_equal(chosen.numpy()[:, 0, 0, 0], [1, 0, 1])


def _indexed(x, y, batch=50):
    return tf.data.Dataset.from_tensor_slices(
        ({"image": x, "index": np.arange(len(y))}, y)).batch(batch)


def _real(fashion_mnist, n, dtype=np.float32):
    return (fashion_mnist.x_train[:n].astype(dtype) / 255.0,
            fashion_mnist.y_train[:n])


def _trained_weights(method, x, y, **kwargs):
    keras.utils.set_random_seed(3)
    net = build_model("small_cnn", (28, 28, 1), 10, width=4, dense_units=16)
    model = AdversarialModel(net, objective=method,
                             attack={"eps": 0.1, "steps": 3},
                             num_examples=len(y), **kwargs)
    model.compile(optimizer="adam")
    model.fit(_indexed(x, y), epochs=2, verbose=0, shuffle=False)
    return [w.numpy() for w in net.weights], model


def test_infinite_lambda_is_exactly_madry(fashion_mnist):
    x, y = _real(fashion_mnist, 200)
    madry, _ = _trained_weights("madry", x, y)
    gairat, model = _trained_weights(
        "madry", x, y, weighting={"name": "gairat", "lam": float("inf"),
                                  "burn_in_epochs": 0})
    np.testing.assert_array_equal(model.weighting.table.numpy(), 1.0)
    for a, b in zip(madry, gairat):
        np.testing.assert_array_equal(a, b)
    finite, _ = _trained_weights(
        "madry", x, y, weighting={"name": "gairat", "lam": -1.0,
                                  "burn_in_epochs": 0})
    assert any(not np.array_equal(a, b) for a, b in zip(madry, finite))


@pytest.mark.slow  # the paper's reading; the radius rule is tested above
def test_small_iaat_radii_mark_ambiguous_images(fashion_mnist):
    """The IAAT paper's reading of the radii, on real data: the images given
    the smallest radii are the ones the network is least sure of."""
    x, y = _real(fashion_mnist, 2000)
    keras.utils.set_random_seed(0)
    net = build_model("small_cnn", (28, 28, 1), 10, mean=[0.286], std=[0.353])
    model = AdversarialModel(
        net, objective="iaat", attack={"eps": 0.1, "steps": 5},
        radius={"name": "adaptive", "warmup_epochs": 1, "gamma": 0.03},
        num_examples=len(y))
    model.compile(optimizer="adam")
    model.fit(_indexed(x, y, 100), epochs=4, verbose=0, shuffle=False)
    radii = model.radius.table.numpy()
    assert radii.std() > 0.02, radii  # the radii spread apart
    logits = net.predict(x, verbose=0)
    true = logits[np.arange(len(y)), y]
    others = np.where(np.eye(10, dtype=bool)[y], -np.inf, logits).max(1)
    margin = true - others
    order = np.argsort(radii)
    smallest, largest = order[:200], order[-200:]
    assert margin[smallest].mean() + 1.0 < margin[largest].mean(), (
        margin[smallest].mean(), margin[largest].mean())


class _StopAfter(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt("simulated kill")


def _iaat_gairat_model(n):
    keras.utils.set_random_seed(0)
    net = build_model("small_cnn", (28, 28, 1), 10, width=4, dense_units=16)
    model = AdversarialModel(
        net, objective="iaat", attack={"eps": 0.1, "steps": 3},
        radius={"name": "adaptive", "warmup_epochs": 1},
        weighting={"name": "gairat", "burn_in_epochs": 1}, num_examples=n)
    model.compile(optimizer="adam")
    model(tf.zeros((1, 28, 28, 1)))  # BackupAndRestore needs a built model
    return model


def test_tables_survive_an_interrupted_run(fashion_mnist, tmp_path):
    x, y = _real(fashion_mnist, 300)
    data = _indexed(x, y)
    reference = _iaat_gairat_model(len(y))
    reference.fit(data, epochs=3, verbose=0, shuffle=False)

    backup = str(tmp_path / "backup")
    interrupted = _iaat_gairat_model(len(y))
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(data, epochs=3, verbose=0, shuffle=False, callbacks=[
            keras.callbacks.BackupAndRestore(backup), _StopAfter(1)])
    radii_at_kill = interrupted.radius.table.numpy()
    assert not np.allclose(radii_at_kill, 0.1)  # epoch 1 adapted them

    resumed = _iaat_gairat_model(len(y))
    resumed.fit(data, epochs=3, verbose=0, shuffle=False,
                callbacks=[keras.callbacks.BackupAndRestore(backup)])
    assert int(resumed.epoch.numpy()) == 2
    np.testing.assert_allclose(resumed.radius.table.numpy(),
                               reference.radius.table.numpy(), atol=1e-6)
    np.testing.assert_allclose(resumed.weighting.table.numpy(),
                               reference.weighting.table.numpy(), atol=1e-5)


# Each part's tables on two replicas, the adaptive radius under the
# authors' rule: tests/test_conformance.py. Here both rules with GAIRAT's
# table beside them over 2 epochs (slow).
@pytest.mark.slow
@pytest.mark.parametrize("rule", ["paper", "authors_code"])
def test_two_replicas_update_the_same_tables(rule, fashion_slice, float64,
                                             replica_pair):
    x, y = fashion_slice(128, dtype=np.float64)
    keras.utils.set_random_seed(0)
    initial = build_model("small_cnn", (28, 28, 1), 10, width=4,
                          dense_units=16).get_weights()

    def build():
        net = build_model("small_cnn", (28, 28, 1), 10, width=4,
                          dense_units=16, norm="sync_batchnorm")
        return AdversarialModel(
            net, objective="iaat", attack={"eps": 0.1, "steps": 3},
            radius={"name": "adaptive", "rule": rule, "warmup_epochs": 0,
                    "gamma": 0.02},
            weighting={"name": "gairat", "burn_in_epochs": 0},
            num_examples=len(y))

    (one, _), (two, _) = replica_pair(build, initial, x, y, epochs=2,
                                      momentum=0.0)
    radii = one.radius.table.numpy()
    assert np.ptp(radii) > 0
    np.testing.assert_allclose(two.radius.table.numpy(), radii, atol=1e-7)
    np.testing.assert_allclose(two.weighting.table.numpy(),
                               one.weighting.table.numpy(), rtol=1e-5)
    for a, b in zip(one.network.weights, two.network.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-7,
                                   atol=1e-9)

@pytest.mark.parametrize("name, method, policy, weighting", [
    ("fashion_mnist_iaat.py", "iaat", "adaptive", "uniform"),
    ("fashion_mnist_gairat.py", "madry", "fixed", "gairat"),
    ("fashion_mnist_gairat_iaat.py", "iaat", "adaptive", "gairat"),
    ("fashion_mnist_gairat_trades.py", "trades", "fixed", "gairat"),
])
def test_presets_compose_the_parts(name, method, policy, weighting):
    config = preset(os.path.join(REPO, "configs", "x.py"), name)
    assert (config.method.name, config.radius.policy,
            config.weighting.name) == (method, policy, weighting)


def test_tables_and_parts_survive_keras_saving(tmp_path):
    model = _iaat_gairat_model(10)
    x = np.random.RandomState(0).rand(10, 28, 28, 1).astype(np.float32)
    model.fit(_indexed(x, np.arange(10)), epochs=1, verbose=0, shuffle=False)
    model.radius.table.assign(np.linspace(0, 0.2, 10).astype(np.float32))
    model.weighting.table.assign(np.arange(10, dtype=np.float32))
    path = str(tmp_path / "wrapped.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.radius.get_config() == model.radius.get_config()
    assert loaded.weighting.get_config() == model.weighting.get_config()
    np.testing.assert_array_equal(loaded.radius.table.numpy(),
                                  model.radius.table.numpy())
    np.testing.assert_array_equal(loaded.weighting.table.numpy(),
                                  np.arange(10))
    assert isinstance(loaded.optimizer, keras.optimizers.Adam)  # compiled


def test_kappa_equals_a_hand_stepped_pgd(trained_standard, fashion_mnist):
    from advmask_tf.attacks import pgd

    x = tf.constant(fashion_mnist.x_test[:64].astype(np.float32) / 255.0)
    y = tf.constant(fashion_mnist.y_test[:64].astype(np.int32))
    eps, step, steps = 0.1, 0.02, 8
    result = pgd(trained_standard, x, y, eps, step, steps,
                 random_start="none")
    x_adv, kappa = x, np.zeros(64, np.int32)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            tape.watch(x_adv)
            logits = trained_standard(x_adv, training=False)
            loss = tf.reduce_sum(
                tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        kappa += (np.argmax(logits, -1) == y.numpy()).astype(np.int32)
        x_adv = x_adv + step * tf.sign(tape.gradient(loss, x_adv))
        x_adv = tf.clip_by_value(tf.clip_by_value(x_adv, x - eps, x + eps),
                                 0.0, 1.0)
    np.testing.assert_array_equal(result.kappa.numpy(), kappa)
    assert len(np.unique(kappa)) >= 4  # a spread of values, not all alike
