"""Every input checked before any work, with an error that names the field
(or file) the user set, the value received and what is accepted."""

import gzip
import os
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny

from advmask_tf import runs
from advmask_tf.attacks import apgd, pgd, square
from advmask_tf.configs_lib import base_config
from advmask_tf.data import build_data
from advmask_tf.data.sources import load_npz, read_idx
from advmask_tf.errors import InputError
from advmask_tf.models import build_model
from advmask_tf.models.loading import load_keras_file
from advmask_tf.training import AdversarialModel
from advmask_tf.tuning import make_tuner


@pytest.mark.parametrize("field,value,message", [
    ("train.learning_rate", -1.0,
     "train.learning_rate must be a number > 0; received -1.0"),
    ("attack.eps", 2.0, "attack.eps must be a number in [0, 1]"),
    ("attack.eps", -0.1, "attack.eps must be a number in [0, 1]"),
    ("attack.step_size", -0.01, "attack.step_size must be a number in"),
    ("eval.eps", 5.0, "eval.eps must be a number <= 1 (< 0: the training "
     "eps); received 5.0"),
    ("train.weight_decay", -0.1, "train.weight_decay must be a number >= 0"),
    ("data.train_limit", -5, "data.train_limit must be an integer >= 0"),
    ("data.test_limit", -1, "data.test_limit must be an integer >= 0"),
    ("tune.validation_limit", -5, "tune.validation_limit must be an int"),
    ("eval.batch_size", 0, "eval.batch_size must be an integer >= 1"),
    ("val_attack.steps", 0, "val_attack.steps must be an integer >= 1"),
    ("attack.steps", 0, "attack.steps must be an integer >= 1"),
    ("eval.pgd_steps", 0, "eval.pgd_steps must be an integer >= 1; "
     "received 0"),
    ("eval.attacks", "pgd,foo", "Unknown eval.attacks 'foo'"),
])
def test_a_bad_value_names_its_field(field, value, message):
    with pytest.raises(ValueError) as caught:
        runs.check_config(tiny({field: value}))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_guard_larger_than_the_validation_split_is_refused_first(
        tmp_path):
    # A mixture trains two runs; the check must come before the first.
    config = tiny({"guard.points": 300, "mix.enabled": True})
    with pytest.raises(ValueError, match="guard.points=300 needs that many "
                       "held-out images; data.validation_size is 200"):
        runs.train_or_report(config, str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run" / "robust")


def test_settings_that_cannot_do_what_they_say_warn():
    config = tiny({"weighting.name": "gairat",
                   "weighting.burn_in_epochs": 5, "train.epochs": 5})
    with pytest.warns(UserWarning, match="GAIRAT's weights never switch on"):
        runs.check_config(config)


def test_data_fields_the_data_contradicts_are_refused(fashion_mnist):
    config = base_config().data
    config.num_classes = 3
    with pytest.raises(ValueError, match="data.num_classes=3 but "
                       "fashion_mnist has 10 classes"):
        build_data(config, 100, splits=fashion_mnist)


def test_a_batch_above_the_training_set_is_refused_before_training(
        tmp_path):
    config = tiny({"train.batch_size": 100000, "train.verbose": 0})
    with pytest.raises(ValueError, match=r"train.batch_size=100000 is above "
                       r"the 1,000 training examples"):
        runs.train(config, str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run" / "history.csv")


def test_a_finished_run_accepts_corrected_eval_settings(tmp_path):
    workdir = runs.WorkDir(str(tmp_path))
    runs.save_or_check_config(base_config(), workdir)
    config = base_config()
    config.eval.pgd_steps = 50
    assert runs.save_or_check_config(config, workdir) == ["eval.pgd_steps"]
    assert runs.load_config(workdir).eval.pgd_steps == 50
    config.train.learning_rate = 0.01
    with pytest.raises(ValueError, match="train.learning_rate: 0.001 -> "
                       "0.01"):
        runs.save_or_check_config(config, workdir)


def test_an_evaluation_limit_below_zero_is_refused():
    with pytest.raises(ValueError, match="--limit must be >= 0 .* received "
                       "-5"):
        runs.evaluate.requested_points(base_config(), -5)


def test_corrupt_model_and_config_files_are_named(tmp_path):
    text = tmp_path / "model.keras"
    text.write_text("not a model")
    with pytest.raises(ValueError, match=f"train.init_from: {text} is not a "
                       r"\.keras file"):
        load_keras_file(str(text), "train.init_from")
    empty_zip = tmp_path / "empty.keras"
    with zipfile.ZipFile(empty_zip, "w") as archive:
        archive.writestr("metadata.json", "{}")
    with pytest.raises(ValueError, match=r"incomplete \.keras file "
                       r"\(config.json is missing"):
        load_keras_file(str(empty_zip), "the best network")
    workdir = runs.WorkDir(str(tmp_path))
    with open(workdir.config, "w") as f:
        f.write('{"train": ')
    with pytest.raises(ValueError, match="config.json is damaged"):
        runs.load_config(workdir)


def test_an_init_from_of_another_architecture_names_the_weight(tmp_path):
    small = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    path = str(tmp_path / "small.keras")
    small.save(path)
    other = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match=r"weight 0 \(.*kernel\) is \(4, 3\) "
                       r"there and \(5, 3\) here"):
        runs.assembly.initialise_from(other, path)


def test_corrupt_data_files_are_named(tmp_path):
    idx = tmp_path / "train-images-idx3-ubyte.gz"
    idx.write_bytes(gzip.compress(b"\0\0\x08\x03" + b"\0" * 100)[:20])
    with pytest.raises(ValueError, match=f"{idx} is damaged"):
        read_idx(str(idx))
    noise = tmp_path / "noise.npz"
    noise.write_bytes(os.urandom(300))
    with pytest.raises(ValueError, match=f"{noise} is damaged"):
        load_npz(str(noise))
    good = tmp_path / "good.npz"
    x = np.zeros((4, 8, 8), np.uint8)
    np.savez(good, x_train=x, y_train=np.array([0, 1, np.nan, 1]),
             x_test=x, y_test=np.arange(4))
    with pytest.raises(ValueError, match="y_train holds non-finite labels"):
        load_npz(str(good))
    np.savez(good, x_train=x, y_train=np.arange(4), x_test=x[:0],
             y_test=np.arange(0))
    with pytest.raises(ValueError, match="y_test is empty"):
        load_npz(str(good))
    truncated = tmp_path / "truncated.npz"
    np.savez(truncated, x_train=x, y_train=np.arange(4), x_test=x,
             y_test=np.arange(4))
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(ValueError, match=f"{truncated} is damaged"):
        load_npz(str(truncated))


@pytest.fixture(scope="module")
def linear():
    return keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(3)])


