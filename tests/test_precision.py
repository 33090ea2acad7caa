"""Numbers do not depend on the dtype policy: mixed-precision training
follows Keras' loss-scaling contract, and losses, margins and attacks
compute in float32."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny

from advmask_tf import runs
from advmask_tf.attacks import build_attacks
from advmask_tf.attacks.losses import cw_margin, dlr, kl_divergence
from advmask_tf.evaluation import evaluate
from advmask_tf.models import build_model
from advmask_tf.runs.assembly import precision
from advmask_tf.training import AdversarialModel


def _step_size(policy, initial, x, y, free_replays=0):
    """How far one SGD step of Madry AT (or the steps of one Free AT batch)
    moves the weights under `policy`."""
    with precision(policy):
        net = build_model("small_cnn", (28, 28, 1), 10, width=4,
                          dense_units=8, norm="none")
        net.set_weights(initial)
        model = AdversarialModel(net, attack={"eps": 0.1, "steps": 2,
                                              "random_start": "none"},
                                 free_replays=free_replays)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.fit(x, y, batch_size=len(y), epochs=1, verbose=0, shuffle=False)
    return np.sqrt(sum(np.sum((w.numpy().astype(np.float64) - w0) ** 2)
                       for w, w0 in zip(net.weights, initial)))


@pytest.mark.parametrize("free_replays", [0, 2])
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_one_step_moves_the_weights_as_in_float32(policy, free_replays,
                                                  fashion_slice):
    x, y = fashion_slice(16)
    keras.utils.set_random_seed(0)
    initial = build_model("small_cnn", (28, 28, 1), 10, width=4,
                          dense_units=8, norm="none").get_weights()
    reference = _step_size("float32", initial, x, y, free_replays)
    assert reference > 0
    # Without loss scaling the float16 step was 32768 times too small.
    assert _step_size(policy, initial, x, y, free_replays) == pytest.approx(
        reference, rel=0.1)


def test_losses_and_margins_compute_in_float32():
    logits = tf.constant([[30.0, 1.0, 0.5, -2.0]], tf.float16)
    label = tf.constant([1])
    for value in (cw_margin(logits, label), dlr(logits, label),
                  kl_divergence(logits, logits * 0.5)):
        assert value.dtype == tf.float32
        assert np.all(np.isfinite(value.numpy())), value
    assert float(cw_margin(logits, label)[0]) == pytest.approx(29.0)


def test_a_mixed_precision_network_evaluates_like_its_float32_weights(
        trained_standard, fashion_slice):
    x, y = fashion_slice(100, split="test")
    data = tf.data.Dataset.from_tensor_slices(
        ({"image": x, "index": np.arange(len(y))}, y)).batch(100)
    attacks = build_attacks("pgd,cw_inf,square", 0.01)
    attacks["square"].queries = 50
    reference = evaluate(trained_standard, data, attacks)
    with precision("mixed_float16"):
        half = build_model("small_cnn", (28, 28, 1), 10, mean=[0.286],
                           std=[0.353])
    half.set_weights(trained_standard.get_weights())
    assert half(x[:1]).dtype == "float16"
    report = evaluate(half, data, attacks)
    for name in ("clean", "pgd20", "cw_inf", "square", "worst_case"):
        assert report[name]["accuracy"] == pytest.approx(
            reference[name]["accuracy"], abs=0.03), name
    assert reference["cw_inf"]["accuracy"] > 0.2  # a real comparison


def test_train_precision_builds_the_run_under_that_policy(tmp_path):
    policy = "mixed_float16"  # bfloat16: the one-step test and precision()
    model, _ = runs.train(tiny({"train.precision": policy,
                                "train.epochs": 1}), str(tmp_path))
    assert model.network.layers[-1].dtype_policy.name == policy
    assert keras.config.dtype_policy().name == "float32"  # restored
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    history = runs.read_json(str(tmp_path / "config.json"))
    assert history["train"]["precision"] == policy
    loaded = keras.models.load_model(str(tmp_path / "model.keras"))
    assert loaded.layers[-1].dtype_policy.name == policy


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="train.precision must be one of "
                       ".*received 'half'"):
        runs.check_config(tiny({"train.precision": "half"}))
