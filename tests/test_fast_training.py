"""Fast robust training: single-step attacks, weight averaging and the
guard against catastrophic overfitting."""

import csv

import keras
import numpy as np
import pytest
from conftest import tiny

from advmask_tf import runs
from advmask_tf.data import build_data


@pytest.mark.slow
def test_weight_averaging_is_what_validation_selects_and_exports(tmp_path):
    histories = {}
    for momentum in (0.0, 0.8):
        config = tiny({"train.ema_momentum": momentum, "train.verbose": 0,
                       "data.train_limit": 700, "data.validation_size": 200})
        workdir = str(tmp_path / f"ema{momentum}")
        model, data = runs.train(config, workdir)
        wd = runs.WorkDir(workdir)
        with open(wd.history) as f:
            histories[momentum] = list(csv.DictReader(f))
    assert model.optimizer.use_ema
    # Averaging leaves training alone (the same trained weights, so the
    # same training metrics) but validation sees the averaged weights.
    for plain, averaged in zip(histories[0.0], histories[0.8]):
        assert plain["clean_accuracy"] == averaged["clean_accuracy"]
    assert any(p["val_clean_accuracy"] != a["val_clean_accuracy"]
               for p, a in zip(histories[0.0], histories[0.8]))
    # ...and what is exported is what validation measured.
    exported = keras.models.load_model(wd.last_model)
    validation = build_data(config.data, 100, int(config.seed)).validation
    correct = total = 0
    for features, labels in validation:
        predictions = np.argmax(exported(features["image"]), -1)
        correct += int(np.sum(predictions == labels.numpy()))
        total += len(labels)
    assert correct / total == pytest.approx(
        float(histories[0.8][-1]["val_clean_accuracy"]), abs=1e-6)


class Scramble(keras.callbacks.Callback):
    """A collapse on cue: flips the logits' sign after training step
    `at` (1-based), as catastrophic overfitting does to robustness."""

    def __init__(self, at):
        super().__init__()
        self.at, self.steps = at, 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps == self.at:
            kernel = self.model.network.get_layer("logits").kernel
            kernel.assign(-kernel)


def test_the_guard_restores_the_weights_before_a_collapse(
        trained_standard, fashion_slice, tmp_path, capsys):
    from advmask_tf.attacks import PGDConfig
    from advmask_tf.training import AdversarialModel
    from advmask_tf.training.guard import OverfittingGuard

    network = keras.models.clone_model(trained_standard)
    network.set_weights(trained_standard.get_weights())
    kernel = network.get_layer("logits").kernel.numpy()
    model = AdversarialModel(network, objective="standard")
    model.compile(optimizer=keras.optimizers.SGD(0.0))  # only the collapse
    x, y = fashion_slice(256)
    held_x, held_y = fashion_slice(200, offset=1000)
    guard = OverfittingGuard(held_x, held_y, PGDConfig(eps=0.01, steps=5),
                             drop=0.2, every_steps=2,
                             events_path=str(tmp_path / "guard.json"))
    model.fit(x, y, batch_size=32, epochs=1, verbose=0,
              callbacks=[Scramble(at=3), guard])
    out = capsys.readouterr().out
    assert "Catastrophic overfitting guard: PGD-5 robust accuracy" in out
    assert "restored the weights of epoch 1, step 2" in out
    assert len(guard.events) == 1 and guard.events[0]["at"] == \
        "epoch 1, step 4"
    assert guard.events[0]["best_robust_accuracy"] > \
        guard.events[0]["robust_accuracy"] + 0.2
    # The logits are unflipped, and robustness is back where it was.
    assert np.array_equal(kernel, network.get_layer("logits").kernel.numpy())
    assert guard.robust_accuracy() > guard.events[0]["robust_accuracy"] + 0.2
    assert runs.read_json(str(tmp_path / "guard.json"))["events"] == \
        guard.events


def test_a_run_with_the_guard_reports_its_checks(tmp_path):
    workdir = str(tmp_path / "run")
    runs.train(tiny({"guard.points": 100, "train.verbose": 0, "train.epochs":
                     1, "data.train_limit": 500}), workdir)
    with open(runs.WorkDir(workdir).history) as f:
        row = next(csv.DictReader(f))
    assert 0.0 <= float(row["guard_robust_accuracy"]) <= 1.0
    with pytest.raises(ValueError, match="guard.points=900 needs that many "
                       "held-out images; data.validation_size is 200"):
        runs.train(tiny({"guard.points": 900, "train.verbose": 0}),
                   str(tmp_path / "other"))


