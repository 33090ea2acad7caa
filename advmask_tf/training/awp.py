"""Adversarial weight perturbation (AWP; Wu, Xia, Wang, NeurIPS 2020).

Once the attack has crafted x_adv, the weights are moved one step in the
direction that increases the objective's loss on the step's training
passes, layer by layer: every kernel w (rank >= 2: convolution and dense
kernels; biases and normalisation parameters are left alone, as in the
authors' code) gets

    v = gamma * ||w|| * g / ||g||,     g = d loss / d w,

the step's gradient is taken at w + v, the weights are put back, and that
gradient is applied to them. It costs one extra forward-backward pass per
step and flattens the loss landscape in weight space, which narrows the
gap between training and test robustness.

Details the paper leaves to its code: the ascent direction is the plain
gradient of the (negated) objective on the same batch, in training mode;
here batch norm's moving statistics are put back after that extra pass, so
they only see each batch once. Under a distribution strategy the gradient is
summed over replicas first, so every replica perturbs its copy of the
weights identically. Under mixed precision a non-finite gradient (the
scaled loss overflowed) counts as 0, so that layer is not perturbed.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from advmask_tf.errors import InputError
from advmask_tf.options import checked_options, integer, number, option


@dataclasses.dataclass(frozen=True)
class AWPOptions:
    """AWP's options, in the method block (it combines with any attacking
    objective)."""

    awp_gamma: float = option(
        0.0, "AWP: each kernel moved by this times its norm along the "
        "loss's gradient before the step (the paper: 5e-3 with TRADES, "
        "1e-2 with Madry)", number(0, 1, high_open=True,
                                   note="0: no weight perturbation"))
    awp_warmup_epochs: int = option(0, "AWP: epochs trained without the "
                                    "perturbation first", integer(0))


class WeightPerturbation:
    """AWP's settings and its two moves (perturb, restore).

    Args:
        gamma: the perturbation's size relative to each kernel's norm
            (the paper: 5e-3 for TRADES-AWP, 1e-2 for AT-AWP).
        warmup_epochs: epochs trained without the perturbation first.

    Example:

    >>> awp = WeightPerturbation(gamma=5e-3)
    >>> awp.get_config()
    {'gamma': 0.005, 'warmup_epochs': 0}
    >>> WeightPerturbation(gamma=-1.0)
    Traceback (most recent call last):
    ...
    advmask_tf.errors.InputError: method.awp_gamma must be a number in [0, 1) ...
    """

    def __init__(self, gamma: float = 5e-3, warmup_epochs: int = 0):
        # The ranges are AWPOptions' (the config's method block).
        options = checked_options("method", AWPOptions, {
            "awp_gamma": gamma, "awp_warmup_epochs": warmup_epochs})
        self.gamma = options.awp_gamma
        self.warmup_epochs = options.awp_warmup_epochs

    @staticmethod
    def kernels(variables) -> list:
        """The variables AWP perturbs: those of rank >= 2."""
        return [v for v in variables if len(v.shape) >= 2]

    def perturb(self, model, inputs, facts, sample_weight=None,
                instance_weights=None) -> list:
        """Adds v to every kernel of `model.network` (see the module
        docstring) and returns the v's, for `restore`."""
        network = model.network
        statistics = list(network.non_trainable_variables)
        if model.guide is not None:  # its batch norm ran in this pass too
            statistics += list(model.guide.non_trainable_variables)
        saved = [tf.identity(v) for v in statistics]
        with tf.GradientTape(persistent=len(inputs) > 1) as tape:
            step_loss = model.training_loss(inputs, facts, sample_weight,
                                            instance_weights)
        # Pass by pass, like the step's own gradient (see _gradients).
        all_gradients, _ = model._gradients(tape, step_loss)
        # The robust network's kernels only (not a jointly trained guide's).
        robust = {id(v) for v in network.trainable_variables}
        pairs = [(v, g) for v, g in zip(model._trained_variables(),
                                         all_gradients)
                 if len(v.shape) >= 2 and id(v) in robust]
        kernels = [v for v, _ in pairs]
        with tf.control_dependencies([g for _, g in pairs if g is not None]):
            for variable, value in zip(statistics, saved):
                variable.assign(value)
        gradients = [tf.zeros_like(k) if g is None else g for k, g in pairs]
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            gradients = context.all_reduce(tf.distribute.ReduceOp.SUM,
                                           gradients)
        active = tf.cast(
            tf.convert_to_tensor(model.epoch) >= self.warmup_epochs,
            tf.float32)
        deltas = []
        for kernel, gradient in zip(kernels, gradients):
            gradient = tf.cast(gradient, tf.float32)
            gradient = tf.where(tf.math.is_finite(gradient), gradient, 0.0)
            size = self.gamma * tf.norm(tf.cast(kernel, tf.float32))
            delta = active * size * gradient / (tf.norm(gradient) + 1e-20)
            delta = tf.cast(delta, kernel.dtype)
            kernel.assign_add(delta)
            deltas.append(delta)
        return list(zip(kernels, deltas))

    @staticmethod
    def restore(perturbation: list) -> None:
        """Takes the v's of `perturb` off the kernels again."""
        for kernel, delta in perturbation:
            kernel.assign_sub(delta)

    def get_config(self) -> dict:
        return {"gamma": self.gamma, "warmup_epochs": self.warmup_epochs}


def make_weight_perturbation(spec, free_replays: int = 0,
                             trainable: str = "all"
                             ) -> WeightPerturbation | None:
    """None (off), a gamma, a dict of `WeightPerturbation`'s arguments, or
    one; a gamma of 0 is off. Refuses the training settings it cannot
    join (Free's replays, training only batch norm's rescaling).

    >>> make_weight_perturbation({"gamma": 0.01}).gamma
    0.01
    >>> make_weight_perturbation(0.0) is None
    True
    """
    if spec is None or isinstance(spec, WeightPerturbation):
        perturbation = spec
    else:
        if not isinstance(spec, dict):
            spec = {"gamma": spec}
        perturbation = WeightPerturbation(**spec)
        if perturbation.gamma == 0:
            perturbation = None
    if perturbation is None:
        return None
    if free_replays:
        raise InputError(
            f"method.awp_gamma={perturbation.gamma} needs the attack's "
            "x_adv before the weight step; Free training "
            f"(train.free_replays={free_replays}) moves both at once. Set "
            "one of them to 0.")
    if trainable != "all":
        raise InputError(
            f"method.awp_gamma={perturbation.gamma} perturbs the kernels, "
            f"which train.trainable={trainable!r} does not train; use "
            "train.trainable='all' or method.awp_gamma=0.")
    return perturbation
