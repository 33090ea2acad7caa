"""`AdversarialModel`: adversarial training through `compile` and `fit`."""

from __future__ import annotations

import keras
import tensorflow as tf

from advmask_tf.attacks.pgd import PGDConfig, noise_keys_for, robust_mask
from advmask_tf.data.pipeline import split_inputs
from advmask_tf.data.validation import check_logit_outputs, check_pixels
from advmask_tf.errors import InputError
from advmask_tf.models.conditioning import (
    at_strength,
    is_conditioned,
    logits_at,
)
from advmask_tf.training.attack_settings import checked_attack
from advmask_tf.training.awp import make_weight_perturbation
from advmask_tf.training.epochs import EpochCounter
from advmask_tf.training.free import check_free_replays, train_on_replays
from advmask_tf.training.guided import guide_network
from advmask_tf.training.inputs import (
    check_logits,
    checked_index,
    checked_pixels,
    class_labels,
    first_images,
)
from advmask_tf.training.interfaces import StepFacts, StepLoss
from advmask_tf.training.objectives import (
    global_sum,
    make_objective,
    training_attack,
)
from advmask_tf.training.ordering import after
from advmask_tf.training.radius import RADIUS_POLICIES, make_radius_policy
from advmask_tf.training.rescaling import TRAINABLE, rescaling_variables
from advmask_tf.training.saving import AtomicSaving, upgraded_config
from advmask_tf.training.strategy_build import BuildsWithoutBatch
from advmask_tf.training.weighting import WEIGHTINGS, make_weighting


