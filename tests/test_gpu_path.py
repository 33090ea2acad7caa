"""The device-dependent defaults (precision, XLA), the papers' optimizer
settings and the GPU input pipeline, checked on the CPU."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny

from advmask_tf.configs_lib import base_config
from advmask_tf.data import prefetch_to
from advmask_tf.devices import (
    Accelerator,
    resolve_jit_compile,
    resolve_precision,
)
from advmask_tf.runs import check_config, make_optimizer
from advmask_tf.runs.workdir import resolved
from advmask_tf.training.lr_schedules import TriangularSchedule
from advmask_tf.training.optimizers import L2SGD

CPU = Accelerator("cpu", "AMD EPYC", 1)
A100 = Accelerator("gpu", "NVIDIA A100", 1, (8, 0))
K80 = Accelerator("gpu", "Tesla K80", 1, (3, 7))


@pytest.mark.parametrize("accelerator, replicas, precision, jit", [
    (CPU, 1, "float32", False),
    (A100, 1, "mixed_float16", True),
    (K80, 1, "float32", True),      # no tensor cores: float16 gains little
    (A100, 4, "mixed_float16", False),
])
def test_auto_choices_follow_the_device(accelerator, replicas, precision,
                                        jit):
    assert resolve_precision("auto", accelerator) == precision
    assert resolve_jit_compile("auto", accelerator, replicas) is jit
    # An explicit setting wins on every device.
    assert resolve_precision("mixed_bfloat16", accelerator) == \
        "mixed_bfloat16"
    assert resolve_jit_compile("off", accelerator, replicas) is False


def test_this_machine_stores_a_concrete_precision():
    """A work directory records the policy it trained with, not "auto"."""
    on_this_machine = resolve_precision("auto")
    assert on_this_machine in ("float32", "mixed_float16")
    assert resolved(base_config())["train"]["precision"] == on_this_machine


@pytest.mark.parametrize("field, value, message", [
    ("precision", "half", "train.precision must be one of ('auto', "
     "'float32', 'mixed_float16', 'mixed_bfloat16'); received 'half'."),
    ("jit_compile", "yes", "train.jit_compile must be one of ('auto', 'on', "
     "'off'); received 'yes'."),
    ("weight_decay_style", "adamw", "train.weight_decay_style must be one "
     "of ('decoupled', 'l2'); received 'adamw'."),
    ("lr_boundaries", (5, 3), "train.lr_boundaries must be increasing whole "
     "epochs in (0, train.epochs=10); received (5, 3)."),
    ("lr_boundaries", (12,), "train.lr_boundaries must be increasing whole "
     "epochs in (0, train.epochs=10); received (12,)."),
    ("cyclic_peak", 1.5, "train.cyclic_peak must be a number in (0, 1); received "
     "1.5."),
])
def test_bad_training_settings_name_their_field(field, value, message):
    config = base_config()
    config.train.schedule = "piecewise"
    config.train[field] = value
    if field == "lr_boundaries":
        config.train.lr_multipliers = (0.1,) * len(value)
    with pytest.raises(ValueError) as error:
        check_config(config)
    assert str(error.value) == message


def test_multipliers_must_match_the_boundaries():
    config = base_config()
    config.train.schedule = "piecewise"
    config.train.lr_boundaries = (4, 8)
    config.train.lr_multipliers = (0.1,)
    with pytest.raises(ValueError, match="one value per train.lr_boundaries"):
        check_config(config)


def test_piecewise_drops_at_the_first_update_of_each_boundary_epoch():
    train = base_config().train
    train.optimizer, train.schedule, train.learning_rate = "sgd", \
        "piecewise", 0.1
    train.epochs, train.lr_boundaries, train.lr_multipliers = 4, (1, 3), \
        (0.1, 0.01)
    schedule = make_optimizer(train, 5)._learning_rate
    per_update = [float(schedule(k)) for k in range(20)]
    assert per_update[:5] == pytest.approx([0.1] * 5)
    assert per_update[5:15] == pytest.approx([0.01] * 10)
    assert per_update[15:] == pytest.approx([0.001] * 5)


def test_the_cyclic_rate_peaks_then_returns_to_zero_and_survives_saving():
    schedule = TriangularSchedule(0.2, total_updates=100, peak_fraction=0.4)
    values = np.array([float(schedule(k)) for k in range(100)])
    assert values.argmax() == 39 and values.max() == pytest.approx(0.2)
    assert np.all(np.diff(values[:40]) > 0) and np.all(
        np.diff(values[40:]) < 0)
    assert values[-1] == pytest.approx(0.0)
    copy = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(schedule))
    assert [float(copy(k)) for k in (0, 57, 99)] == pytest.approx(
        values[[0, 57, 99]].tolist())


def test_l2_weight_decay_goes_through_the_momentum_like_pytorch():
    """With a zero loss gradient, PyTorch's SGD(momentum=0.9,
    weight_decay=wd) moves w by its momentum buffer of wd * w; Keras'
    own (decoupled) decay only shrinks w by lr * wd * w per update."""
    lr, wd, momentum = 0.1, 0.05, 0.9
    coupled = keras.Variable(np.ones(1, "float32"))
    decoupled = keras.Variable(np.ones(1, "float32"))
    l2_sgd = L2SGD(learning_rate=lr, momentum=momentum, l2=wd)
    keras_sgd = keras.optimizers.SGD(learning_rate=lr, momentum=momentum,
                                     weight_decay=wd)
    w, buffer = 1.0, 0.0
    for _ in range(5):
        l2_sgd.apply([keras.ops.zeros(1)], [coupled])
        keras_sgd.apply([keras.ops.zeros(1)], [decoupled])
        buffer = momentum * buffer + wd * w     # PyTorch's update
        w = w - lr * buffer
    assert float(coupled[0]) == pytest.approx(w, rel=1e-5)
    assert float(decoupled[0]) == pytest.approx((1 - lr * wd) ** 5,
                                                rel=1e-5)
    assert float(coupled[0]) < float(decoupled[0])


def test_the_l2_optimizer_is_built_from_the_config_and_serialises():
    train = base_config().train
    train.optimizer, train.weight_decay, train.weight_decay_style = \
        "sgd", 5e-4, "l2"
    optimizer = make_optimizer(train, steps_per_epoch=10)
    assert isinstance(optimizer, L2SGD) and optimizer.l2 == 5e-4
    assert optimizer.weight_decay is None and optimizer.nesterov
    copy = keras.optimizers.deserialize(
        keras.optimizers.serialize(optimizer))
    assert isinstance(copy, L2SGD) and copy.l2 == 5e-4


def test_prefetching_to_a_device_takes_exactly_the_epoch_s_steps():
    """Keras takes one more (empty) step per epoch on a dataset of
    unknown length; with steps_per_epoch the updates match the batches."""
    x = np.random.default_rng(0).random((40, 3)).astype("float32")
    y = (x.sum(1) > 1.5).astype("int64")
    batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(10)
    fed = prefetch_to(batches, "/cpu:0")
    first = [b[1].numpy().tolist() for b in fed.take(4)]
    assert first == [b[1].numpy().tolist() for b in batches]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(True))
    model.fit(fed, epochs=2, steps_per_epoch=4, verbose=0,
              shuffle=False)
    assert int(model.optimizer.iterations.numpy()) == 8


@pytest.mark.slow
def test_an_xla_compiled_run_trains_like_the_plain_one(tmp_path):
    """jit_compile "on" (the single-GPU default) compiles the whole
    adversarial train step, per-sample state included, and learns the
    same: on the CPU the two runs' losses agree to float tolerance."""
    from advmask_tf.runs import train
    from advmask_tf.runs.workdir import WorkDir, history

    losses = {}
    for setting in ("off", "on"):
        config = tiny({"train.epochs": 1, "train.jit_compile": setting,
                       "radius.policy": "adaptive"})
        model, _ = train(config, str(tmp_path / setting))
        assert model.jit_compile is (setting == "on")
        losses[setting] = float(history(WorkDir(str(tmp_path / setting)))[
            -1]["loss"])
    assert np.isfinite(losses["on"])
    assert losses["on"] == pytest.approx(losses["off"], rel=0.05)
