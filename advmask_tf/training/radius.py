"""Radius policies: which eps each training sample is attacked at.

`FixedRadius` attacks every sample at the attack's eps (Madry, TRADES).
`SampledRadius` draws each sample's eps from a set or a range (RobMask).
`AdaptiveRadius` is IAAT (Balaji, Goldstein, Hoffman 2019): a radius per
training example, kept in a table indexed by the example index, moved after
every visit by whether the attack at that radius succeeded.

A policy's `craft` runs the attack for a batch and updates its own state;
`AdversarialModel` calls it once per training step with the step's
`StepFacts`. `network_at(eps)` gives the network to attack at per-sample
radii eps: the network itself, or for a conditioned network the network told
eps. Policies subclass `BaseRadiusPolicy` (the contract) and are
registered in `RADIUS_POLICIES` (config field `radius.policy`).
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from advmask_tf.errors import InputError
from advmask_tf.options import (
    Tunable,
    integer,
    number,
    numbers,
    one_of,
    option,
)
from advmask_tf.registry import Part, Registry
from advmask_tf.training.interfaces import StepFacts
from advmask_tf.training.state import (
    add_table,
    gather_rows,
    require_index,
    scatter_rows,
)

#: IAAT update rules. "paper": Algorithm 1 of the paper, one attack per
#: step. "authors_code": the authors' public code, a second probe attack.
IAAT_RULES = ("paper", "authors_code")

RADIUS_POLICIES = Registry("radius policy", field="radius.policy",
                           default="fixed")


class BaseRadiusPolicy(Part):
    """The contract of a radius policy (see the module docstring); options
    are declared in `Options` and live in the config's radius block."""

    section = "radius"
    needs_clean_prediction = False
    #: the per-example state (a table), if any.
    table = None

    def build(self, model, num_examples):
        """Adds per-example state (tables) to `model`, if any."""
        del model, num_examples

    def trained_strengths(self, eps: float) -> tuple | None:
        """The strengths a conditioned network meets in training when the
        policy draws them; None: clean (0) and the attack's eps."""
        del eps
        return None

    def craft(self, attack, network_at, facts: StepFacts):
        """Runs `attack` on the batch (network_at(eps) is the network told
        eps), updates the policy's state; returns an `AttackResult`."""
        raise NotImplementedError


RADIUS_POLICIES.base = BaseRadiusPolicy


@RADIUS_POLICIES.register("fixed")
class FixedRadius(BaseRadiusPolicy):
    """Every sample at the attack's eps.

    >>> FixedRadius().get_config()
    {'name': 'fixed'}
    """

    name = "fixed"

    def craft(self, attack, network_at, facts: StepFacts):
        return attack.run(network_at(attack.eps), facts.image, facts.label,
                          noise_keys=facts.noise_keys, compute_success=False)


@dataclasses.dataclass(frozen=True)
class AdaptiveRadiusOptions:
    """IAAT's options (radius block; warmup_eps and min_step are the
    training attack's eps and step size)."""

    warmup_eps: float = option(0.1, "the radius of the warmup (attack.eps)",
                               number(low=0), in_config=False)
    rule: str = option("paper", "IAAT's update: paper (Algorithm 1, one "
                       "attack a step) or authors_code (a second probe "
                       "attack)", one_of(*IAAT_RULES))
    gamma: float = option(0.024, "the radius change per visit (adaptive; "
                          "CIFAR's 1.9/255 of 8/255 scaled to eps 0.1)",
                          number(low=0), tune=Tunable())
    smoothing: float = option(0.1, "authors_code: the code's beta, "
                              "eps <- s x candidate + (1 - s) x eps",
                              number(0, 1, low_open=True))
    warmup_epochs: int = option(2, "epochs at attack.eps, radii untouched "
                                "(adaptive)", integer(0))
    max_eps: float = option(0.0, "cap on the radii (adaptive)",
                            number(low=0, note="0: no cap"))
    step_fraction: float = option(
        0.2, "adaptive: step = max(eps_i x this, attack.step_size)",
        number(low=0))
    min_step: float = option(0.025, "the smallest step (attack.step_size)",
                             number(low=0), in_config=False)

    def __post_init__(self):
        if self.max_eps and self.max_eps < self.warmup_eps:
            raise InputError(
                f"radius.max_eps={self.max_eps!r} is below warmup_eps="
                f"{self.warmup_eps!r}; use 0 for no cap or a value >= "
                "warmup_eps.")