@keras.saving.register_keras_serializable(package="advmask_tf")
class AdversarialModel(AtomicSaving, BuildsWithoutBatch, keras.Model):
    """Wraps any Keras classifier (pixels in [0, 1] -> logits) for training.

    A training method is a choice of parts, each given as a spec (a name
    plus its options, built through its registry): an objective (standard,
    Madry, TRADES, IAAT, mixed), the PGD attack that feeds it, a radius
    policy (fixed, IAAT's adaptive radius per example, RobMask's sampled
    strengths) and an instance weighting (uniform, or GAIRAT's). Each
    step: attack the batch at the policy's radii (batch norm in inference
    mode by default), compute per-sample losses, weight
    them by the instance weights and the sample weights, and divide by the
    *global* batch size, so that under a distribution strategy the summed
    replica gradients are exactly the single-device gradient. Validation
    reports clean accuracy and PGD robust accuracy at the attack's eps.

    A conditioned network (one taking {"image", "eps"}, such as a zoo model
    with a `split_batchnorm` or `masking` norm) is told each pass's strength:
    0 for clean images, each sample's radius for x_adv (also while it is
    attacked); validation tells it 0 for clean accuracy and the validation
    eps under attack.

    Parts with per-example state (adaptive radius, GAIRAT's weight table)
    need `num_examples` and batches whose features carry the example index.
    Their epoch-dependent behaviour reads `model.epoch`, which `fit` keeps
    (custom loops assign it themselves).

    Logged: `loss` (the method's loss), `clean_accuracy`, `adv_accuracy`
    (on the training batch; `clean_accuracy` is measured in inference mode
    for Madry, from the training-mode clean logits otherwise); `val_loss`,
    `val_clean_accuracy`, `val_robust_accuracy`. `val_loss` is the method's
    loss too, on validation data in inference mode, its adversarial points
    from the validation attack: callbacks that monitor it (EarlyStopping,
    ReduceLROnPlateau) follow what training minimises. To select on
    robustness itself, monitor `val_robust_accuracy` (mode "max"), as
    advmask-train does. `evaluate()` returns `loss`, `clean_accuracy` and
    `robust_accuracy`, the names `metrics_names` gives, in that order.

    Args:
        network: a Keras model mapping images to logits.
        objective: the loss the weights see, as a spec: a name ("standard",
            "madry", "trades", "iaat", "mixed", or any registered in
            `OBJECTIVES`) or {"name": ..., options}, e.g.
            {"name": "trades", "beta": 6.0}.
        attack: `PGDConfig` (or its dict) for training; the objective sets
            its loss, and its random start unless the dict names one
            ("auto" also leaves it to the objective).
        val_attack: `PGDConfig` (or dict) for validation; defaults to PGD-10
            at the training eps with a uniform random start.
        radius: the radius policy's spec: None (fixed), a name, or e.g.
            {"name": "adaptive", "rule": "paper", "gamma": 0.024}.
        weighting: the instance weighting's spec: None (uniform), a name,
            or e.g. {"name": "gairat", "lam": -1.0, "burn_in_epochs": 2}.
        num_examples: number of training examples (size of per-example
            tables), needed by the adaptive radius and GAIRAT.
        track_clean_accuracy: for objectives without a clean training pass
            (Madry), spend one inference-mode forward pass per step on
            logging clean accuracy.
        trainable: "all", or "rescaling": train only batch norm's gamma and
            beta, with batch norm on its moving statistics (the RobMask
            paper's analysis; `advmask_tf.training.rescaling`).
        free_replays: m > 0 trains by Free adversarial training: each batch
            is replayed m times, the perturbation moved by the same
            backward pass as the weights (`advmask_tf.training.free`);
            the attack's steps are then unused.
        weight_perturbation: AWP (`advmask_tf.training.awp`): a gamma such
            as 5e-3, or {"gamma": ..., "warmup_epochs": ...}; None or 0:
            off.
        guide: the second network of a guided objective
            (`advmask_tf.training.guided`), images -> logits of the same
            classes: LBGAT's, trained jointly (default: a fresh copy of
            `network`'s architecture); HAT's helper, a trained standard
            classifier (required; frozen). Saved and restored with the
            model's weights; `model.network` stays the robust network.

    Example:

    >>> from advmask_tf.models import build_model
    >>> net = build_model("small_cnn", (28, 28, 1), 10)
    >>> model = AdversarialModel(net, objective="madry",
    ...                          attack={"eps": 0.1, "steps": 2})
    >>> model.compile(optimizer="adam")
    >>> x = tf.random.uniform((8, 28, 28, 1))
    >>> y = tf.zeros(8, tf.int64)
    >>> history = model.fit(x, y, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['adv_accuracy', 'clean_accuracy', 'loss']
    """

    def __init__(self, network: keras.Model, objective="madry", attack=None,
                 val_attack=None, radius=None, weighting=None,
                 num_examples: int | None = None,
                 track_clean_accuracy: bool = True, trainable: str = "all",
                 free_replays: int = 0, weight_perturbation=None, guide=None,
                 **kwargs):
        super().__init__(**kwargs)
        check_logits(network)
        self.network = network
        self.objective = make_objective(objective)
        self.guide = guide_network(self.objective, network, guide)
        if self.guide is not None and trainable != "all":
            raise InputError(
                f"method.name={self.objective.name!r} trains with a guide "
                "network; it needs train.trainable='all', received "
                f"{trainable!r}.")
        self.conditioned = is_conditioned(network)
        if self.objective.needs_told_network and not self.conditioned:
            raise InputError(
                f"objective {self.objective.name!r} tells the network each "
                "pass's strength: give a conditioned network (a zoo model "
                f"with norm='masking' or 'split_batchnorm'); {network.name!r} "
                "takes images alone.")
        if trainable not in TRAINABLE:
            raise InputError(f"train.trainable must be one of {TRAINABLE}; "
                             f"received {trainable!r}.")
        self.trainable_part = trainable
        if trainable == "rescaling":
            rescaling_variables(network)  # fails early without batch norm
        self.attack = training_attack(attack, self.objective)
        if val_attack is None:
            val_attack = {"eps": self.attack.eps, "steps": 10}
        if isinstance(val_attack, dict):
            val_attack = PGDConfig(**checked_attack("val_attack", val_attack))
        self.val_attack = val_attack
        self.track_clean_accuracy = track_clean_accuracy
        self.radius = make_radius_policy(radius)
        self.weighting = make_weighting(weighting)
        if self.objective.attack_loss is None and not (
                RADIUS_POLICIES.is_default(self.radius)
                and WEIGHTINGS.is_default(self.weighting)):
            raise InputError(
                f"method.name={self.objective.name!r} runs no attack, so it "
                f"takes neither an adaptive radius nor instance weights; "
                f"received radius={self.radius.get_config()}, weighting="
                f"{self.weighting.get_config()}.")
        self.free_replays = check_free_replays(
            free_replays, self.objective, self.radius, self.weighting)
        self.weight_perturbation = make_weight_perturbation(
            weight_perturbation, self.free_replays, trainable)
        self.num_examples = num_examples
        self.radius.build(self, num_examples)
        self.weighting.build(self, num_examples)
        self.epoch = self.add_weight(
            name="epoch", shape=(), dtype="int32", initializer="zeros",
            trainable=False, aggregation="only_first_replica")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.clean_accuracy = keras.metrics.SparseCategoricalAccuracy(
            name="clean_accuracy")
        self.adv_accuracy = keras.metrics.SparseCategoricalAccuracy(
            name="adv_accuracy")
        self.robust_accuracy = keras.metrics.Mean(name="robust_accuracy")
        # A built network needs no symbolic build from `fit`'s first batch,
        # which would call a conditioned network without its "eps" input.
        self.built = self.network.built and (
            self.guide is None or self.guide.built)

    @property
    def metrics(self):
        return [self.loss_tracker, self.clean_accuracy, self.adv_accuracy,
                self.robust_accuracy]

    def call(self, inputs, training=False):
        image, _ = split_inputs(inputs)
        if self.conditioned:
            if not isinstance(inputs, dict) or "eps" not in inputs:
                received = (f"keys {sorted(inputs)}" if isinstance(
                    inputs, dict) else "a tensor of images")
                raise InputError(
                    f"network {self.network.name!r} is conditioned: call it "
                    "with {'image', 'eps'} (eps per sample, 0 for clean); "
                    f"received {received}.")
            return logits_at(self.network, image, inputs["eps"], training)
        return self.network(image, training=training)

    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        """Like `keras.Model.compile`; the loss comes from the method."""
        if loss is not None or metrics is not None:
            raise InputError(
                "AdversarialModel takes its loss and metrics from its method; "
                f"received loss={loss!r}, metrics={metrics!r}. Pass only the "
                "optimizer (and compile options such as steps_per_execution).")
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        """Re-compiles a loaded `.keras` model (optimizer and its state)."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def export(self, filepath, format="tf_saved_model", verbose=None,
               **kwargs):
        """Exports the trained network for serving: a SavedModel whose
        `serve` maps images to logits (a conditioned network: {"image",
        "eps"} to logits). See `keras.Model.export`."""
        return self.network.export(filepath, format=format, verbose=verbose,
                                   **kwargs)

    def fit(self, x=None, *args, callbacks=None, **kwargs):
        """`keras.Model.fit`, with an `EpochCounter` added to the callbacks,
        after a check of the first data it can read: pixels in [0, 1] and
        a network that outputs logits (the train step checks every batch's
        pixels too, except under XLA, which drops assertions)."""
        images = first_images(x)
        if images is not None:
            check_pixels(images, "fit")
            check_logit_outputs(
                logits_at(self.network, tf.convert_to_tensor(images[:16]),
                          0.0), f"network {self.network.name!r}")
        callbacks = list(callbacks or [])
        if not any(isinstance(c, EpochCounter) for c in callbacks):
            callbacks.append(EpochCounter())
        return super().fit(x, *args, callbacks=callbacks, **kwargs)

    def step_facts(self, image, label, index=None, clean_correct=None
                   ) -> StepFacts:
        """The `StepFacts` of a training batch. With example indices, each
        sample's noise is keyed by (index, step), so it does not depend on
        how the batch is split over devices."""
        keys = None
        if index is not None:
            index = checked_index(index, self.num_examples)
            keys = noise_keys_for(index, self.optimizer.iterations + 1)
        facts = StepFacts(image=image, label=label, index=index,
                          noise_keys=keys, clean_correct=clean_correct,
                          epoch=tf.convert_to_tensor(self.epoch))
        return self.objective.prepare(facts)

    def craft(self, facts: StepFacts):
        """The training attack's result for a batch (None for objectives
        that run no attack). The radius policy picks each sample's eps (and
        updates its state)."""
        if self.objective.attack_loss is None:
            return None
        def network_at(eps):
            return self.network_at(self.objective.told(facts, eps))

        return self.radius.craft(self.attack, network_at, facts)

    def network_at(self, eps):
        """The network as image -> logits at strength eps."""
        return at_strength(self.network, eps)

    def _needs_inference_logits(self):
        return (self.objective.needs_clean_prediction
                or self.radius.needs_clean_prediction
                or (self.track_clean_accuracy
                    and not self.objective.has_clean_pass))

    def train_step(self, data):
        features, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        image, index = split_inputs(features)
        image, y = checked_pixels(image), class_labels(y)
        inference_logits = clean_correct = None
        if self._needs_inference_logits():
            inference_logits = logits_at(self.network, image, 0.0)
            clean_correct = tf.equal(
                tf.argmax(inference_logits, -1, output_type=tf.int32), y)
        facts = self.step_facts(image, y, index, clean_correct)
        if self.free_replays:
            with after(inference_logits):
                step_loss = train_on_replays(self, facts, sample_weight,
                                             inference_logits)
            return self._results(step_loss.logged)
        with after(inference_logits):
            attack = self.craft(facts)
        x_adv = eps = instance_weights = None
        if attack is not None:
            x_adv, eps = attack.x_adv, attack.eps
            instance_weights = self.weighting.weights(
                attack.kappa, self.attack.steps, facts)
        inputs = self.objective.passes(facts, x_adv, eps)
        perturbation = None
        if self.weight_perturbation is not None:
            perturbation = self.weight_perturbation.perturb(
                self, inputs, facts, sample_weight, instance_weights)
        with tf.GradientTape(persistent=len(inputs) > 1) as tape:
            step_loss = self.training_loss(inputs, facts, sample_weight,
                                           instance_weights)
        self.apply_step(tape, step_loss, y, inference_logits,
                        restore=perturbation)
        return self._results(step_loss.logged)

    def training_loss(self, inputs, facts: StepFacts, sample_weight=None,
                      instance_weights=None) -> StepLoss:
        """The objective's loss on the training-mode passes `inputs`
        ([(image, strength)]), weighted and divided by the global batch
        size. Call it inside the step's gradient tape."""
        logits = [self.pass_logits(p, training=self.trainable_part == "all")
                  for p in inputs]
        per_sample, clean_logits, adv_logits = self.objective.loss(logits,
                                                                   facts)
        if self.objective.guide == "frozen":  # nothing to back-propagate
            logits = [z for z, p in zip(logits, inputs) if len(p) < 3]
        y = facts.label
        if instance_weights is not None:
            per_sample *= tf.cast(instance_weights, per_sample.dtype)
        if sample_weight is not None:
            per_sample *= tf.cast(tf.reshape(sample_weight, [-1]),
                                  per_sample.dtype)
        n_global = global_sum(tf.cast(tf.shape(y)[0], per_sample.dtype))
        # This replica's share of the global mean: replica gradients sum.
        loss = tf.reduce_sum(per_sample) / n_global
        regularisation = tf.zeros([], loss.dtype)
        if self._regularisation_losses():
            regularisation = tf.cast(tf.add_n(
                self._regularisation_losses()), loss.dtype) / float(
                tf.distribute.get_strategy().num_replicas_in_sync)
        # Keras' contract for custom steps: gradients of the scaled loss
        # (mixed precision's LossScaleOptimizer unscales them).
        scaled_loss = self.optimizer.scale_loss(loss)
        scaled_regularisation = self.optimizer.scale_loss(regularisation)
        return StepLoss(
            logits=logits, clean_logits=clean_logits, adv_logits=adv_logits,
            total=loss + regularisation, scaled_loss=scaled_loss,
            scaled_regularisation=scaled_regularisation,
            scaled_total=scaled_loss + scaled_regularisation)

    def apply_step(self, tape, step_loss: StepLoss, y,
                   inference_logits=None, also=(), restore=None):
        """Back-propagates `step_loss` once, applies the gradients, updates
        the metrics; returns the gradients of the scaled loss with respect
        to the tensors in `also` (watched by `tape`) from the same backward
        pass. `restore`: an AWP perturbation taken off the weights between
        the backward pass and the update."""
        gradients, also_gradients = self._gradients(tape, step_loss, also)
        if restore:
            self.weight_perturbation.restore(restore)
        self.optimizer.apply_gradients(
            zip(gradients, self._trained_variables()))
        self.loss_tracker.update_state(global_sum(step_loss.total))
        clean_logits = step_loss.clean_logits
        if clean_logits is None:
            clean_logits = inference_logits
        if clean_logits is not None:
            self.clean_accuracy.update_state(y, clean_logits)
            step_loss.logged.append("clean_accuracy")
        if step_loss.adv_logits is not None:
            self.adv_accuracy.update_state(y, step_loss.adv_logits)
            step_loss.logged.append("adv_accuracy")
        return also_gradients

    def pass_logits(self, step_pass, training: bool):
        """The logits of one pass of `objective.passes`: (image, strength)
        on the network, (image, strength, GUIDE) on the guide (a frozen
        guide in inference mode, outside the gradient)."""
        image, strength, *on = step_pass
        if not on:
            return logits_at(self.network, image, strength,
                             training=training)
        if self.objective.guide == "frozen":
            return tf.stop_gradient(logits_at(self.guide, image, 0.0))
        return logits_at(self.guide, image, 0.0, training=training)

    @property
    def trained_networks(self) -> list:
        """The networks training changes: the network, and a guide trained
        jointly with it (LBGAT)."""
        if self.objective.guide == "trained":
            return [self.network, self.guide]
        return [self.network]

    def _regularisation_losses(self) -> list:
        """The weight penalties of the trained networks (a jointly trained
        guide's too)."""
        if self.objective.guide == "trained":
            return self.network.losses + self.guide.losses
        return self.network.losses

    def _trained_variables(self):
        if self.trainable_part == "rescaling":
            return rescaling_variables(self.network)
        if self.objective.guide == "trained":
            return (self.network.trainable_variables
                    + self.guide.trainable_variables)
        return self.network.trainable_variables

    def _gradients(self, tape, step_loss: StepLoss, also=()):
        """d(total)/d(weights) and d(total)/d(also), back-propagating one
        forward pass at a time.

        Under MirroredStrategy each replica builds its graph in its own
        thread and synchronised batch norm's gradient is a cross-replica
        barrier. With several passes a single `tape.gradient` may walk them
        in a different order on each replica and pair the wrong tensors;
        walking them one by one, in program order, cannot.
        """
        sources = list(self._trained_variables()) + list(also)
        count = len(sources) - len(also)
        logits = step_loss.logits
        if len(logits) == 1:
            gradients = tape.gradient(step_loss.scaled_total, sources)
            return gradients[:count], gradients[count:]
        logit_grads = tape.gradient(step_loss.scaled_loss, logits)
        gradients = [None] * len(sources)
        if self._regularisation_losses():
            gradients = tape.gradient(step_loss.scaled_regularisation,
                                      sources)
        for pass_logits, pass_grad in zip(logits, logit_grads):
            pass_grads = tape.gradient(pass_logits, sources,
                                       output_gradients=pass_grad)
            gradients = [p if g is None else g if p is None else g + p
                         for g, p in zip(gradients, pass_grads)]
        del tape
        return gradients[:count], gradients[count:]

    #: What `test_step` (so `evaluate()` and the val_ logs) reports.
    VALIDATION_METRICS = ("loss", "clean_accuracy", "robust_accuracy")

    @property
    def metrics_names(self):
        """The names of the values `evaluate()` returns, in its order (the
        training logs add `adv_accuracy`)."""
        return list(self.VALIDATION_METRICS)

    def test_step(self, data):
        features, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        image, index = split_inputs(features)
        image, y = checked_pixels(image), class_labels(y)
        logits = logits_at(self.network, image, 0.0)
        self.clean_accuracy.update_state(y, logits)
        keys = None if index is None else noise_keys_for(index, 0)
        with after(logits):
            attack = self.val_attack.run(
                self.network_at(self.val_attack.eps), image, y,
                noise_keys=keys)
        clean_correct = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), y)
        self.robust_accuracy.update_state(
            robust_mask(attack, self.val_attack)
            * tf.cast(clean_correct, tf.float32))
        facts = StepFacts(image=image, label=y, noise_keys=keys,
                          clean_correct=clean_correct,
                          epoch=tf.convert_to_tensor(self.epoch))
        with after(attack.x_adv):
            self.loss_tracker.update_state(
                self.validation_loss(facts, attack))
        return self._results(self.VALIDATION_METRICS)

    def validation_loss(self, facts: StepFacts, attack):
        """The method's per-sample loss on a validation batch: its passes
        in inference mode, x_adv from the validation attack (unweighted:
        instance weights are a training device)."""
        facts = self.objective.prepare(facts)
        inputs = self.objective.passes(facts, attack.x_adv, attack.eps)
        logits = [self.pass_logits(p, training=False) for p in inputs]
        return self.objective.loss(logits, facts)[0]

    def _results(self, names):
        by_name = {m.name: m for m in self.metrics}
        results = {name: by_name[name].result() for name in names}
        if isinstance(tf.distribute.get_strategy(),
                      tf.distribute.MultiWorkerMirroredStrategy):
            # Keras reduces each worker's logs with reduce(MEAN, axis=0),
            # which needs a batch axis that scalars lack.
            results = {name: tf.reshape(value, [1])
                       for name, value in results.items()}
        return results

    def get_config(self):
        return {
            "network": keras.saving.serialize_keras_object(self.network),
            "objective": self.objective.get_config(),
            "attack": dict(vars(self.attack)),
            "val_attack": dict(vars(self.val_attack)),
            "track_clean_accuracy": self.track_clean_accuracy,
            "radius": self.radius.get_config(),
            "weighting": self.weighting.get_config(),
            "num_examples": self.num_examples,
            "trainable": self.trainable_part,
            "free_replays": self.free_replays,
            "weight_perturbation": (
                self.weight_perturbation.get_config()
                if self.weight_perturbation else None),
            "guide": (None if self.guide is None else
                      keras.saving.serialize_keras_object(self.guide)),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = upgraded_config(dict(config))
        config["network"] = keras.saving.deserialize_keras_object(
            config["network"])
        if config.get("guide") is not None:
            config["guide"] = keras.saving.deserialize_keras_object(
                config["guide"])
        return cls(**config)

