"""`AdversarialModel`: adversarial training through `compile` and `fit`."""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf

from advmask_tf.attacks.losses import cross_entropy
from advmask_tf.attacks.pgd import PGDConfig, noise_keys_for
from advmask_tf.training.objectives import Objective, global_sum, make_objective


def split_inputs(features):
    """Returns (image, index) from a batch's features (dict or bare image)."""
    if isinstance(features, dict):
        if "image" not in features:
            raise ValueError(
                "Batch features must hold an 'image' entry; received keys "
                f"{sorted(features)}.")
        return features["image"], features.get("index")
    return features, None


def after(tensor):
    """Orders the ops built in this context after `tensor` (if not None).

    Two independent forward passes in one step (say, logging logits and the
    attack loop) may otherwise run at the same time; on a CPU their thread
    pools then fight and the step ran up to 40% slower (bench/throughput.py).
    """
    if tensor is None:
        return contextlib.nullcontext()
    return tf.control_dependencies([tensor])


def robust_mask(result, attack: PGDConfig):
    """1.0 where every PGD iterate and the final point are classified right.

    Any iterate is a point of the eps-ball, so a sample counts as broken as
    soon as one of them is misclassified (stronger than the last iterate).
    """
    survived = tf.logical_and(tf.equal(result.kappa, attack.steps),
                              tf.logical_not(result.success))
    return tf.cast(survived, tf.float32)