@RADIUS_POLICIES.register("adaptive")
class AdaptiveRadius(BaseRadiusPolicy):
    """IAAT's instance-adaptive radius, one per training example.

    Warmup (`warmup_epochs`): every sample is attacked at `warmup_eps` and the
    table (initialised to `warmup_eps`) stays as it is. Afterwards sample i is
    attacked at its radius eps_i with step max(step_fraction * eps_i,
    min_step), and then:

    - rule "paper" (the default: it is the published algorithm, and it costs
      one attack per step, the budget of Madry AT): eps_i += gamma if the
      attack failed (no iterate misclassified), else eps_i -= gamma.
    - rule "authors_code": a second attack probes eps_i + gamma; the
      candidate is eps_i + gamma if that probe failed, else eps_i if the
      first attack failed, else eps_i - gamma; it is multiplied by clean
      correctness (0 or 1) and smoothed, eps_i <- smoothing * candidate +
      (1 - smoothing) * eps_i. The training example is the first attack's,
      at the radius the sample had when visited.

    Radii stay in [0, max_eps] (max_eps = 0: no cap).

    Example:

    >>> policy = AdaptiveRadius(warmup_eps=0.1, gamma=0.02, warmup_epochs=1)
    >>> policy.get_config()["rule"]
    'paper'
    """

    name = "adaptive"
    Options = AdaptiveRadiusOptions

    @classmethod
    def options_from_config(cls, config) -> dict:
        """The radius block's options; the warmup radius and the smallest
        step are the training attack's."""
        return {**super().options_from_config(config),
                "warmup_eps": float(config.attack.eps),
                "min_step": float(config.attack.step_size)}

    @property
    def needs_clean_prediction(self):
        return self.rule == "authors_code"

    def build(self, model, num_examples):
        self.table = add_table(model, "iaat_radius", num_examples,
                               self.warmup_eps)

    def step_size(self, eps):
        return tf.maximum(self.step_fraction * eps, self.min_step)

    def clip(self, eps):
        eps = tf.maximum(eps, 0.0)
        return tf.minimum(eps, self.max_eps) if self.max_eps else eps

    def craft(self, attack, network_at, facts: StepFacts):
        index, clean_correct = facts.index, facts.clean_correct
        require_index(index, "The adaptive (IAAT) radius")
        previous = gather_rows(self.table, index)
        warmup = tf.less(facts.epoch, self.warmup_epochs)
        eps = tf.where(warmup, self.warmup_eps, previous)

        def attack_at(radius):
            return attack.run(network_at(radius), facts.image, facts.label,
                              eps=radius, step_size=self.step_size(radius),
                              noise_keys=facts.noise_keys)

        result = attack_at(eps)
        held = result.survived(attack.steps)
        if self.rule == "paper":
            updated = self.clip(
                previous + tf.where(held, self.gamma, -self.gamma))
        else:
            updated = tf.cond(
                warmup, lambda: previous,
                lambda: self._authors_code_update(
                    attack, attack_at, previous, held, clean_correct))
        scatter_rows(self.table, index, tf.where(warmup, previous, updated))
        return result

    def _authors_code_update(self, attack, attack_at, previous, held,
                             clean_correct):
        held_wider = attack_at(previous + self.gamma).survived(attack.steps)
        candidate = tf.where(
            held_wider, previous + self.gamma,
            tf.where(held, previous, previous - self.gamma))
        candidate = self.clip(candidate * tf.cast(clean_correct, tf.float32))
        return self.clip(self.smoothing * candidate
                         + (1.0 - self.smoothing) * previous)


