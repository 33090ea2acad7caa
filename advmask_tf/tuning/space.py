"""The search space: a KerasTuner HyperModel over a base experiment config.

`config.tune` says what is searched (an empty tuple keeps the base value):

- method parts: `methods` (method.name; each objective brings its own
  random start when attack.random_start is "auto"), `radius_policies` (radius.policy,
  e.g. fixed / adaptive for IAAT), `weightings` (weighting.name, e.g.
  uniform / gairat);
- hyper-parameters: `eps` (choices of the training eps; the attack step
  keeps its ratio to eps, the evaluation eps stays the base one),
  `learning_rate`, and the methods' own, each only where it applies:
  `beta` (trades), `gamma` (adaptive radii), `lam` (gairat weights),
  `adv_weight` (mixed). Ranges are (low, high), searched on a log scale for
  `learning_rate` and `beta`, linearly otherwise.
"""

from __future__ import annotations

import itertools

import keras_tuner
import ml_collections

from advmask_tf import runs
from advmask_tf.data import build_data
from advmask_tf.errors import InputError

# config.tune field (also the hyper-parameter's name) -> (config field, the
# choice that activates it (parent name, value) or None, log scale)
RANGES = {
    "learning_rate": (("train", "learning_rate"), None, True),
    "beta": (("method", "beta"), ("method", "trades"), True),
    "gamma": (("radius", "gamma"), ("radius_policy", "adaptive"), False),
    "lam": (("weighting", "lam"), ("weighting", "gairat"), False),
    "adv_weight": (("method", "adv_weight"), ("method", "mixed"), False),
}
# config.tune field -> (hyper-parameter name, config field)
CHOICES = {
    "methods": ("method", ("method", "name")),
    "radius_policies": ("radius_policy", ("radius", "policy")),
    "weightings": ("weighting", ("weighting", "name")),
}


def _range(name, value):
    value = tuple(value)
    if not value:
        return None
    if len(value) != 2 or not value[0] < value[1]:
        raise InputError(f"tune.{name} must be () or (low, high) with low < "
                         f"high; received {value}.")
    return float(value[0]), float(value[1])


class AdversarialHyperModel(keras_tuner.HyperModel):
    """Turns KerasTuner hyper-parameters into a trial's experiment config.

    Example:

    >>> from advmask_tf.configs_lib import base_config
    >>> base = base_config()
    >>> base.tune.methods = ("madry", "trades")
    >>> base.tune.beta = (1.0, 10.0)
    >>> hypermodel = AdversarialHyperModel(base)
    >>> hp = keras_tuner.HyperParameters()
    >>> hp.values["method"] = "trades"
    >>> config = hypermodel.trial_config(hp)
    >>> config.method.name, 1.0 <= config.method.beta <= 10.0
    ('trades', True)
    """

    def __init__(self, base: ml_collections.ConfigDict, **kwargs):
        super().__init__(**kwargs)
        self.base = base
        self.ranges = {name: _range(name, base.tune[name])
                       for name in RANGES}
        self._data = None

    def _chosen(self, hp, field):
        name, (section, key) = CHOICES[field]
        choices = [str(v) for v in self.base.tune[field]]
        if choices:
            return hp.Choice(name, choices)
        return str(self.base[section][key])

    def check(self) -> None:
        """Raises ValueError when some combination of the searched method
        parts (with every range at its low end) is not a valid config."""
        fields = [f for f in CHOICES if tuple(self.base.tune[f])]
        for combination in itertools.product(
                *(tuple(self.base.tune[f]) for f in fields)):
            hp = keras_tuner.HyperParameters()
            for field, value in zip(fields, combination):
                hp.values[CHOICES[field][0]] = str(value)
            try:
                runs.check_config(self.trial_config(hp))
            except InputError as error:
                chosen = dict(zip(fields, combination))
                raise InputError(f"config.tune choice {chosen} gives a bad "
                                 f"config: {error}") from None

    def trial_config(self, hp) -> ml_collections.ConfigDict:
        """The base config with this trial's choices and values."""
        config = ml_collections.ConfigDict(self.base.to_dict())
        chosen = {}
        for field, (name, (section, key)) in CHOICES.items():
            chosen[name] = self._chosen(hp, field)
            config[section][key] = chosen[name]
        if tuple(self.base.tune.eps):
            eps = hp.Choice("eps", [float(v) for v in self.base.tune.eps])
            ratio = self.base.attack.step_size / self.base.attack.eps
            config.attack.eps = float(eps)
            config.attack.step_size = float(eps) * ratio
        if config.eval.eps < 0:  # every trial is judged at the same eps
            config.eval.eps = float(self.base.attack.eps)
        searched = {name: bool(tuple(self.base.tune[field]))
                    for field, (name, _) in CHOICES.items()}
        for name, ((section, key), parent, log) in RANGES.items():
            bounds = self.ranges[name]
            if bounds is None:
                continue
            sampling = "log" if log else "linear"
            if parent is None:
                value = hp.Float(name, *bounds, sampling=sampling)
            elif searched[parent[0]]:
                # Declared in its scope whether active or not: that is how
                # KerasTuner's oracle learns the conditional hyper-parameter
                # (inactive, it returns None).
                with hp.conditional_scope(parent[0], [parent[1]]):
                    value = hp.Float(name, *bounds, sampling=sampling)
            elif chosen[parent[0]] == parent[1]:
                value = hp.Float(name, *bounds, sampling=sampling)
            else:
                continue  # e.g. beta when the method is fixed to madry
            if value is not None:
                config[section][key] = float(value)
        return config

    def build(self, hp):
        """The trial's compiled `AdversarialModel`, for a plain `fit`."""
        config = self.trial_config(hp)
        if self._data is None:
            self._data = build_data(config.data,
                                    int(config.train.batch_size),
                                    int(config.seed))
        network = runs.build_network(config, self._data)
        model = runs.build_adversarial_model(config, network,
                                                   self._data.num_train)
        steps = int(self._data.num_train // int(config.train.batch_size))
        model.compile(optimizer=runs.make_optimizer(config.train,
                                                          max(steps, 1)))
        return model
