"""Methods of the trade-off issue: MART, AWP, OAT."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from advmask_tf.attacks import PGDConfig
from advmask_tf.models import build_model
from advmask_tf.models.conditioning import at_strength
from advmask_tf.training import AdversarialModel, StepFacts
from advmask_tf.training.objectives import make_objective


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_mart_loss_is_the_papers_formula():
    rng = np.random.default_rng(0)
    clean = rng.normal(size=(6, 10)).astype(np.float32) * 3
    adv = rng.normal(size=(6, 10)).astype(np.float32) * 3
    y = rng.integers(0, 10, 6)
    per_sample, _, _ = make_objective({"name": "mart", "beta": 6.0}).loss(
        [clean, adv], StepFacts(image=None, label=y))
    p_clean, p_adv = softmax(clean.astype(np.float64)), softmax(
        adv.astype(np.float64))
    rows = np.arange(6)
    wrong = p_adv.copy()
    wrong[rows, y] = -1
    boosted = -np.log(p_adv[rows, y]) - np.log(1 - wrong.max(-1))
    kl = np.sum(p_clean * (np.log(p_clean) - np.log(p_adv)), -1)
    expected = boosted + 6.0 * kl * (1 - p_clean[rows, y])
    np.testing.assert_allclose(per_sample, expected, rtol=1e-4)


def test_mart_refuses_a_negative_beta():
    with pytest.raises(ValueError, match="method.beta"):
        make_objective({"name": "mart", "beta": -1.0})


@pytest.mark.slow  # bench/: pytest -m slow
def test_mart_learns_robustness_on_real_images(fashion_slice):
    """MART (PGD-3 during training) for one epoch over 2,000 images resists
    PGD-10 at eps 0.1 far better than clean training."""
    x, y = fashion_slice(2000)
    test_x, test_y = fashion_slice(500, split="test")
    robust = {}
    for name in ("mart", "standard"):
        keras.utils.set_random_seed(0)
        net = build_model("small_cnn", (28, 28, 1), 10, mean=[0.286],
                          std=[0.353])
        model = AdversarialModel(net, objective=name, attack={
            "eps": 0.1, "steps": 3, "step_size": 0.04})
        model.compile(optimizer="adam")
        model.fit(x, y, batch_size=50, epochs=1, verbose=0)
        fooled = PGDConfig(eps=0.1, steps=10).fooled(net, test_x, test_y)
        correct = np.argmax(net(test_x), -1) == test_y
        robust[name] = float(np.mean(correct & ~fooled.numpy()))
    assert robust["mart"] > 0.35
    assert robust["mart"] > robust["standard"] + 0.25


def _awp_model(gamma, learning_rate, objective="madry"):
    keras.utils.set_random_seed(0)
    net = build_model("small_cnn", (28, 28, 1), 10, width=4, dense_units=16,
                      mean=[0.286], std=[0.353])
    model = AdversarialModel(
        net, objective=objective, weight_perturbation=gamma,
        attack={"eps": 0.1, "steps": 2, "random_start": "none"})
    model.compile(optimizer=keras.optimizers.SGD(learning_rate))
    return model


def test_awp_moves_each_kernel_by_gamma_of_its_norm_and_puts_it_back(
        fashion_slice):
    x, y = fashion_slice(32)
    model = _awp_model(0.005, 0.0)
    kernels = [w for w in model.network.trainable_variables
               if len(w.shape) >= 2]
    before = [k.numpy() for k in kernels]
    inputs = [(tf.constant(x), tf.zeros(32))]
    perturbation = model.weight_perturbation.perturb(
        model, inputs, StepFacts(image=tf.constant(x),
                                 label=tf.constant(y, tf.int32)))
    assert [k.path for k, _ in perturbation] == [k.path for k in kernels]
    for kernel, original in zip(kernels, before):
        moved = np.linalg.norm(kernel.numpy() - original)
        np.testing.assert_allclose(moved, 0.005 * np.linalg.norm(original),
                                   rtol=1e-4)
    model.weight_perturbation.restore(perturbation)
    for kernel, original in zip(kernels, before):
        np.testing.assert_allclose(kernel.numpy(), original, atol=1e-7)
    # Through fit at learning rate 0 the weights end where they started.
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    for kernel, original in zip(kernels, before):
        np.testing.assert_allclose(kernel.numpy(), original, atol=1e-7)


def test_awp_step_applies_the_gradient_taken_at_the_perturbed_weights(
        fashion_slice):
    """One SGD step of Madry-AWP equals w - lr * grad L(w + v), with v
    computed by hand from the paper's rule; and differs from plain Madry."""
    x, y = fashion_slice(32)
    gamma, lr = 0.02, 0.5
    reference = _awp_model(0.0, lr)
    net = reference.network
    start = [w.numpy() for w in net.weights]
    x_adv = reference.attack.run(net, tf.constant(x), tf.constant(
        y, tf.int32), compute_success=False).x_adv
    trainable = net.trainable_variables

    def loss_gradients():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                y, net(x_adv, training=True), from_logits=True))
        return tape.gradient(loss, trainable)

    ascent = loss_gradients()
    values = [w.numpy() for w in trainable]
    for w, g in zip(trainable, ascent):
        if len(w.shape) >= 2:
            w.assign_add(gamma * np.linalg.norm(w.numpy()) * g.numpy()
                         / np.linalg.norm(g.numpy()))
    expected = [v - lr * g.numpy()
                for v, g in zip(values, loss_gradients())]
    plain = [v - lr * g.numpy() for v, g in zip(values, ascent)]

    model = _awp_model(gamma, lr)
    model.network.set_weights(start)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    for w, want in zip(model.network.trainable_variables, expected):
        np.testing.assert_allclose(w.numpy(), want, atol=2e-5)
    assert max(np.abs(w - p).max() for w, p in zip(expected, plain)) > 1e-3


