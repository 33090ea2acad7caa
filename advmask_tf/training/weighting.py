"""Instance weightings: how much each adversarial example counts in the loss.

`UniformWeighting` counts them alike. `GeometryAwareWeighting` is GAIRAT
(Zhang et al., ICLR 2021): a sample that PGD breaks early (small kappa, close
to the decision boundary) weighs more. Weights are normalised to sum to the
global batch size, so the loss stays a weighted mean. Weightings implement
`advmask_tf.training.interfaces.InstanceWeighting` and are registered in
`WEIGHTINGS` (config field `weighting.name`).
"""

from __future__ import annotations

import math

import tensorflow as tf

from advmask_tf.errors import InputError
from advmask_tf.registry import Registry
from advmask_tf.training.interfaces import StepFacts
from advmask_tf.training.objectives import global_sum
from advmask_tf.training.state import add_table, scatter_rows

WEIGHTINGS = Registry("instance weighting", field="weighting.name",
                      default="uniform")

FORMS = ("tanh", "sigmoid", "discrete")
SCHEDULES = ("fixed", "linear", "piecewise")


def _check_lambda(name, value, allow_inf=True):
    value = float(value)
    if math.isnan(value) or value == -math.inf or (
            not allow_inf and value == math.inf):
        accepted = "a finite number or +inf" if allow_inf else \
            "a finite number"
        raise InputError(f"weighting.{name} must be {accepted}; received "
                         f"{value!r}.")
    return value


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


@WEIGHTINGS.register("uniform")
class UniformWeighting:
    """Every sample weighs 1.

    >>> UniformWeighting().get_config()
    {'name': 'uniform'}
    """

    name = "uniform"
    table = None

    def build(self, model, num_examples):
        del model, num_examples

    def weights(self, kappa, steps, facts: StepFacts):
        del kappa, steps, facts
        return None

    def get_config(self):
        return {"name": self.name}


@WEIGHTINGS.register("gairat")
class GeometryAwareWeighting:
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

    def __init__(self, form: str = "tanh", schedule: str = "fixed",
                 lam: float = -1.0, lam_start: float = 3.0,
                 lam_end: float = -1.0, lam_boundaries=(), lam_values=(),
                 burn_in_epochs: int = 0, total_epochs: int = 0):
        if form not in FORMS:
            raise InputError(
                f"Unknown weighting.form {form!r}; expected one of {FORMS}.")
        if schedule not in SCHEDULES:
            raise InputError(f"Unknown weighting.schedule {schedule!r}; "
                             f"expected one of {SCHEDULES}.")
        if int(burn_in_epochs) != burn_in_epochs or burn_in_epochs < 0:
            raise InputError("weighting.burn_in_epochs must be an integer >= "
                             f"0; received {burn_in_epochs!r}.")
        self.form = form
        self.schedule = schedule
        self.lam = _check_lambda("lam", lam)
        self.lam_start = _check_lambda("lam_start", lam_start,
                                       allow_inf=schedule != "linear")
        self.lam_end = _check_lambda("lam_end", lam_end,
                                     allow_inf=schedule != "linear")
        self.lam_boundaries = tuple(int(b) for b in lam_boundaries)
        self.lam_values = tuple(_check_lambda("lam_values", v)
                                for v in lam_values)
        self.burn_in_epochs = int(burn_in_epochs)
        self.total_epochs = int(total_epochs)
        if schedule == "linear" and self.total_epochs <= self.burn_in_epochs:
            raise InputError(
                "The linear lambda schedule needs total_epochs > "
                f"burn_in_epochs; received total_epochs={total_epochs!r}, "
                f"burn_in_epochs={burn_in_epochs!r}.")
        if schedule == "piecewise":
            self._check_piecewise()
        self.table = None

    @classmethod
    def options_from_config(cls, config) -> dict:
        """This weighting's options from an experiment config (the linear
        schedule runs to the last of train.epochs)."""
        options = config.weighting.to_dict()
        options.pop("name")
        options["total_epochs"] = int(config.train.epochs)
        return options

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

    def get_config(self):
        return {"name": self.name, "form": self.form,
                "schedule": self.schedule, "lam": self.lam,
                "lam_start": self.lam_start, "lam_end": self.lam_end,
                "lam_boundaries": list(self.lam_boundaries),
                "lam_values": list(self.lam_values),
                "burn_in_epochs": self.burn_in_epochs,
                "total_epochs": self.total_epochs}


def make_weighting(spec=None):
    """A weighting from a spec: a name, {"name": ..., options}, a
    weighting, or None (uniform).

    >>> make_weighting({"name": "gairat", "lam": 0.0}).lam
    0.0
    """
    return WEIGHTINGS.build(spec)
