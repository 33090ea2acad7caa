import keras
import numpy as np
import pytest
import tensorflow as tf

from advmask_tf.attacks import PGDConfig
from advmask_tf.evaluation import evaluate
from advmask_tf.models import build_model
from advmask_tf.training import AdversarialModel


def _real_data(fashion_mnist, n, offset=0):
    x = fashion_mnist.x_train[offset:offset + n].astype(np.float32) / 255.0
    return x, fashion_mnist.y_train[offset:offset + n]


def _train(method, x, y, epochs, seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    net = build_model("small_cnn", (28, 28, 1), 10, mean=[0.286], std=[0.353])
    model = AdversarialModel(net, objective=method,
                             attack={"eps": 0.1, "steps": 5,
                                     "step_size": 0.03}, **kwargs)
    model.compile(optimizer="adam")
    history = model.fit(x, y, batch_size=100, epochs=epochs, verbose=0)
    return net, history


def test_madry_training_raises_robust_accuracy_on_real_data(
        fashion_mnist, trained_standard):
    x, y = _real_data(fashion_mnist, 3000)
    test = tf.data.Dataset.from_tensor_slices(
        (fashion_mnist.x_test[:500].astype(np.float32) / 255.0,
         fashion_mnist.y_test[:500])).batch(500)
    madry, history = _train("madry", x, y, epochs=3)
    pgd20 = {"pgd20": PGDConfig(eps=0.1, steps=20)}
    s = evaluate(trained_standard, test, pgd20)  # standard training
    m = evaluate(madry, test, pgd20)
    assert s["clean"]["accuracy"] > 0.7 and m["clean"]["accuracy"] > 0.6
    assert m["pgd20"]["accuracy"] > s["pgd20"]["accuracy"] + 0.25, (s, m)
    assert m["pgd20"]["accuracy"] > 0.4
    # the training loss fell and adversarial accuracy on batches rose
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert (history.history["adv_accuracy"][-1]
            > history.history["adv_accuracy"][0])


def test_trades_trains_and_logs_its_metrics(fashion_mnist):
    x, y = _real_data(fashion_mnist, 600)
    _, history = _train({"name": "trades", "beta": 6.0}, x, y, epochs=2)
    assert set(history.history) == {"loss", "clean_accuracy", "adv_accuracy"}
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_validation_reports_clean_and_robust_accuracy(fashion_mnist):
    x, y = _real_data(fashion_mnist, 400)
    vx, vy = _real_data(fashion_mnist, 200, offset=1000)
    keras.utils.set_random_seed(0)
    net = build_model("small_cnn", (28, 28, 1), 10, width=4, dense_units=8)
    model = AdversarialModel(net, objective="standard",
                             val_attack={"eps": 0.3, "steps": 5})
    model.compile(optimizer="adam")
    history = model.fit(x, y, validation_data=(vx, vy), batch_size=100,
                        epochs=1, verbose=0)
    assert {"val_loss", "val_clean_accuracy",
            "val_robust_accuracy"} <= set(history.history)
    assert (history.history["val_robust_accuracy"][0]
            <= history.history["val_clean_accuracy"][0])
    direct = evaluate(net, tf.data.Dataset.from_tensor_slices(
        (vx, vy)).batch(100), attacks={})
    assert history.history["val_clean_accuracy"][0] == pytest.approx(
        direct["clean"]["accuracy"], abs=1e-6)


def _one_step(method, sample_weight=None, x=None, y=None):
    keras.utils.set_random_seed(1)
    net = build_model("small_cnn", (28, 28, 1), 10, width=4, dense_units=8,
                      norm="none")
    model = AdversarialModel(net, objective=method,
                             attack={"eps": 0.1, "steps": 2,
                                     "random_start": "none"})
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.fit(x, y, sample_weight=sample_weight, batch_size=len(y),
              epochs=1, verbose=0, shuffle=False)
    return [w.numpy() for w in net.trainable_weights]


def test_sample_weights_are_honoured():
    rng = np.random.RandomState(0)
    x = rng.rand(8, 28, 28, 1).astype(np.float32)
    y = rng.randint(0, 10, 8)
    initial = _one_step("madry", np.zeros(8), x, y)
    keras.utils.set_random_seed(1)
    untouched = build_model("small_cnn", (28, 28, 1), 10, width=4,
                            dense_units=8, norm="none")
    for a, b in zip(initial, untouched.trainable_weights):
        np.testing.assert_allclose(a, b.numpy())  # weight 0: no update
    unweighted = _one_step("madry", None, x, y)
    ones = _one_step("madry", np.ones(8), x, y)
    doubled = _one_step("madry", np.full(8, 2.0), x, y)
    for a, b in zip(unweighted, ones):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # weights 2 with lr 0.1 equal weights 1 with lr 0.2: the step doubles
    moved_once = [o - i for o, i in zip(ones, initial)]
    for i, step, d in zip(initial, moved_once, doubled):
        np.testing.assert_allclose(d, i + 2 * step, atol=1e-5)


def test_compile_rejects_a_loss():
    net = build_model("small_cnn", (28, 28, 1), 10, width=4, dense_units=8)
    with pytest.raises(ValueError, match="loss='mse'"):
        AdversarialModel(net).compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="Unknown method.name 'free_at'"):
        AdversarialModel(net, objective="free_at")
    with pytest.raises(ValueError, match="method.beta must be a number >= 0"):
        AdversarialModel(net, objective={"name": "trades", "beta": -1.0})


