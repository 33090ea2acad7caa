"""No silently wrong numbers: every public path refuses pixels outside
[0, 1] and networks that output probabilities, as `fit` does, naming what
it saw (issue: a Keras user's ordinary mistakes)."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_cli import run_cli

from advmask_tf.attacks import PGDConfig
from advmask_tf.attacks.pgd import pgd
from advmask_tf.errors import InputError
from advmask_tf.evaluation import evaluate
from advmask_tf.models import build_model
from advmask_tf.runs.evaluate_model import evaluate_model_file
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


def test_advmask_eval_evaluates_a_saved_adversarial_model(
        tmp_path, fashion_slice):
    """The file a Keras user saves (model.save, ModelCheckpoint) holds the
    AdversarialModel: its network is what gets evaluated."""
    x, y = fashion_slice(64)
    model = AdversarialModel(logits_network(), attack={"eps": 0.1,
                                                       "steps": 1})
    model.compile(optimizer="adam")
    model.fit(x, y, epochs=1, verbose=0)
    path = str(tmp_path / "adversarial.keras")
    model.save(path)
    report = evaluate_model_file(str(tmp_path / "out"), path, limit=40,
                                 attacks="pgd", checks=False, verbose=0)
    test_x, test_y = fashion_slice(40, split="test")
    direct = evaluate(model.network, tf.data.Dataset.from_tensor_slices(
        (test_x, test_y)).batch(40), attacks={}, eps=0.1)
    assert report["clean"]["total"] == 40
    assert report["clean"]["correct"] == direct["clean"]["correct"]


def test_a_two_output_model_is_named_as_such(tmp_path):
    inputs = keras.Input((28, 28, 1))
    flat = keras.layers.Flatten()(inputs)
    two = keras.Model(inputs, [keras.layers.Dense(10)(flat),
                               keras.layers.Dense(1)(flat)])
    path = str(tmp_path / "two.keras")
    two.save(path)
    with pytest.raises(InputError, match=r"two.keras has 2 outputs; an "
                       "evaluation takes a classifier with one output"):
        evaluate_model_file(str(tmp_path / "out"), path, limit=10,
                            verbose=0)


def test_a_negative_condition_eps_is_refused_before_any_work(tmp_path):
    result = run_cli("advmask-eval", f"--workdir={tmp_path}/run",
                     "--condition_eps=-3")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "advmask-eval: error: --condition_eps must be a strength in [0, 1] "
        "(leave it out for the run's eval.condition_eps); received -3.0.")
    assert "Traceback" not in result.stderr
    assert not os.path.exists(tmp_path / "run")


def test_evaluate_accepts_the_inputs_fit_accepts(fashion_slice):
    """keras.datasets' (N, 1) labels, one-hot rows, a numpy pair and an
    unbatched dataset give the report of integer labels in batches."""
    x, y = fashion_slice(48, split="test")
    net = logits_network()
    attacks = {"pgd3": PGDConfig(eps=0.1, steps=3)}
    reference = evaluate(net, tf.data.Dataset.from_tensor_slices(
        (x, y)).batch(16), attacks=attacks)
    one_hot = np.eye(10, dtype=np.float32)[y]
    for data in [tf.data.Dataset.from_tensor_slices((x, y[:, None])).batch(16),
                 tf.data.Dataset.from_tensor_slices((x, one_hot)).batch(16),
                 (x, y), (x, y[:, None]),
                 tf.data.Dataset.from_tensor_slices((x, y))]:
        report = evaluate(net, data, attacks=attacks)
        assert report["clean"] == reference["clean"]
        assert report["pgd3"] == reference["pgd3"]


@pytest.mark.parametrize("case, message", [
    ("soft labels", "label rows of width 10 that are not one-hot"),
    ("label 10", r"received label 10; the network has 10 classes, so "
     r"labels are in \[0, 10\)"),
    ("weights", "drop the sample weights"),
    ("two outputs", "has 2 outputs"),
    ("a list", "takes a tf.data.Dataset of .* received list"),
])
def test_evaluate_names_inputs_it_cannot_read(case, message, fashion_slice):
    x, y = fashion_slice(16, split="test")
    net = logits_network()
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    if case == "soft labels":
        data = (x, np.full((16, 10), 0.1, np.float32))
    elif case == "label 10":
        data = (x, np.where(np.arange(16) == 5, 10, y))
    elif case == "weights":
        data = tf.data.Dataset.from_tensor_slices(
            (x, y, np.ones(16, np.float32))).batch(8)
    elif case == "two outputs":
        inputs = keras.Input((28, 28, 1))
        flat = keras.layers.Flatten()(inputs)
        net = keras.Model(inputs, [keras.layers.Dense(10)(flat),
                                   keras.layers.Dense(10)(flat)])
    elif case == "a list":
        data = [x]
    with pytest.raises(InputError, match=message):
        evaluate(net, data, attacks={})


def test_the_attack_functions_refuse_labels_and_radii_they_cannot_use(
        fashion_slice):
    from advmask_tf.attacks.apgd import apgd

    x, y = fashion_slice(8, split="test")
    net = logits_network()
    wrong = np.where(np.arange(8) == 3, 12, y)
    with pytest.raises(InputError, match="pgd received label 12; the "
                       "network has 10 classes"):
        pgd(net, x, wrong, eps=0.1, step_size=0.025, steps=2)
    with pytest.raises(InputError, match="apgd received label 12"):
        apgd(net, x, wrong, eps=0.1, steps=2)
    with pytest.raises(InputError, match="pgd takes one integer class per "
                       r"image, shape \(8,\); received labels of shape "
                       r"\(8, 10\)"):
        pgd(net, x, np.eye(10)[y], eps=0.1, step_size=0.025, steps=2)
    with pytest.raises(InputError, match="eps must be a number .* the text "
                       "'0.1'"):
        pgd(net, x, y, eps="0.1", step_size=0.025, steps=2)
    with pytest.raises(InputError, match="eps must be at most 1 under the "
                       "Linf norm .* received 8"):
        pgd(net, x, y, eps=8, step_size=2, steps=2)
    with pytest.raises(InputError, match="eps must be at most 1"):
        PGDConfig(eps=8.0, steps=2)
    # An L2 radius above 1 is a real threat model.
    pgd(net, x, y, eps=1.5, step_size=0.5, steps=1, norm="l2")


def test_val_loss_is_the_methods_loss_and_evaluate_matches_metrics_names(
        fashion_slice):
    """TRADES: `val_loss` is CE + beta * KL on validation data (the
    validation attack's points), not the clean CE; the values `evaluate()`
    returns carry the names `metrics_names` lists."""
    from conftest import indexed

    from advmask_tf.attacks.losses import cross_entropy, kl_divergence
    from advmask_tf.attacks.pgd import noise_keys_for

    x, y = fashion_slice(256)
    val_x, val_y = fashion_slice(64, split="test")
    model = AdversarialModel(logits_network(),
                             objective={"name": "trades", "beta": 6.0},
                             attack={"eps": 0.1, "steps": 2},
                             val_attack={"eps": 0.1, "steps": 2})
    model.compile(optimizer="adam")
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    values = model.evaluate(indexed(val_x, val_y, 64), verbose=0)
    named = model.evaluate(indexed(val_x, val_y, 64), verbose=0,
                           return_dict=True)
    assert len(values) == len(model.metrics_names)
    assert dict(zip(model.metrics_names, values)) == pytest.approx(named)

    attack = model.val_attack.run(
        model.network, val_x, val_y,
        noise_keys=noise_keys_for(tf.range(64, dtype=tf.int64), 0))
    clean = model.network(val_x, training=False)
    adv = model.network(attack.x_adv, training=False)
    clean_ce = float(tf.reduce_mean(cross_entropy(clean, val_y)))
    trades = float(tf.reduce_mean(cross_entropy(clean, val_y)
                                  + 6.0 * kl_divergence(adv, clean)))
    assert named["loss"] == pytest.approx(trades, rel=1e-4)
    assert named["loss"] > clean_ce + 1e-3