@pytest.mark.parametrize("kwargs,message", [
    ({"eps": tf.constant(-0.1)}, "eps must be finite and >= 0"),
    ({"eps": tf.constant([0.1, np.nan, 0.1, 0.1])},
     "eps must be finite and >= 0"),
    ({"eps": tf.constant([0.1, 0.1])},
     "eps has 2 values for a batch of 4 images"),
    ({"x": tf.zeros((4, 4, 4, 1), tf.uint8)},
     "pgd takes float images with pixels in [0, 1]; received dtype uint8"),
])
def test_the_attack_api_refuses_bad_arguments(linear, kwargs, message):
    args = {"x": tf.random.uniform((4, 4, 4, 1)), "eps": 0.1}
    args.update(kwargs)
    with pytest.raises(ValueError) as caught:
        pgd(linear, args["x"], tf.zeros(4, tf.int32), eps=args["eps"],
            step_size=0.01, steps=2)
    assert message in str(caught.value)


def test_every_attack_refuses_0_to_255_images(linear):
    images = tf.zeros((4, 4, 4, 1), tf.uint8)
    labels = tf.zeros(4, tf.int32)
    with pytest.raises(ValueError, match="apgd takes float images"):
        apgd(linear, images, labels, eps=0.1, steps=2)
    with pytest.raises(ValueError, match="square takes float images"):
        square(linear, images, labels, eps=0.1, queries=2)


