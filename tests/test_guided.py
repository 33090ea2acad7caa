"""LBGAT and HAT: the objectives' losses, the guide network inside the model
(trained, frozen, saved, restored, replicated) and the runs around it."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny

from advmask_tf import runs
from advmask_tf.attacks import PGDConfig
from advmask_tf.errors import InputError
from advmask_tf.models import build_model
from advmask_tf.runs.mixing import classifier_paths
from advmask_tf.runs.workdir import run_facts, training_seconds
from advmask_tf.training import GUIDE, AdversarialModel, make_objective
from advmask_tf.training.guard import OverfittingGuard
from advmask_tf.training.interfaces import StepFacts

# Runs of a few steps: what they check is the wiring, not the learning.
SMALL = {"data.train_limit": 400, "data.validation_size": 100,
         "val_attack.steps": 1}


def small_net():
    return build_model("small_cnn", (28, 28, 1), 10, width=4, dense_units=16,
                       mean=[0.286], std=[0.353])


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def kl(reference, logits):
    p, q = softmax(reference), softmax(logits)
    return (p * (np.log(p) - np.log(q))).sum(-1)


def ce(logits, y):
    return -np.log(softmax(logits)[np.arange(len(y)), y])


@pytest.mark.parametrize("beta", [0.0, 6.0])
def test_lbgat_loss_is_the_papers(beta):
    rng = np.random.default_rng(0)
    clean, adv, guide = (rng.normal(size=(5, 10)).astype(np.float32)
                         for _ in range(3))
    y = rng.integers(0, 10, 5)
    objective = make_objective({"name": "lbgat", "beta": beta,
                                "guide_weight": 2.0})
    logits = [adv, guide] if beta == 0 else [clean, adv, guide]
    per_sample, clean_out, adv_out = objective.loss(
        [tf.constant(z) for z in logits], StepFacts(image=None, label=y))
    expected = ce(guide, y) + 2.0 * ((adv - guide) ** 2).mean(-1)
    if beta:
        expected += beta * kl(clean, adv)
    np.testing.assert_allclose(per_sample.numpy(), expected, rtol=1e-5)
    assert (clean_out is None) == (beta == 0)
    # The passes: the robust network on x_adv (and x when beta > 0), the
    # guide on x.
    x, x_adv = tf.zeros((5, 28, 28, 1)), tf.ones((5, 28, 28, 1))
    passes = objective.passes(StepFacts(image=x, label=y), x_adv, 0.1)
    assert [len(p) for p in passes] == ([2, 3] if beta == 0 else [2, 2, 3])
    assert passes[-1][2] == GUIDE and passes[-1][0] is x


def test_hat_loss_and_helper_examples():
    rng = np.random.default_rng(1)
    clean, adv, helper, guide = (rng.normal(size=(6, 10)).astype(np.float32)
                                 for _ in range(4))
    y = rng.integers(0, 10, 6)
    objective = make_objective({"name": "hat", "beta": 2.0,
                                "helper_scale": 3.5, "helper_weight": 0.5})
    per_sample, _, _ = objective.loss(
        [tf.constant(z) for z in (clean, adv, helper, guide)],
        StepFacts(image=None, label=y))
    expected = (ce(clean, y) + 2.0 * kl(clean, adv)
                + 0.5 * ce(helper, guide.argmax(-1)))
    np.testing.assert_allclose(per_sample.numpy(), expected, rtol=1e-5)
    x = tf.fill((6, 28, 28, 1), 0.5)
    x_adv = x + 0.1
    passes = objective.passes(StepFacts(image=x, label=y), x_adv, 0.1)
    np.testing.assert_allclose(passes[2][0].numpy(), 0.5 + 0.35, rtol=1e-6)
    np.testing.assert_allclose(passes[2][1].numpy(), 0.35, rtol=1e-6)
    assert passes[3][2] == GUIDE and passes[3][0] is x_adv


def test_lbgat_trains_both_networks_with_one_optimizer(fashion_slice):
    x, y = fashion_slice(256)
    keras.utils.set_random_seed(0)
    model = AdversarialModel(small_net(), objective={"name": "lbgat",
                                                     "beta": 0.0},
                             attack={"eps": 0.1, "steps": 2})
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    # The guide is a fresh network of the same architecture.
    assert model.guide.count_params() == model.network.count_params()
    # The MSE's gradient reaches both networks: with the guide's own CE
    # taken out, the guide still gets a gradient from the robust logits.
    facts = model.step_facts(tf.constant(x[:32]), tf.constant(y[:32]))
    x_adv = model.craft(facts).x_adv
    passes = model.objective.passes(facts, x_adv, 0.1)
    with tf.GradientTape() as tape:
        robust = model.pass_logits(passes[0], training=True)
        guide = model.pass_logits(passes[1], training=True)
        mse = tf.reduce_mean(tf.square(robust - guide))
    grads = tape.gradient(mse, model.guide.trainable_variables
                          + model.network.trainable_variables)
    assert all(g is not None and float(tf.norm(g)) > 0 for g in grads)

    kernels = [w for w in model.guide.trainable_variables
               if len(w.shape) >= 2]
    guide_before = [w.numpy() for w in kernels]
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    # One optimizer: its update reached every guide kernel.
    assert all(not np.allclose(a, b.numpy())
               for a, b in zip(guide_before, kernels))


def test_hat_keeps_its_helper_frozen_and_needs_one(fashion_slice,
                                                   trained_standard):
    x, y = fashion_slice(128)
    with pytest.raises(InputError, match="needs its helper: pass guide="):
        AdversarialModel(small_net(), objective="hat")
    with pytest.raises(InputError, match="'madry' takes no guide network"):
        AdversarialModel(small_net(), objective="madry",
                         guide=trained_standard)
    helper = keras.models.clone_model(trained_standard)
    helper.set_weights(trained_standard.get_weights())
    model = AdversarialModel(small_net(), objective="hat", guide=helper,
                             attack={"eps": 0.1, "steps": 2})
    model.compile(optimizer="adam")
    before = [w.numpy() for w in helper.weights]
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0,
                        validation_data=(x[:64], y[:64]))
    assert all(np.array_equal(a, b.numpy()) for a, b in
               zip(before, helper.weights))  # batch norm's statistics too
    assert np.isfinite(history.history["val_loss"][0])
    assert helper not in model.trained_networks


@pytest.mark.parametrize("objective", ["lbgat", "hat"])
@pytest.mark.parametrize("extra", [{"free_replays": 2},
                                   {"weight_perturbation": 5e-3}])
def test_guided_objectives_join_free_training_and_awp(objective, extra,
                                                      fashion_slice,
                                                      trained_standard):
    x, y = fashion_slice(64)
    guide = None
    if objective == "hat":
        guide = keras.models.clone_model(trained_standard)
        guide.set_weights(trained_standard.get_weights())
    model = AdversarialModel(small_net(), objective=objective, guide=guide,
                             attack={"eps": 0.1, "steps": 1,
                                     "step_size": 0.1}, **extra)
    model.compile(optimizer="adam")
    guide_statistics = [v.numpy() for v in
                        model.guide.non_trainable_variables]
    before = [w.numpy() for w in model.network.trainable_variables]
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.allclose(a, b.numpy()) for a, b in
               zip(before, model.network.trainable_variables))
    if objective == "hat":  # frozen, batch norm's statistics too
        assert all(np.array_equal(a, b.numpy()) for a, b in zip(
            guide_statistics, model.guide.non_trainable_variables))


def test_the_guide_is_saved_and_loaded_with_the_model(tmp_path,
                                                      fashion_slice):
    x, y = fashion_slice(64)
    model = AdversarialModel(small_net(), objective="lbgat",
                             attack={"eps": 0.1, "steps": 1})
    model.compile(optimizer="adam")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    model.save(tmp_path / "lbgat.keras")
    loaded = keras.models.load_model(tmp_path / "lbgat.keras")
    np.testing.assert_allclose(loaded.guide.predict(x, verbose=0),
                               model.guide.predict(x, verbose=0), atol=1e-5)
    model.save_weights(tmp_path / "w.weights.h5")
    fresh = AdversarialModel(small_net(), objective="lbgat",
                             attack={"eps": 0.1, "steps": 1})
    fresh.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_allclose(fresh.guide.predict(x, verbose=0),
                               model.guide.predict(x, verbose=0), atol=1e-5)


def test_an_lbgat_run_saves_its_guide_and_learns(tmp_path, fashion_slice):
    workdir = tmp_path / "lbgat"
    runs.train_or_report(tiny({"method.name": "lbgat", "method.beta": 0.0,
                               "train.verbose": 0}), str(workdir),
                         evaluate=False)
    guide = keras.models.load_model(workdir / "guide.keras")
    network = keras.models.load_model(workdir / "model.keras")
    assert guide.input_shape == network.input_shape == (None, 28, 28, 1)
    x, y = fashion_slice(1000, split="test")
    # Two tiny epochs (1,000 images) from chance (10%): the guide learned
    # from the labels, the robust network from the guide's logits alone.
    assert np.mean(guide.predict(x, verbose=0).argmax(-1) == y) > 0.35
    assert np.mean(network.predict(x, verbose=0).argmax(-1) == y) > 0.2


def test_a_hat_run_trains_its_helper_first_and_counts_its_time(tmp_path):
    workdir = tmp_path / "hat"
    config = tiny({"method.name": "hat", "method.helper_epochs": 1,
                   "train.epochs": 1, "train.verbose": 0, **SMALL})
    runs.train_or_report(config, str(workdir), evaluate=False)
    helper = workdir / "helper"
    assert (helper / "model.keras").exists() and (workdir / "model.keras"
                                                  ).exists()
    with open(helper / "config.json") as f:
        assert json.load(f)["method"]["name"] == "standard"
    helper_seconds = training_seconds(runs.WorkDir(str(helper)))
    own_seconds = training_seconds(runs.WorkDir(str(workdir)))
    facts = run_facts(config, runs.WorkDir(str(workdir)))
    assert facts["training_seconds"] == pytest.approx(
        helper_seconds + own_seconds, abs=0.2)

    # A helper given by path is used as it is; a missing one is refused
    # before any work.
    runs.train_or_report(
        tiny({"method.name": "hat", "train.epochs": 1, "train.verbose": 0,
              "method.helper_from": str(helper / "model.keras"), **SMALL}),
        str(tmp_path / "given"), evaluate=False)
    assert (tmp_path / "given" / "model.keras").exists()
    assert not (tmp_path / "given" / "helper").exists()
    with pytest.raises(InputError, match="the guide's classifier "
                       "'/nowhere.keras' .* does not exist"):
        runs.train_or_report(tiny({"method.name": "hat",
                                   "method.helper_from": "/nowhere.keras"}),
                             str(tmp_path / "missing"))
    assert not (tmp_path / "missing").exists()


def test_lbgat_runs_with_weight_averaging_and_the_guard(tmp_path):
    """EMA averages both networks' weights; the guard judges the robust
    network and would restore the guide with it."""
    config = tiny({"method.name": "lbgat", "train.epochs": 1,
                   "train.verbose": 0, "train.ema_momentum": 0.9,
                   "guard.points": 100, **SMALL})
    model, _ = runs.train(config, str(tmp_path / "run"))
    assert (tmp_path / "run" / "guide.keras").exists()
    averaged = model.optimizer._model_variables_moving_average
    assert len(averaged) == len(model.network.trainable_variables
                                + model.guide.trainable_variables)
    guard = OverfittingGuard(np.zeros((1, 28, 28, 1), np.float32),
                             np.zeros(1, np.int64),
                             PGDConfig(eps=0.1, steps=1))
    guard.set_model(model)
    assert len(guard._variables()) == len(model.network.variables) + len(
        model.guide.variables)


@pytest.mark.slow  # the classifier trained first: the HAT run's test
def test_an_lbgat_guide_can_start_from_a_standard_classifier(tmp_path):
    workdir = tmp_path / "warm"
    config = tiny({"method.name": "lbgat", "method.guide_epochs": 1,
                   "train.epochs": 1, "train.verbose": 0, **SMALL})
    runs.train_or_report(config, str(workdir), evaluate=False)
    helper = keras.models.load_model(workdir / "helper" / "model.keras")
    guide = keras.models.load_model(workdir / "guide.keras")
    # Started from the helper, then trained on with the robust network.
    assert len(helper.weights) == len(guide.weights)
    assert not all(np.allclose(a, b) for a, b in
                   zip(helper.get_weights(), guide.get_weights()))
    facts = run_facts(config, runs.WorkDir(str(workdir)))
    assert facts["training_seconds"] > training_seconds(
        runs.WorkDir(str(workdir)))  # the helper's epoch counts
    # A classifier of another architecture cannot be the guide's start.
    other = build_model("small_cnn", (28, 28, 1), 10, width=2,
                        dense_units=8)
    other.save(tmp_path / "other.keras")
    with pytest.raises(InputError, match="another architecture"):
        runs.train_or_report(
            tiny({"method.name": "lbgat", "train.verbose": 0, **SMALL,
                  "method.guide_from": str(tmp_path / "other.keras")}),
            str(tmp_path / "other_run"), evaluate=False)


@pytest.mark.slow  # the mixture's machinery: test_mixing.py's CLI run
def test_a_guided_mixture_uses_the_guide_as_its_accurate_part(tmp_path):
    workdir = tmp_path / "mix"
    config = tiny({"method.name": "lbgat", "train.epochs": 1,
                   "train.verbose": 0, "mix.enabled": True,
                   "mix.validation_points": 100, **SMALL})
    runs.train_or_report(config, str(workdir), evaluate=False)
    assert not (workdir / "accurate").exists()
    paths = classifier_paths(config, str(workdir))
    assert paths["accurate"] == str(workdir / "robust" / "guide.keras")
    mixing = json.loads((workdir / "mixing.json").read_text())
    guide = keras.models.load_model(paths["accurate"])
    x, y = fashion_slice_of_validation(config)
    assert mixing["accurate_alone"] == pytest.approx(
        np.mean(guide.predict(x, verbose=0).argmax(-1) == y), abs=1e-6)
    assert keras.models.load_model(workdir / "model.keras").output_shape == (
        None, 10)


def fashion_slice_of_validation(config):
    """The validation points a mixture chose its map on."""
    from advmask_tf.data import build_data

    data = build_data(config.data, 100, int(config.seed))
    x, y = [], []
    for features, label in data.validation.unbatch().take(
            int(config.mix.validation_points)):
        x.append(features["image"].numpy())
        y.append(int(label))
    return np.stack(x), np.array(y)


def test_guided_objectives_refuse_what_they_cannot_join():
    with pytest.raises(InputError, match="needs train.trainable='all'"):
        runs.check_config(tiny({"method.name": "lbgat",
                                "train.trainable": "rescaling",
                                "model.norm": "batchnorm"}))
    with pytest.raises(InputError, match="mix.accurate_epochs and "
                       "mix.accurate_width train nothing; received "
                       "mix.accurate_epochs=4"):
        runs.check_config(tiny({"method.name": "hat", "mix.enabled": True,
                                "mix.accurate_epochs": 4}))
    with pytest.raises(InputError, match="give method.helper_from"):
        runs.check_config(tiny({"method.name": "hat",
                                "distribute": "multi_worker"}))