@keras.saving.register_keras_serializable(package="advmask_tf")
class AdversarialModel(keras.Model):
    """Wraps any Keras classifier (pixels in [0, 1] -> logits) for training.

    The training method is an objective (standard, Madry, TRADES) plus the
    PGD attack that feeds it. Each step: attack the batch (batch norm in
    inference mode by default), compute per-sample losses, weight them by the
    sample weights, and divide by the *global* batch size, so that under a
    distribution strategy the summed replica gradients are exactly the
    single-device gradient. Validation reports clean accuracy and PGD robust
    accuracy.

    Logged: `loss`, `clean_accuracy`, `adv_accuracy` (on the training batch;
    `clean_accuracy` is measured in inference mode for Madry, from the
    training-mode clean logits otherwise); `val_loss`, `val_clean_accuracy`,
    `val_robust_accuracy`.

    Args:
        network: a Keras model mapping images to logits.
        method: "standard", "madry" or "trades".
        attack: `PGDConfig` (or its dict) for training; the method sets its
            loss.
        val_attack: `PGDConfig` (or dict) for validation; defaults to PGD-10
            at the training eps with a uniform random start.
        beta: TRADES beta.
        track_clean_accuracy: for objectives without a clean training pass
            (Madry), spend one inference-mode forward pass per step on
            logging clean accuracy.

    Example:

    >>> from advmask_tf.models import build_model
    >>> net = build_model("small_cnn", (28, 28, 1), 10)
    >>> model = AdversarialModel(net, method="madry",
    ...                          attack={"eps": 0.1, "steps": 2})
    >>> model.compile(optimizer="adam")
    >>> x = tf.random.uniform((8, 28, 28, 1))
    >>> y = tf.zeros(8, tf.int64)
    >>> history = model.fit(x, y, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['adv_accuracy', 'clean_accuracy', 'loss']
    """

    def __init__(self, network: keras.Model, method: str = "madry",
                 attack=None, val_attack=None, beta: float = 6.0,
                 track_clean_accuracy: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.method = method
        self.beta = beta
        self.objective: Objective = make_objective(
            method, **({"beta": beta} if method == "trades" else {}))
        attack = attack if attack is not None else {"eps": 0.1}
        if isinstance(attack, dict):
            attack = dict(attack)
            if self.objective.attack_loss:
                attack["loss"] = self.objective.attack_loss
            if method == "trades":
                attack.setdefault("random_start", "normal")
            attack = PGDConfig(**attack)
        self.attack = attack
        if val_attack is None:
            val_attack = {"eps": attack.eps, "steps": 10}
        if isinstance(val_attack, dict):
            val_attack = PGDConfig(**val_attack)
        self.val_attack = val_attack
        self.track_clean_accuracy = track_clean_accuracy
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.clean_accuracy = keras.metrics.SparseCategoricalAccuracy(
            name="clean_accuracy")
        self.adv_accuracy = keras.metrics.SparseCategoricalAccuracy(
            name="adv_accuracy")
        self.robust_accuracy = keras.metrics.Mean(name="robust_accuracy")

    @property
    def metrics(self):
        return [self.loss_tracker, self.clean_accuracy, self.adv_accuracy,
                self.robust_accuracy]

    def call(self, inputs, training=False):
        image, _ = split_inputs(inputs)
        return self.network(image, training=training)

    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        """Like `keras.Model.compile`; the loss comes from the method."""
        if loss is not None or metrics is not None:
            raise ValueError(
                "AdversarialModel takes its loss and metrics from its method; "
                f"received loss={loss!r}, metrics={metrics!r}. Pass only the "
                "optimizer (and compile options such as steps_per_execution).")
        super().compile(optimizer=optimizer, **kwargs)

    def craft(self, image, label, index=None):
        """The training attack's x_adv for a batch (None for standard).

        With example indices, each sample's random start is keyed by (index,
        step), so it does not depend on how the batch is split over devices.
        """
        if self.objective.attack_loss is None:
            return None
        keys = None
        if index is not None:
            keys = noise_keys_for(index, self.optimizer.iterations + 1)
        return self.attack.run(self.network, image, label, noise_keys=keys,
                               compute_success=False).x_adv

    def train_step(self, data):
        features, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        image, index = split_inputs(features)
        y = tf.cast(y, tf.int32)
        inference_logits = None
        if self.track_clean_accuracy and not self.objective.has_clean_pass:
            inference_logits = self.network(image, training=False)
        with after(inference_logits):
            x_adv = self.craft(image, y, index)
        inputs = self.objective.passes(image, x_adv)
        with tf.GradientTape(persistent=len(inputs) > 1) as tape:
            logits = [self.network(x, training=True) for x in inputs]
            per_sample, clean_logits, adv_logits = self.objective.loss(
                logits, y)
            if sample_weight is not None:
                per_sample *= tf.cast(tf.reshape(sample_weight, [-1]),
                                      per_sample.dtype)
            n_global = global_sum(tf.cast(tf.shape(y)[0], per_sample.dtype))
            # This replica's share of the global mean: replica gradients sum.
            loss = tf.reduce_sum(per_sample) / n_global
            regularisation = tf.zeros([], loss.dtype)
            if self.network.losses:
                regularisation = tf.add_n(self.network.losses) / float(
                    tf.distribute.get_strategy().num_replicas_in_sync)
            total = loss + regularisation
        gradients = self._gradients(tape, total, loss, regularisation, logits)
        self.optimizer.apply_gradients(
            zip(gradients, self.network.trainable_variables))

        self.loss_tracker.update_state(global_sum(total))
        if clean_logits is None:
            clean_logits = inference_logits
        if clean_logits is not None:
            self.clean_accuracy.update_state(y, clean_logits)
        if adv_logits is not None:
            self.adv_accuracy.update_state(y, adv_logits)
        logged = ["loss"]
        if clean_logits is not None:
            logged.append("clean_accuracy")
        if adv_logits is not None:
            logged.append("adv_accuracy")
        return self._results(logged)

    def _gradients(self, tape, total, loss, regularisation, logits):
        """d(total)/d(weights), back-propagating one forward pass at a time.

        Under MirroredStrategy each replica builds its graph in its own
        thread and synchronised batch norm's gradient is a cross-replica
        barrier. With several passes a single `tape.gradient` may walk them
        in a different order on each replica and pair the wrong tensors;
        walking them one by one, in program order, cannot.
        """
        variables = self.network.trainable_variables
        if len(logits) == 1:
            return tape.gradient(total, variables)
        logit_grads = tape.gradient(loss, logits)
        gradients = [None] * len(variables)
        if self.network.losses:
            gradients = tape.gradient(regularisation, variables)
        for pass_logits, pass_grad in zip(logits, logit_grads):
            pass_grads = tape.gradient(pass_logits, variables,
                                       output_gradients=pass_grad)
            gradients = [p if g is None else g if p is None else g + p
                         for g, p in zip(gradients, pass_grads)]
        del tape
        return gradients

    def test_step(self, data):
        features, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        image, index = split_inputs(features)
        y = tf.cast(y, tf.int32)
        logits = self.network(image, training=False)
        self.loss_tracker.update_state(cross_entropy(logits, y))
        self.clean_accuracy.update_state(y, logits)
        keys = None if index is None else noise_keys_for(index, 0)
        with after(logits):
            attack = self.val_attack.run(self.network, image, y,
                                         noise_keys=keys)
        clean_correct = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), y)
        self.robust_accuracy.update_state(
            robust_mask(attack, self.val_attack)
            * tf.cast(clean_correct, tf.float32))
        return self._results(("loss", "clean_accuracy", "robust_accuracy"))

    def _results(self, names):
        by_name = {m.name: m for m in self.metrics}
        return {name: by_name[name].result() for name in names}

    def get_config(self):
        return {
            "network": keras.saving.serialize_keras_object(self.network),
            "method": self.method,
            "attack": dict(vars(self.attack)),
            "val_attack": dict(vars(self.val_attack)),
            "beta": self.beta,
            "track_clean_accuracy": self.track_clean_accuracy,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(
            config["network"])
        return cls(**config)