@pytest.mark.slow
def test_the_guard_catches_a_real_catastrophic_overfit(tmp_path, capsys):
    """FGSM without a random start at step 2 eps (eps 0.2) overfits
    catastrophically on Fashion-MNIST within three epochs of 10,000 images
    (measured with seed 0: PGD-10 robust accuracy on 500 held-out images
    0.39 early in epoch 2, 0.16 in epoch 3 while FGSM training accuracy
    rises); the guard stops it and keeps the weights from before."""
    config = tiny({
        "data.train_limit": 11000, "data.validation_size": 1000,
        "model.options.width": 16, "model.options.dense_units": 128,
        "attack.eps": 0.2, "attack.steps": 1, "attack.step_size": 0.4,
        "attack.random_start": "none", "val_attack.steps": 10,
        "train.epochs": 5, "train.batch_size": 128,
        "train.learning_rate": 0.003, "train.schedule": "constant",
        "train.verbose": 0, "guard.points": 500, "guard.every_steps": 20,
        "guard.action": "restore_and_stop"})
    workdir = str(tmp_path / "run")
    runs.train(config, workdir)
    assert "Catastrophic overfitting guard" in capsys.readouterr().out
    events = runs.read_json(runs.WorkDir(workdir).guard_events)["events"]
    assert len(events) == 1 and events[0]["stopped"]
    assert events[0]["best_robust_accuracy"] > 0.3
    assert events[0]["robust_accuracy"] < events[0][
        "best_robust_accuracy"] - 0.2
    facts = runs.workdir.run_facts(config, runs.WorkDir(workdir))
    assert facts["guard_restores"] == 1


def test_free_training_replays_each_batch_and_moves_the_perturbation(
        fashion_slice):
    from advmask_tf.models import build_model
    from advmask_tf.training import AdversarialModel

    x, y = fashion_slice(64)
    keras.utils.set_random_seed(0)
    net = build_model("small_cnn", (28, 28, 1), 10, width=4, dense_units=16)
    # Learning rate 0: the weights stay, so each replay's loss differs from
    # the last only through the perturbation, which ascends the loss.
    model = AdversarialModel(net, attack={"eps": 0.1, "step_size": 0.1},
                             free_replays=3, track_clean_accuracy=False)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    losses = []

    class PerReplay(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            losses.append(float(logs["loss"]))

    model.fit(x, y, batch_size=64, epochs=1, verbose=0,
              callbacks=[PerReplay()])
    assert int(model.optimizer.iterations) == 3  # one update per replay
    replay_model = AdversarialModel(net, attack={"eps": 0.1, "step_size":
                                                 0.1},
                                    free_replays=1,
                                    track_clean_accuracy=False)
    replay_model.compile(optimizer=keras.optimizers.SGD(0.0))
    one = replay_model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    # The mean over three replays exceeds the first replay's loss.
    assert losses[0] > one.history["loss"][0] + 1e-3


@pytest.mark.slow
def test_free_training_combines_with_two_pass_objectives(fashion_slice):
    """TRADES and mixed run two passes per replay; the perturbation's
    gradient comes from the same backward pass as the weights'."""
    from advmask_tf.models import build_model
    from advmask_tf.training import AdversarialModel

    x, y = fashion_slice(32)
    for objective in ({"name": "trades", "beta": 6.0}, "mixed"):
        keras.utils.set_random_seed(0)
        net = build_model("small_cnn", (28, 28, 1), 10, width=4,
                          dense_units=8)
        start = [w.numpy() for w in net.trainable_weights]
        model = AdversarialModel(net, objective=objective,
                                 attack={"eps": 0.1, "step_size": 0.1},
                                 free_replays=2)
        model.compile(optimizer="adam")
        logs = model.fit(x, y, batch_size=32, epochs=1, verbose=0).history
        assert int(model.optimizer.iterations) == 2
        assert np.isfinite(logs["loss"][0]) and "adv_accuracy" in logs
        assert any(not np.allclose(w.numpy(), s)
                   for w, s in zip(net.trainable_weights, start))


@pytest.mark.parametrize("overrides, field", [
    ({"train.free_replays": 2, "method.name": "standard"}, "method.name"),
    ({"train.free_replays": 2, "weighting.name": "gairat"},
     "weighting.name"),
    ({"train.free_replays": 2, "radius.policy": "adaptive"},
     "radius.policy"),
    ({"train.free_replays": -1}, "train.free_replays"),
])
def test_free_training_refuses_parts_it_cannot_feed(overrides, field):
    with pytest.raises(ValueError, match=field):
        runs.check_config(tiny(overrides))


def test_free_training_learns_robustness_on_real_images(fashion_slice):
    """Free-4 for one epoch over 2,000 images resists PGD-10 at eps 0.1 far
    better than the same network trained cleanly."""
    from advmask_tf.attacks import PGDConfig
    from advmask_tf.models import build_model
    from advmask_tf.training import AdversarialModel

    x, y = fashion_slice(2000)
    test_x, test_y = fashion_slice(500, split="test")
    attack = PGDConfig(eps=0.1, steps=10, step_size=0.025)
    robust = {}
    for name, replays in (("free", 4), ("standard", 0)):
        keras.utils.set_random_seed(0)
        net = build_model("small_cnn", (28, 28, 1), 10, mean=[0.286],
                          std=[0.353])
        model = AdversarialModel(
            net, objective="madry" if replays else "standard",
            attack={"eps": 0.1, "step_size": 0.1}, free_replays=replays)
        model.compile(optimizer="adam")
        model.fit(x, y, batch_size=50, epochs=1, verbose=0)
        fooled = attack.fooled(net, test_x, test_y)
        correct = np.argmax(net(test_x), -1) == test_y
        robust[name] = float(np.mean(correct & ~fooled.numpy()))
    assert robust["free"] > 0.35
    assert robust["free"] > robust["standard"] + 0.25
