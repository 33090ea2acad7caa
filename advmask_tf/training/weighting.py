"""Instance weightings: how much each adversarial example counts in the loss.

`UniformWeighting` counts them alike. `GeometryAwareWeighting` is GAIRAT
(Zhang et al., ICLR 2021): a sample that PGD breaks early (small kappa, close
to the decision boundary) weighs more. Weights are normalised to sum to the
global batch size, so the loss stays a weighted mean. Weightings subclass
`BaseWeighting` (the contract) and are registered in `WEIGHTINGS` (config
field `weighting.name`).
"""

from __future__ import annotations

import dataclasses
import math

import tensorflow as tf

from advmask_tf.errors import InputError
from advmask_tf.options import (
    Accepts,
    Tunable,
    integer,
    number,
    one_of,
    option,
)
from advmask_tf.registry import Part, Registry
from advmask_tf.training.interfaces import StepFacts
from advmask_tf.training.objectives import global_sum
from advmask_tf.training.state import add_table, scatter_rows

WEIGHTINGS = Registry("instance weighting", field="weighting.name",
                      default="uniform")

FORMS = ("tanh", "sigmoid", "discrete")
SCHEDULES = ("fixed", "linear", "piecewise")


LAMBDA = number(allow_inf=True)
LAMBDAS = Accepts(lambda values: all(LAMBDA(v) for v in values),
                  "a tuple of numbers (+inf allowed)")
EPOCHS = Accepts(lambda values: all(integer(0)(v) for v in values),
                 "a tuple of whole epochs")


def gairat_weights(kappa, steps: int, lam, form: str = "tanh"):
    """Unnormalised GAIRAT weights from kappa in {0..steps}.

    tanh: (1 + tanh(lam + 5 (1 - 2 kappa / K))) / 2 (paper eq. 6);
    sigmoid: sigmoid(lam + 5 (1 - 2 kappa / K)); discrete: (K + 1 - kappa) /
    (K + 1), which has no lambda. lam = +inf gives 1 for every sample.

    >>> weights = gairat_weights(tf.constant([0, 5, 10]), 10, 0.0)
    >>> weights.numpy().round(3).tolist()
    [1.0, 0.5, 0.0]
    """
    if form not in FORMS:
        raise InputError(f"Unknown weight form {form!r}; expected {FORMS}.")
    kappa = tf.cast(kappa, tf.float32)
    steps = float(steps)
    if form == "discrete":
        return (steps + 1.0 - kappa) / (steps + 1.0)
    argument = tf.cast(lam, tf.float32) + 5.0 * (1.0 - 2.0 * kappa / steps)
    if form == "tanh":
        # (1 + tanh(a)) / 2 == sigmoid(2a), without the cancellation of
        # 1 + tanh(a) in float32 when a is very negative.
        return tf.sigmoid(2.0 * argument)
    return tf.sigmoid(argument)


class BaseWeighting(Part):
    """The contract of an instance weighting; options are declared in
    `Options` and live in the config's weighting block."""

    section = "weighting"
    #: the per-example state (a table), if any.
    table = None

    def build(self, model, num_examples):
        """Adds per-example state (tables) to `model`, if any."""
        del model, num_examples

    def weights(self, kappa, steps: int, facts: StepFacts):
        """Per-sample weights summing to the global batch size, or None
        (uniform)."""
        raise NotImplementedError


WEIGHTINGS.base = BaseWeighting


@WEIGHTINGS.register("uniform")
class UniformWeighting(BaseWeighting):
    """Every sample weighs 1.

    >>> UniformWeighting().get_config()
    {'name': 'uniform'}
    """

    name = "uniform"

    def weights(self, kappa, steps, facts: StepFacts):
        del kappa, steps, facts
        return None