def test_awp_refuses_free_training_and_a_negative_gamma():
    net = build_model("small_cnn", (28, 28, 1), 10, width=4, dense_units=8)
    with pytest.raises(ValueError, match="train.free_replays=4"):
        AdversarialModel(net, weight_perturbation=0.005, free_replays=4)
    with pytest.raises(ValueError, match="method.awp_gamma"):
        AdversarialModel(net, weight_perturbation=-0.1)


def test_oat_loss_weighs_clean_and_adversarial_ce_by_each_samples_lambda():
    objective = make_objective({"name": "oat", "lambdas": (0.0, 0.4, 1.0)})
    keys = tf.constant([[i, 3] for i in range(64)], tf.int64)
    facts = objective.prepare(StepFacts(
        image=tf.zeros((64, 28, 28, 1)), label=tf.zeros(64, tf.int32),
        noise_keys=keys))
    drawn = facts.trade_off.numpy()
    assert sorted(set(drawn)) == list(np.float32([0.0, 0.4, 1.0]))
    again = objective.prepare(StepFacts(
        image=tf.zeros((64, 28, 28, 1)), label=tf.zeros(64, tf.int32),
        noise_keys=keys)).trade_off.numpy()
    np.testing.assert_array_equal(drawn, again)  # keyed, reproducible
    passes = objective.passes(facts, tf.ones((64, 28, 28, 1)),
                              tf.fill([64], 0.1))
    np.testing.assert_allclose(passes[0][1], drawn * 0.1, rtol=1e-6)
    np.testing.assert_allclose(passes[1][1], drawn * 0.1, rtol=1e-6)
    rng = np.random.default_rng(1)
    clean, adv = (rng.normal(size=(64, 10)).astype(np.float32)
                  for _ in range(2))
    y = rng.integers(0, 10, 64)
    per_sample, _, _ = objective.loss(
        [clean, adv], dataclasses.replace(facts, label=y))

    def ce(z):
        z = z.astype(np.float64)
        return np.log(np.exp(z).sum(-1)) - z[np.arange(64), y]

    np.testing.assert_allclose(
        per_sample, (1 - drawn) * ce(clean) + drawn * ce(adv), rtol=1e-5)
    with pytest.raises(ValueError, match="method.lambdas"):
        make_objective({"name": "oat", "lambdas": (0.0, 1.5)})


def test_oat_attacks_the_network_told_each_samples_lambda_times_eps(
        fashion_slice):
    x, y = fashion_slice(64)
    lambdas = (0.0, 0.3, 1.0)
    net = build_model("small_cnn", (28, 28, 1), 10, width=4, dense_units=8,
                      norm="masking", norm_options={
                          "strengths": (0.0, 0.03, 0.1), "encoding_dim": 4,
                          "route_boundaries": (0.0,)})
    model = AdversarialModel(net, objective={"name": "oat",
                                             "lambdas": lambdas},
                             attack={"eps": 0.1, "steps": 1})
    model.compile(optimizer="adam", run_eagerly=True)
    told, network_at = [], model.network_at

    def spy(eps):
        told.append(np.asarray(eps))
        return network_at(eps)

    model.network_at = spy
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    [values] = told
    assert values.shape == (64,)
    assert sorted(set(np.round(values, 6))) == [0.0, 0.03, 0.1]


@pytest.mark.slow  # bench/: pytest -m slow
def test_oat_learns_robustness_when_told_lambda_one(fashion_slice):
    """OAT (PGD-3 in training) for two epochs over 2,000 real images: told
    lambda 1 (eps 0.1) the network resists PGD-10 at eps 0.1 on 500 test
    images far better than clean training does (MART's test has that
    reference: under 1%)."""
    x, y = fashion_slice(2000)
    test_x, test_y = fashion_slice(500, split="test")
    keras.utils.set_random_seed(0)
    lambdas = (0.0, 0.1, 0.2, 0.3, 0.4, 1.0)
    net = build_model(
        "small_cnn", (28, 28, 1), 10, mean=[0.286], std=[0.353],
        norm="masking", norm_options={
            "strengths": tuple(0.1 * v for v in lambdas),
            "encoding_dim": 8, "route_boundaries": (0.0,)})
    model = AdversarialModel(
        net, objective={"name": "oat", "lambdas": lambdas},
        attack={"eps": 0.1, "steps": 3, "step_size": 0.04})
    model.compile(optimizer="adam")
    model.fit(x, y, batch_size=50, epochs=2, verbose=0)
    view = at_strength(net, 0.1)
    correct = np.argmax(view(test_x), -1) == test_y
    fooled = PGDConfig(eps=0.1, steps=10).fooled(view, test_x, test_y)
    assert correct.mean() > 0.7
    assert np.mean(correct & ~fooled.numpy()) > 0.3