def test_adversarial_model_config_round_trip(tmp_path):
    net = build_model("small_cnn", (28, 28, 1), 10, width=4, dense_units=8)
    model = AdversarialModel(net, objective={"name": "trades", "beta": 2.0},
                             attack={"eps": 0.2, "steps": 3})
    clone = AdversarialModel.from_config(model.get_config())
    assert clone.objective.get_config() == {"name": "trades", "beta": 2.0}
    assert clone.attack.random_start == "normal"  # the objective's start
    # A config saved before parts became specs still loads.
    old = model.get_config()
    old.update(method="trades", beta=2.0, clean_weight=1.0, adv_weight=1.0,
               radius={"policy": "fixed"})
    del old["objective"]
    upgraded = AdversarialModel.from_config(old)
    assert upgraded.objective.get_config() == {"name": "trades", "beta": 2.0}
    assert upgraded.radius.name == "fixed"
    assert clone.attack == model.attack and clone.attack.loss == "kl"
    assert clone.val_attack.eps == 0.2
    x = np.random.rand(2, 28, 28, 1).astype(np.float32)
    model(x)
    path = str(tmp_path / "wrapped.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-5)


@pytest.mark.parametrize("norm", ["batchnorm", "split_batchnorm"])
def test_export_serves_the_network(norm, tmp_path):
    net = _net(norm, {"route_boundaries": (0.0,)}
               if norm == "split_batchnorm" else None)
    model = AdversarialModel(net, attack={"eps": 0.1, "steps": 2})
    model.export(str(tmp_path / "served"), verbose=0)
    served = tf.saved_model.load(str(tmp_path / "served"))
    x = np.random.RandomState(0).rand(3, 28, 28, 1).astype(np.float32)
    inputs = x if norm == "batchnorm" else {
        "image": x, "eps": np.array([0.0, 0.05, 0.1], np.float32)}
    np.testing.assert_allclose(served.serve(inputs), net(inputs), atol=1e-5)


STRENGTHS = (0.0, 0.05, 0.1)
# (method, AdversarialModel arguments, norm, norm_options, epochs)
METHODS = [
    # Every part alone on two replicas, one epoch without validation:
    # tests/test_conformance.py. Here: 2 epochs with validation.
    pytest.param({"name": "trades", "beta": 3.0}, {}, "sync_batchnorm", None,
                 2, marks=pytest.mark.slow),
    # AWP: the weight perturbation's gradient is summed over replicas (one
    # epoch with validation in the default suite, for its time).
    ({"name": "trades", "beta": 3.0}, {"weight_perturbation": 0.01},
     "sync_batchnorm", None, 1),
    # The conditioned norms over 2 epochs with validation: slow, and the
    # one-epoch preset tests (tests/test_distribute.py) cover their weights.
    pytest.param("mixed", {"radius": {"name": "sampled",
                                      "strengths": STRENGTHS}},
                 "masking", {"strengths": STRENGTHS, "encoding_dim": 4}, 2,
                 marks=pytest.mark.slow),
    pytest.param("mixed", {}, "split_batchnorm", {"route_boundaries": (0.0,)},
                 2, marks=pytest.mark.slow),
]


def _net(norm, norm_options):
    return build_model("small_cnn", (28, 28, 1), 10, width=4, dense_units=16,
                       norm=norm, norm_options=norm_options)


@pytest.mark.parametrize("method, kwargs, norm, norm_options, epochs",
                         METHODS)
def test_two_replicas_match_one_device(method, kwargs, norm, norm_options,
                                       epochs, fashion_slice, float64,
                                       replica_pair):
    x, y = fashion_slice(128, dtype=np.float64)
    keras.utils.set_random_seed(0)
    initial = _net(norm, norm_options).get_weights()

    def build():
        return AdversarialModel(
            _net(norm, norm_options), objective=method,
            attack={"eps": 0.1, "steps": 3},
            val_attack={"eps": 0.1, "steps": 3}, num_examples=len(y),
            **kwargs)

    (one, one_logs), (two, two_logs) = replica_pair(
        build, initial, x, y, epochs=epochs, validation=True)
    one_weights = [w.numpy() for w in one.network.weights]
    assert one_weights[0].dtype == np.float64
    for a, b in zip(one_weights, two.network.weights):  # and moving stats
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-7, atol=1e-9)
    assert set(one_logs) == set(two_logs)
    for key in one_logs:
        np.testing.assert_allclose(one_logs[key], two_logs[key], rtol=1e-7,
                                   atol=1e-9, err_msg=key)


def _one_fit(x, labels):
    keras.utils.set_random_seed(2)
    net = build_model("small_cnn", (28, 28, 1), 10, width=4, dense_units=8)
    model = AdversarialModel(net, attack={"eps": 0.1, "steps": 2})
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.fit(x, labels, batch_size=32, epochs=1, verbose=0, shuffle=False)
    return model


def test_one_hot_labels_train_like_integer_labels(fashion_slice):
    x, y = fashion_slice(64)
    by_index = _one_fit(x, y).network.get_weights()
    one_hot = _one_fit(x, keras.utils.to_categorical(y, 10))
    for a, b in zip(by_index, one_hot.network.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_inputs_keras_users_get_wrong_fail_naming_what_was_seen(
        fashion_slice):
    x, y = fashion_slice(64)
    with pytest.raises(ValueError, match=r"fit takes pixels in \[0, 1\]"):
        _one_fit(x * 255.0, y)  # more: tests/test_silent_errors.py
    probabilities = keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax")])
    with pytest.raises(ValueError, match="ends in a softmax"):
        AdversarialModel(probabilities)
    conditioned = AdversarialModel(_net("split_batchnorm",
                                        {"route_boundaries": (0.0,)}))
    with pytest.raises(ValueError, match=r"is conditioned.*\{'image', "
                                         r"'eps'\}.*received a tensor"):
        conditioned(x[:2])