def test_the_model_api_refuses_bad_arguments(linear):
    with pytest.raises(ValueError, match="needs a Keras model mapping "
                       "images to logits; received None"):
        AdversarialModel(None)
    model = AdversarialModel(linear, radius={"name": "adaptive"},
                             num_examples=4)
    model.compile(optimizer="sgd")
    images = np.random.rand(4, 4, 4, 1).astype("float32")
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"example indices must lie in \[0, "
                             r"num_examples ="):
        model.fit({"image": images, "index": np.array([0, 1, 2, 9])},
                  np.zeros(4), epochs=1, verbose=0)


def test_a_search_with_seed_0_is_reproducible(tmp_path):
    config = tiny({"tune.methods": ("madry", "trades"),
                   "tune.learning_rate": (1e-4, 1e-2), "tune.seed": 0})
    first = make_tuner(config, str(tmp_path / "a")).oracle
    second = make_tuner(config, str(tmp_path / "b")).oracle
    assert first.seed == second.seed == 0
    values = [oracle.create_trial("tuner0").hyperparameters.values
              for oracle in (first, second)]
    assert values[0] == values[1]


@pytest.mark.parametrize("kwargs, message", [
    ({"attack": {"eps": 8}}, r"attack.eps must be a number in \[0, 1\] "
     r"\(pixels are in \[0, 1\]\); received 8."),
    ({"attack": {"eps": 0.1, "steps": 0}},
     "attack.steps must be an integer >= 1; received 0."),
    ({"attack": {"eps": 0.1, "norm": "l3"}},
     r"attack.norm must be one of \('linf', 'l2'\); received 'l3'."),
    ({"val_attack": {"eps": 2.0}}, r"val_attack.eps must be a number in "
     r"\[0, 1\]"),
])
def test_adversarial_model_checks_its_attack_like_the_config(kwargs, message):
    # The same declarations check a config file and the Python API.
    net = build_model("small_cnn", (28, 28, 1), 10, width=2, dense_units=8)
    with pytest.raises(InputError, match=message):
        AdversarialModel(net, **kwargs)


@pytest.mark.parametrize("overrides, message", [
    ({"method.name": "trades", "method.beta": float("inf")},
     "method.beta must be a number >= 0"),
    ({"method.beta": float("nan")}, "method.beta must be a number >= 0"),
    ({"attack.start_radius": float("inf")}, "attack.start_radius must be"),
    ({"radius.policy": "sampled", "radius.strengths": (0.0, 2.0)},
     r"radius.strengths must be a tuple of numbers in \[0, 1\]"),
    ({"train.verbose": -1}, r"train.verbose must be one of \(0, 1, 2\)"),
    ({"model.masking.max_eps": -1.0}, "model.masking.max_eps must be a "
     "number >= 0"),
    ({"attack.step_size": 0.0}, r"attack.step_size must be a number in "
     r"\(0, 1\]; received 0.0"),
    ({"mix.enabled": True, "mix.top_k": 1000}, "mix.top_k must be at most "
     "the 10 classes of the data"),
    ({"method.name": "oat"}, "method.name='oat' tells the network each "
     "pass's strength: it needs a conditioned network"),
    ({"weighting.name": "gairat", "weighting.schedule": "piecewise",
      "weighting.lam_boundaries": (float("inf"),)},
     r"weighting.lam_boundaries must be a tuple of whole epochs; received "
     r"\(inf,\)"),
])
def test_nonsense_values_are_refused_by_their_declarations(overrides,
                                                           message):
    config = tiny(overrides)
    with pytest.raises(InputError, match=message):
        runs.check_config(config)
