"""Adding a part is one class plus its registration: a toy objective and a
toy attack, registered here only, train and evaluate through the public API
and through a config run (what advmask-train does)."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny

from advmask_tf import runs
from advmask_tf.attacks import ATTACKS, build_attacks
from advmask_tf.configs_lib import base_config
from advmask_tf.errors import InputError
from advmask_tf.evaluation import evaluate
from advmask_tf.evaluation.checks import white_box_masks
from advmask_tf.models import build_model
from advmask_tf.options import number, option
from advmask_tf.training import OBJECTIVES, AdversarialModel
from advmask_tf.training.objectives import BaseObjective, cross_entropy


class CleanShareObjective(BaseObjective):
    """clean_share x CE(x) + (1 - clean_share) x CE(x_adv), attacked on
    the CW margin from the clean image (no random start)."""

    name = "toy_clean_share"
    attack_loss = "cw"
    random_start = "none"
    has_clean_pass = True

    @dataclasses.dataclass(frozen=True)
    class Options:
        clean_share: float = option(0.5, "toy: the clean CE's share",
                                    number(0, 1))

    def passes(self, facts, x_adv, eps):
        zeros = tf.zeros(tf.shape(facts.image)[:1])
        return [(facts.image, zeros), (x_adv, zeros + tf.cast(eps, tf.float32))]

    def loss(self, logits, facts):
        clean, adv = logits
        per_sample = (self.clean_share * cross_entropy(clean, facts.label)
                      + (1.0 - self.clean_share)
                      * cross_entropy(adv, facts.label))
        return per_sample, clean, adv

    def get_config(self):
        return {"name": self.name, "clean_weight": self.clean_weight}


class CornerAttack:
    """A black-box toy: the image moved to one random corner of the ball."""

    uses_gradients = False

    def __init__(self, eps):
        self.eps = eps

    def fooled(self, model, x, y, eps=None, noise_keys=None, seed=None):
        eps = self.eps if eps is None else eps
        signs = tf.sign(tf.random.stateless_uniform(tf.shape(x), (7, 7),
                                                    -1.0, 1.0))
        x_adv = tf.clip_by_value(x + eps * signs, 0.0, 1.0)
        prediction = tf.argmax(model(x_adv, training=False), -1,
                               output_type=tf.int32)
        return tf.not_equal(prediction, tf.cast(y, tf.int32))


@pytest.fixture
def toy_parts():
    OBJECTIVES.register("toy_clean_share", CleanShareObjective)
    ATTACKS.register("toy_corner", lambda eps, budgets: CornerAttack(eps))
    yield
    OBJECTIVES.unregister("toy_clean_share")
    ATTACKS.unregister("toy_corner")


def test_a_registered_objective_and_attack_work_through_the_api(
        toy_parts, fashion_mnist):
    x = fashion_mnist.x_train[:600].astype(np.float32) / 255.0
    y = fashion_mnist.y_train[:600]
    keras.utils.set_random_seed(0)
    net = build_model("small_cnn", (28, 28, 1), 10, width=4, dense_units=16)
    model = AdversarialModel(
        net, objective={"name": "toy_clean_share", "clean_share": 0.25},
        attack={"eps": 0.1, "steps": 2})
    # The objective's attack loss and random start reach the attack.
    assert (model.attack.loss, model.attack.random_start) == ("cw", "none")
    assert model.objective.clean_share == 0.25
    model.compile(optimizer="adam")
    history = model.fit(x, y, batch_size=100, epochs=2, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert set(history.history) == {"loss", "clean_accuracy", "adv_accuracy"}

    test = tf.data.Dataset.from_tensor_slices(
        (fashion_mnist.x_test[:200].astype(np.float32) / 255.0,
         fashion_mnist.y_test[:200])).batch(100)
    attacks = build_attacks("toy_corner,pgd", 0.1)
    points = {}
    report = evaluate(net, test, attacks, points=points)
    # The sanity checks compare Square with the gradient attacks only.
    assert set(white_box_masks(points, attacks)) == {"pgd20"}
    assert report["toy_corner"]["correct"] <= report["clean"]["correct"]
    assert report["worst_case"]["correct"] <= report["toy_corner"]["correct"]
    assert report["attacks"]["toy_corner"]["kind"] == "CornerAttack"


def test_a_registered_objective_and_attack_run_from_a_config(toy_parts,
                                                             tmp_path):
    # The option the objective declares is a config field while it is
    # registered, with its declared default.
    assert base_config().method.clean_share == 0.5
    config = tiny({"method.name": "toy_clean_share",
                   "method.clean_share": 0.75,
                   "eval.attacks": "pgd,toy_corner", "train.epochs": 1})
    runs.check_config(config)
    report, finished_earlier = runs.train_or_report(config, str(tmp_path))
    assert not finished_earlier
    stored = runs.load_config(runs.WorkDir(str(tmp_path)))
    assert stored.method.name == "toy_clean_share"
    assert stored.attack.random_start == "none"  # "auto" -> the objective's
    assert {"clean", "pgd3", "toy_corner", "worst_case"} <= set(report)
    assert "black_box" in report["checks"]
    assert report["worst_case"]["correct"] <= report["toy_corner"]["correct"]

    assert runs.objective_spec(config) == {"name": "toy_clean_share",
                                           "clean_share": 0.75}
    config.method.clean_share = 2.0
    with pytest.raises(InputError, match=r"method.clean_share must be a "
                       r"number in \[0, 1\]; received 2.0"):
        runs.check_config(config)
