"""Declared options: each option of a part or a config section is declared
once, as a field of a dataclass, with its type (from its default), its
default, the values it accepts and a one-line help. The config blocks, their
range checks, the tools' --help text and the documentation's config
reference are all derived from these declarations.

Example:

>>> import dataclasses
>>> @dataclasses.dataclass(frozen=True)
... class ToyOptions:
...     beta: float = option(6.0, "weight of the KL term", number(low=0))
...     rule: str = option("paper", "the update rule",
...                        one_of("paper", "code"))
>>> checked_options("method", ToyOptions, {"beta": 1})
ToyOptions(beta=1.0, rule='paper')
>>> checked_options("method", ToyOptions, {"beta": -1.0})
Traceback (most recent call last):
...
advmask_tf.errors.InputError: method.beta must be a number >= 0; ...
>>> config_block(ToyOptions).to_dict()
{'beta': 6.0, 'rule': 'paper'}
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import ml_collections

from advmask_tf.errors import InputError


@dataclasses.dataclass(frozen=True)
class Accepts:
    """What an option accepts: a test and its description in words."""

    test: Callable[[Any], bool]
    #: in words; a callable for a description read when it is shown
    #: (the registered attacks' names).
    description: str | Callable[[], str]

    def words(self) -> str:
        return self.description() if callable(self.description) \
            else self.description

    def __call__(self, value) -> bool:
        try:
            return bool(self.test(value))
        except (TypeError, ValueError, OverflowError):
            return False


def _real(value) -> float:
    if isinstance(value, bool) or isinstance(value, str):
        raise TypeError(value)
    return float(value)


def _within(value: float, low, high, low_open, high_open) -> bool:
    if low is not None and (value < low or (low_open and value == low)):
        return False
    return high is None or (value < high or (not high_open and value == high))


def _bounds(low, high, low_open, high_open) -> str:
    if low is not None and high is not None:
        return (f"in {'(' if low_open else '['}{low:g}, {high:g}"
                f"{')' if high_open else ']'}")
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


def _with_note(text: str, note: str) -> str:
    return f"{text} ({note})" if note else text


def number(low=None, high=None, *, low_open=False, high_open=False,
           allow_inf=False, note="") -> Accepts:
    """A real number in a range (finite unless `allow_inf`).

    >>> number(0, 1, high_open=True).description
    'a number in [0, 1)'
    """
    def test(value):
        value = _real(value)
        if math.isnan(value) or (math.isinf(value) and not (
                allow_inf and value > 0)):
            return False
        return _within(value, low, high, low_open, high_open)
    words = " ".join(filter(None, ["a number",
                                   _bounds(low, high, low_open, high_open)]))
    if allow_inf:
        words += " or +inf"
    return Accepts(test, _with_note(words, note))


def integer(low=None, high=None, *, note="") -> Accepts:
    """A whole number in a range.

    >>> integer(1).description, integer(1)(2.5), integer(1)(3)
    ('an integer >= 1', False, True)
    """
    def test(value):
        value = _real(value)
        return value == int(value) and _within(value, low, high, False,
                                               False)
    words = " ".join(filter(None, ["an integer",
                                   _bounds(low, high, False, False)]))
    return Accepts(test, _with_note(words, note))


def one_of(*choices, note="") -> Accepts:
    """One of the given values.

    >>> one_of("adam", "sgd").description
    "one of ('adam', 'sgd')"
    """
    return Accepts(lambda value: value in choices,
                   _with_note(f"one of {choices}", note))


def numbers(low=None, high=None, *, at_least: int = 0, note="") -> Accepts:
    """A tuple of `at_least` or more finite numbers, each in [low, high].

    >>> numbers(0, 1, at_least=2).description
    'a tuple of at least 2 numbers in [0, 1]'
    """
    each = number(low, high)
    words = f"a tuple of at least {at_least} numbers" if at_least else \
        "a tuple of numbers"
    if low is not None or high is not None:
        words += " " + _bounds(low, high, False, False)
    return Accepts(lambda value: isinstance(value, (tuple, list))
                   and len(value) >= at_least and all(each(v) for v in value),
                   _with_note(words, note))


def text(note="") -> Accepts:
    """Any string."""
    return Accepts(lambda value: isinstance(value, str),
                   _with_note("a string", note))


def texts(note="") -> Accepts:
    """A tuple of strings."""
    return Accepts(lambda value: isinstance(value, (tuple, list)) and all(
        isinstance(v, str) for v in value), _with_note("a tuple of strings",
                                                       note))


def flag(note="") -> Accepts:
    """True or False."""
    return Accepts(lambda value: isinstance(value, bool),
                   _with_note("True or False", note))


@dataclasses.dataclass(frozen=True)
class Tunable:
    """How KerasTuner searches an option: a (low, high) range from the
    `tune.<name>` config field, on a log or a linear scale."""

    log: bool = False


def option(default, help: str, accepts: Accepts | None = None, *,
           tune: Tunable | None = None, in_config: bool = True):
    """Declares one option as a dataclass field.

    Args:
        default: the value when none is given; its type is the option's.
        help: one line saying what the option does.
        accepts: the values it accepts (None: any of the default's type).
        tune: set when KerasTuner may search it (see `Tunable`).
        in_config: False for an option a part takes from other config
            fields (IAAT's warmup radius is attack.eps), not from its block.
    """
    metadata = {"help": help, "accepts": accepts, "tune": tune,
                "in_config": in_config}
    if isinstance(default, (dict, list)) or dataclasses.is_dataclass(default):
        factory = default if isinstance(default, type) else (
            lambda: type(default)(default))
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class Declared:
    """One declared option, as the tools and docs read it."""

    name: str
    default: Any
    help: str
    accepts: Accepts | None
    tune: Tunable | None
    in_config: bool

    @property
    def nested(self) -> bool:
        """A sub-block (its default is a schema of its own)."""
        return dataclasses.is_dataclass(self.default)

    def describe(self) -> str:
        if self.accepts is not None:
            return self.accepts.words()
        return f"a {type(self.default).__name__}"


def declared(schema) -> list[Declared]:
    """The options a schema (a dataclass, or an instance) declares, in
    order.

    >>> [d.name for d in declared(NoOptions)]
    []
    """
    out = []
    for field in dataclasses.fields(schema):
        if field.default is not dataclasses.MISSING:
            default = field.default
        else:
            default = field.default_factory()
        meta = field.metadata
        out.append(Declared(field.name, default, meta.get("help", ""),
                            meta.get("accepts"), meta.get("tune"),
                            meta.get("in_config", True)))
    return out


def _coerced(default, value):
    """`value` in the type of `default` (numbers of a config may arrive
    as ints for float fields, tuples as lists)."""
    if isinstance(default, bool) or value is None:
        return value
    if isinstance(default, float) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, int) and not isinstance(value, bool):
        return int(value)
    if isinstance(default, tuple):
        return tuple(value)
    return value


def check_value(section: str, option: Declared, value):
    """`value` coerced to the option's type, or an InputError naming
    `section.option`, the value received and what is accepted."""
    accepts = option.accepts
    wrong_type = accepts is None and not isinstance(
        value, type(option.default)) and not (
        isinstance(option.default, float) and isinstance(value, int))
    if (accepts is not None and not accepts(value)) or wrong_type:
        raise InputError(f"{section}.{option.name} must be "
                         f"{option.describe()}; received {value!r}.")
    return _coerced(option.default, value)


def checked_options(section: str, schema, values: dict):
    """An instance of `schema` from `values` (a subset of its options),
    each checked; unknown names are refused, naming the known ones."""
    options = {d.name: d for d in declared(schema)}
    unknown = sorted(set(values) - set(options))
    if unknown:
        raise InputError(
            f"{section} has no option {unknown[0]!r} here; its options are "
            f"{sorted(options)}.")
    checked = {name: check_value(section, options[name], value)
               for name, value in values.items()}
    return schema(**checked)


def as_config(options) -> dict:
    """A schema instance as plain JSON-ready values (tuples as lists)."""
    def plain(value):
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        return value
    return {k: plain(v) for k, v in dataclasses.asdict(options).items()}


def config_block(*schemas) -> ml_collections.ConfigDict:
    """The config block of one or more schemas: every option declared
    `in_config`, at its default (sub-blocks nested)."""
    block = {}
    for schema in schemas:
        for option in declared(schema):
            if not option.in_config:
                continue
            if option.nested:
                block[option.name] = config_block(type(option.default))
            elif isinstance(option.default, dict):
                block[option.name] = ml_collections.ConfigDict(
                    option.default)
            else:
                block[option.name] = option.default
    return ml_collections.ConfigDict(block)


def check_block(section: str, block, *schemas) -> None:
    """Checks every declared field of a config block (and its sub-blocks)."""
    for schema in schemas:
        for option in declared(schema):
            if not option.in_config or option.name not in block:
                continue
            if option.nested:
                check_block(f"{section}.{option.name}", block[option.name],
                            type(option.default))
            elif not isinstance(option.default, dict):
                check_value(section, option, block[option.name])


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """The schema of a part without options."""
