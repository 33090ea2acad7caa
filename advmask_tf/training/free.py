"""Free adversarial training (Shafahi et al., NeurIPS 2019).

Each minibatch is replayed `replays` (m) times in a row. Every replay is
one forward-backward pass at x + delta; that single backward pass gives the
weights' gradient (applied at once: m optimizer updates per minibatch) and
the input gradient that moves delta one step (the attack's step size,
usually eps) before the next replay. Adversarial examples thus cost nothing
beyond the weight updates, and an epoch costs m forward-backward passes per
image: run about 1/m of the epochs of standard training for the same cost.

Where it differs from the paper: the paper carries delta over from one
minibatch to the next (of other images); here each minibatch starts from
the attack's random start (keyed by example index, like every other
attack), so a replicated or resumed run is reproducible.

It combines with objectives that attack (Madry, TRADES, MART, mixed: the input
gradient is their loss's gradient at x_adv), a fixed radius, weight
averaging and conditioned networks (told the attack's eps). It refuses
radius policies and instance weightings, which read a multi-step attack's
per-sample outcome.
"""

from __future__ import annotations

import tensorflow as tf

from advmask_tf.errors import InputError
from advmask_tf.training.interfaces import StepFacts
from advmask_tf.training.radius import RADIUS_POLICIES
from advmask_tf.training.weighting import WEIGHTINGS


def check_free_replays(replays, objective, radius, weighting) -> int:
    """`replays` as an int (0: off); raises ValueError naming the field.

    >>> from advmask_tf.training.objectives import make_objective
    >>> from advmask_tf.training.radius import make_radius_policy
    >>> from advmask_tf.training.weighting import make_weighting
    >>> check_free_replays(4, make_objective("trades"),
    ...                    make_radius_policy(None), make_weighting(None))
    4
    >>> check_free_replays(4, make_objective("standard"),
    ...                    make_radius_policy(None), make_weighting(None))
    Traceback (most recent call last):
    ...
    advmask_tf.errors.InputError: train.free_replays=4 replays minibatches ...
    """
    if isinstance(replays, bool) or not isinstance(replays, int) \
            or replays < 0:
        raise InputError(f"train.free_replays must be an integer >= 0 (0: "
                         f"no Free adversarial training); received "
                         f"{replays!r}.")
    if replays == 0:
        return 0
    if objective.attack_loss is None:
        raise InputError(
            f"train.free_replays={replays} replays minibatches against an "
            f"attack; method.name={objective.name!r} runs none. Use madry, "
            "trades, mart or mixed.")
    if not (RADIUS_POLICIES.is_default(radius)
            and WEIGHTINGS.is_default(weighting)):
        raise InputError(
            f"train.free_replays={replays} takes a fixed radius and uniform "
            f"weights (they read a multi-step attack's outcome); received "
            f"radius.policy={radius.name!r}, weighting.name="
            f"{weighting.name!r}.")
    return replays


def train_on_replays(model, facts: StepFacts, sample_weight=None,
                     inference_logits=None):
    """Runs `model.free_replays` replays of one minibatch (see the module
    docstring) and returns the last replay's `StepLoss`."""
    attack = model.attack
    image, y = facts.image, facts.label
    eps = attack.eps * tf.ones(tf.shape(y), tf.float32)
    x_adv = attack.start(image, noise_keys=facts.noise_keys)
    step_loss = None
    for _ in range(model.free_replays):
        inputs = model.objective.passes(facts, x_adv, eps)
        with tf.GradientTape(persistent=len(inputs) > 1) as tape:
            tape.watch(x_adv)
            step_loss = model.training_loss(inputs, facts, sample_weight)
        (input_gradient,) = model.apply_step(
            tape, step_loss, y, inference_logits, also=[x_adv])
        if input_gradient is None:
            raise InputError(
                f"method.name={model.objective.name!r}: the loss does not "
                "depend on x_adv, so Free adversarial training cannot move "
                "the perturbation.")
        x_adv = tf.stop_gradient(attack.ascend(x_adv, image, input_gradient))
    return step_loss