@RADIUS_POLICIES.register("sampled")
class SampledRadius(BaseRadiusPolicy):
    """Each sample's eps drawn afresh every step (RobMask's strengths).

    From `strengths` (uniformly over the set) when given, else uniformly
    from [low, high]. The step is eps_i * attack.step_size / attack.eps, the
    attack's own step-to-radius ratio. With example indices (noise keys)
    the draw of sample i is a function of (index, step), the same on any
    device layout.

    >>> SampledRadius(strengths=(0.0, 0.1)).get_config()["strengths"]
    [0.0, 0.1]
    """

    name = "sampled"
    # Separates the strength draw's keys from the random start's.
    KEY_OFFSET = 1 << 40

    @dataclasses.dataclass(frozen=True)
    class Options:
        strengths: tuple = option(
            (), "sampled: the set each sample's eps is drawn from (RobMask's "
            "strengths)", numbers(0, 1, note="(): a range [low, high]"))
        low: float = option(0.0, "sampled: the range's low end",
                            number(0, 1))
        high: float = option(0.0, "sampled: the range's high end",
                             number(0, 1, note="0: attack.eps"))

        def __post_init__(self):
            strengths = tuple(sorted(float(s) for s in self.strengths))
            object.__setattr__(self, "strengths", strengths)
            if not strengths and not self.high > self.low:
                raise InputError(
                    "a sampled radius needs `strengths` (a set, such as [0, "
                    "0.05, 0.1]) or a range with high > low; received "
                    f"strengths={strengths}, low={self.low!r}, "
                    f"high={self.high!r}.")

    @classmethod
    def options_from_config(cls, config) -> dict:
        """The radius block's options (radius.high 0 means the training
        attack's eps)."""
        options = super().options_from_config(config)
        options["high"] = float(options["high"] or config.attack.eps)
        return options

    def trained_strengths(self, eps):
        """The strengths set, or the range's two ends."""
        del eps
        return self.strengths or (self.low, self.high)

    def draw(self, batch_size, noise_keys=None):
        """(B,) strengths for a batch."""
        if self.strengths:
            return draw_from_set(self.strengths, batch_size, noise_keys,
                                 self.KEY_OFFSET)
        u = keyed_uniforms(batch_size, noise_keys, self.KEY_OFFSET)
        return self.low + u * (self.high - self.low)

    def craft(self, attack, network_at, facts: StepFacts):
        image = facts.image
        eps = self.draw(tf.shape(image)[0], facts.noise_keys)
        # The configured step as a fraction of the configured eps (PGDConfig's
        # default step is eps/4), applied to each sample's own eps.
        ratio = (attack.step_size / attack.eps
                 if attack.step_size is not None and attack.eps else 0.25)
        step = eps * ratio
        return attack.run(network_at(eps), image, facts.label, eps=eps,
                          step_size=step, noise_keys=facts.noise_keys,
                          compute_success=False)


def keyed_uniforms(batch_size, noise_keys, key_offset: int):
    """U[0, 1) per sample: a stateless function of noise_keys[i] (shifted
    by key_offset, so each use of the keys draws afresh) when given."""
    if noise_keys is None:
        return tf.random.uniform([batch_size])
    keys = tf.cast(noise_keys, tf.int64) + tf.constant([0, key_offset],
                                                       tf.int64)
    return tf.map_fn(lambda key: tf.random.stateless_uniform([], key),
                     keys, fn_output_signature=tf.float32)


def draw_from_set(values, batch_size, noise_keys, key_offset: int):
    """(B,) values drawn uniformly from the tuple `values` (see
    `keyed_uniforms`).

    >>> keys = tf.constant([[1, 0], [2, 0]], tf.int64)
    >>> draws = draw_from_set((0.0, 1.0), 2, keys, 7)
    >>> bool(tf.reduce_all((draws == 0.0) | (draws == 1.0)))
    True
    """
    u = keyed_uniforms(batch_size, noise_keys, key_offset)
    count = len(values)
    choice = tf.minimum(tf.cast(u * count, tf.int32), count - 1)
    return tf.gather(tf.constant(values, tf.float32), choice)


def make_radius_policy(spec=None):
    """A policy from a spec: a name, {"name": ..., options}, a policy, or
    None (fixed).

    >>> make_radius_policy({"name": "adaptive", "gamma": 0.01}).gamma
    0.01
    """
    return RADIUS_POLICIES.build(spec)