@dataclasses.dataclass(frozen=True)
class GairatOptions:
    """GAIRAT's options (weighting block; total_epochs is train.epochs)."""

    form: str = option("tanh", "gairat: the weight's form (tanh: paper eq. "
                       "6)", one_of(*FORMS))
    schedule: str = option("fixed", "gairat: how lambda moves over epochs",
                           one_of(*SCHEDULES))
    lam: float = option(-1.0, "gairat, fixed schedule: lambda (+inf gives "
                        "Madry AT)", LAMBDA, tune=Tunable())
    lam_start: float = option(3.0, "gairat, linear: lambda at the first "
                              "weighted epoch", LAMBDA)
    lam_end: float = option(-1.0, "gairat, linear: lambda at the last "
                            "epoch", LAMBDA)
    lam_boundaries: tuple = option(
        (), "gairat, piecewise: the epochs where lambda changes", EPOCHS)
    lam_values: tuple = option(
        (), "gairat, piecewise: lambda per piece (one more than the "
        "boundaries)", LAMBDAS)
    burn_in_epochs: int = option(2, "gairat: epochs of uniform weights "
                                 "first", integer(0))
    total_epochs: int = option(0, "the run's length (train.epochs)",
                               integer(0), in_config=False)

    def __post_init__(self):
        if self.schedule == "linear":
            for name in ("lam_start", "lam_end"):
                if math.isinf(getattr(self, name)):
                    raise InputError(
                        f"weighting.{name} must be a finite number for the "
                        f"linear schedule; received {getattr(self, name)!r}.")
            if self.total_epochs <= self.burn_in_epochs:
                raise InputError(
                    "The linear lambda schedule needs total_epochs > "
                    f"burn_in_epochs; received total_epochs="
                    f"{self.total_epochs!r}, burn_in_epochs="
                    f"{self.burn_in_epochs!r}.")
        object.__setattr__(self, "lam_boundaries",
                           tuple(int(b) for b in self.lam_boundaries))
        object.__setattr__(self, "lam_values",
                           tuple(float(v) for v in self.lam_values))
        if self.schedule == "piecewise":
            self._check_piecewise()

    def _check_piecewise(self):
        boundaries, values = self.lam_boundaries, self.lam_values
        if len(values) != len(boundaries) + 1:
            raise InputError(
                "weighting.lam_values needs one value more than "
                f"lam_boundaries; received {len(values)} values for "
                f"boundaries {boundaries}.")
        ordered = all(a < b for a, b in zip(boundaries, boundaries[1:]))
        if not ordered or (boundaries and boundaries[0] <= self.burn_in_epochs):
            raise InputError(
                "weighting.lam_boundaries must be strictly increasing epochs "
                f"after burn_in_epochs={self.burn_in_epochs}; received "
                f"{boundaries}.")


@WEIGHTINGS.register("gairat")
class GeometryAwareWeighting(BaseWeighting):
    """GAIRAT weights from kappa, after `burn_in_epochs` of uniform weights.

    lambda schedules (after the burn-in):
      - "fixed": `lam` throughout;
      - "linear": from `lam_start` at the first weighted epoch to `lam_end`
        at the last of `total_epochs` (both finite: the authors' linear
        schedule with its default lambda_max = inf computes inf - inf);
      - "piecewise": `lam_values[j]` from epoch `lam_boundaries[j - 1]` on
        (boundaries strictly increasing and after the burn-in, so every piece
        is reached, unlike the authors' code).
    +inf is a valid lambda and gives exactly uniform weights (Madry AT).

    The last weight each training example received is kept in a table (for
    TensorBoard histograms), like IAAT's radii.

    Example:

    >>> weighting = GeometryAwareWeighting(lam=-1.0, burn_in_epochs=0)
    >>> float(weighting.lam_at(tf.constant(3)))
    -1.0
    """

    name = "gairat"

    Options = GairatOptions

    @classmethod
    def options_from_config(cls, config) -> dict:
        """The weighting block's options; the linear schedule runs to the
        last of train.epochs."""
        return {**super().options_from_config(config),
                "total_epochs": int(config.train.epochs)}

    def warnings(self):
        if self.total_epochs and self.burn_in_epochs >= self.total_epochs:
            return [f"weighting.burn_in_epochs={self.burn_in_epochs} is not "
                    f"below train.epochs={self.total_epochs}: GAIRAT's "
                    "weights never switch on (the run is Madry AT)."]
        return []

    def build(self, model, num_examples):
        self.table = add_table(model, "gairat_weight", num_examples, 1.0)

    def lam_at(self, epoch):
        """lambda at `epoch` (an int tensor) for a weighted epoch."""
        epoch = tf.cast(epoch, tf.float32)
        if self.schedule == "fixed":
            return tf.constant(self.lam, tf.float32)
        if self.schedule == "linear":
            last = float(max(self.total_epochs - 1, self.burn_in_epochs + 1))
            progress = tf.clip_by_value(
                (epoch - self.burn_in_epochs) / (last - self.burn_in_epochs),
                0.0, 1.0)
            return self.lam_start + progress * (self.lam_end - self.lam_start)
        piece = tf.reduce_sum(tf.cast(
            epoch >= tf.constant(self.lam_boundaries, tf.float32), tf.int32)) \
            if self.lam_boundaries else tf.constant(0)
        return tf.gather(tf.constant(self.lam_values, tf.float32), piece)

    def weights(self, kappa, steps, facts: StepFacts):
        """Per-sample weights summing to the global batch size."""
        epoch, index = facts.epoch, facts.index
        raw = gairat_weights(kappa, steps, self.lam_at(epoch), self.form)
        raw = tf.where(tf.less(epoch, self.burn_in_epochs),
                       tf.ones_like(raw), raw)
        count = global_sum(tf.cast(tf.size(raw), tf.float32))
        # All-zero weights (a very negative lambda) give a zero step, not NaN.
        weights = tf.math.divide_no_nan(raw * count,
                                        global_sum(tf.reduce_sum(raw)))
        if index is not None and self.table is not None:
            scatter_rows(self.table, index, weights)
        return weights


def make_weighting(spec=None):
    """A weighting from a spec: a name, {"name": ..., options}, a
    weighting, or None (uniform).

    >>> make_weighting({"name": "gairat", "lam": 0.0}).lam
    0.0
    """
    return WEIGHTINGS.build(spec)
