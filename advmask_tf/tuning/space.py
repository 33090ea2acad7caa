"""The search space: a KerasTuner HyperModel over a base experiment config.

`config.tune` says what is searched (an empty tuple keeps the base value):

- method parts: `methods` (method.name; each objective brings its own
  random start when attack.random_start is "auto"), `radius_policies`
  (radius.policy, e.g. fixed / adaptive for IAAT), `weightings`
  (weighting.name, e.g. uniform / gairat);
- `eps`: choices of the training eps (the attack step keeps its ratio to
  eps, the evaluation eps stays the base one);
- every option declared tunable (`advmask_tf.options.Tunable`), as a
  (low, high) range in `tune.<option>`: train.learning_rate, and the parts'
  own (TRADES' and MART's beta, IAAT's gamma, GAIRAT's lam, mixed's
  adv_weight), each searched only for the parts that declare it, on the
  scale its declaration gives.
"""

from __future__ import annotations

import dataclasses
import itertools

import keras_tuner
import ml_collections

from advmask_tf import runs
from advmask_tf.configs_lib import PART_SECTIONS, name_field, tunable_options
from advmask_tf.data import build_data
from advmask_tf.errors import InputError
from advmask_tf.options import declared
from advmask_tf.runs.guides import guide_kind

# config.tune field -> (hyper-parameter name, the part section it chooses)
CHOICES = {
    "methods": ("method", "method"),
    "radius_policies": ("radius_policy", "radius"),
    "weightings": ("weighting", "weighting"),
}


@dataclasses.dataclass(frozen=True)
class SearchedRange:
    """One tunable option: its config field, the parts that take it (None:
    not a part's option) and its scale."""

    section: str
    name: str
    log: bool
    choice: str | None = None      # the hyper-parameter choosing the part
    parts: tuple = ()              # the part names that declare the option


def searched_ranges() -> list:
    """Every tunable option, from the declarations."""
    by_section = {section: hp for hp, section in CHOICES.values()}
    ranges = []
    for name, (section, option) in tunable_options().items():
        parts = ()
        if section in PART_SECTIONS:
            registry, _ = PART_SECTIONS[section]
            parts = tuple(part for part in registry.names() if name in {
                d.name for d in declared(registry.get(part).Options)})
        ranges.append(SearchedRange(
            section, name, bool(option.tune.log),
            by_section.get(section) if parts else None, parts))
    return ranges


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
        self.ranges = [(searched, _range(searched.name,
                                         base.tune[searched.name]))
                       for searched in searched_ranges()]
        self._data = None

    def _chosen(self, hp, field):
        name, section = CHOICES[field]
        choices = [str(v) for v in self.base.tune[field]]
        if choices:
            return hp.Choice(name, choices)
        return str(self.base[section][name_field(PART_SECTIONS[section][0])])

    def check(self) -> None:
        """Raises InputError when a range searches an option no possible
        part takes, or when some combination of the searched method parts
        (with every range at its low end) is not a valid config."""
        if tuple(self.base.tune.eps) and not float(self.base.attack.eps) > 0:
            raise InputError(
                "tune.eps keeps each trial's attack.step_size / attack.eps "
                "at the base config's ratio, which attack.eps=0 leaves "
                f"undefined; set attack.eps (and attack.step_size) to one of "
                f"tune.eps={tuple(self.base.tune.eps)}.")
        for searched, bounds in self.ranges:
            if bounds is None or not searched.parts:
                continue
            field = next(f for f, (hp, _) in CHOICES.items()
                         if hp == searched.choice)
            section = searched.section
            possible = set(map(str, self.base.tune[field])) or {str(
                self.base[section][name_field(PART_SECTIONS[section][0])])}
            if not possible & set(searched.parts):
                raise InputError(
                    f"tune.{searched.name} searches {section}."
                    f"{searched.name}, which {sorted(possible)} do not take "
                    f"(it belongs to {list(searched.parts)}); choose one of "
                    f"those in tune.{field} or set tune.{searched.name}=().")
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
        for field, (name, section) in CHOICES.items():
            chosen[name] = self._chosen(hp, field)
            key = name_field(PART_SECTIONS[section][0])
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
        for option, bounds in self.ranges:
            if bounds is None:
                continue
            name, choice = option.name, option.choice
            sampling = "log" if option.log else "linear"
            if choice is None:
                value = hp.Float(name, *bounds, sampling=sampling)
            elif searched[choice]:
                # Declared in its scope whether active or not: that is how
                # KerasTuner's oracle learns the conditional hyper-parameter
                # (inactive, it returns None).
                with hp.conditional_scope(choice, list(option.parts)):
                    value = hp.Float(name, *bounds, sampling=sampling)
            elif chosen[choice] in option.parts:
                value = hp.Float(name, *bounds, sampling=sampling)
            else:
                continue  # the fixed part does not take it (see check())
            if value is not None:
                config[option.section][name] = float(value)
        return config

    def build(self, hp):
        """The trial's compiled `AdversarialModel`, for a plain `fit`."""
        config = self.trial_config(hp)
        if self._data is None:
            self._data = build_data(config.data,
                                    int(config.train.batch_size),
                                    int(config.seed))
        network = runs.build_network(config, self._data)
        # HAT's helper: a network of its shape, whose weights come with the
        # trial's checkpoint (the model's weights hold the guide's).
        helper = (runs.build_network(config, self._data)
                  if guide_kind(config) == "frozen" else None)
        model = runs.build_adversarial_model(config, network,
                                             self._data.num_train,
                                             guide=helper)
        steps = int(self._data.num_train // int(config.train.batch_size))
        model.compile(optimizer=runs.make_optimizer(config.train,
                                                          max(steps, 1)))
        return model
