"""One registry mechanism for every kind of part (objective, radius policy,
instance weighting, attack), so each is specified the same way: a name plus
its options.

A spec is a name (``"trades"``), a dict naming the kind under ``"name"``
with the constructor's options (``{"name": "trades", "beta": 6.0}``), an
instance (used as is) or None (the registry's default).
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any, Callable

from advmask_tf.errors import InputError
from advmask_tf.options import NoOptions, as_config, checked_options, declared


class Registry:
    """Name -> factory of one kind of part.

    Example:

    >>> parts = Registry("toy part", field="toy.name", default="plain")
    >>> @parts.register("plain")
    ... class Plain:
    ...     def __init__(self, size=1):
    ...         self.size = size
    >>> parts.build({"name": "plain", "size": 3}).size
    3
    >>> parts.build(None).size
    1
    >>> parts.build("plane")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    advmask_tf.errors.InputError: Unknown toy.name 'plane'; expected one of ...
    """

    def __init__(self, kind: str, field: str, default: str | None = None,
                 base: type | None = None):
        self.kind = kind
        self.field = field
        self.default = default
        #: the contract every registered factory subclasses, if any.
        self.base = base
        self._factories: dict[str, Callable[..., Any]] = {}

    def register(self, name: str, factory: Callable[..., Any] | None = None):
        """Registers `factory` under `name`; usable as a decorator."""
        def add(factory):
            if self.base is not None and not (
                    isinstance(factory, type)
                    and issubclass(factory, self.base)):
                raise TypeError(f"{self.kind} {name!r} must subclass "
                                f"{self.base.__name__}; received "
                                f"{factory!r}.")
            if name in self._factories and self._factories[name] is not factory:
                raise ValueError(f"{self.kind} {name!r} is registered already "
                                 f"({self._factories[name]!r}).")
            self._factories[name] = factory
            return factory

        return add(factory) if factory is not None else add

    def is_default(self, part) -> bool:
        """Whether `part` is this registry's default kind (the one that
        changes nothing: a fixed radius, uniform weights)."""
        return part.name == self.default

    def unregister(self, name: str) -> None:
        """Removes `name` (tests that register a toy part clean up)."""
        self._factories.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name) -> bool:
        return name in self._factories

    def get(self, name: str) -> Callable[..., Any]:
        """The factory registered under `name`, or a ValueError naming the
        field, the value received and the accepted names."""
        if name not in self._factories:
            close = difflib.get_close_matches(str(name), self.names(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InputError(f"Unknown {self.field} {name!r}; expected one of "
                             f"{self.names()}{hint}.")
        return self._factories[name]

    def build(self, spec=None):
        """An instance from a spec (see the module docstring)."""
        if spec is None:
            if self.default is None:
                raise InputError(f"{self.field} must be given; expected one "
                                 f"of {self.names()}.")
            spec = self.default
        if isinstance(spec, str):
            return self.get(spec)()
        if isinstance(spec, dict):
            options = dict(spec)
            name = options.pop("name", self.default)
            return self.get(name)(**options)
        factories = tuple(f for f in self._factories.values()
                          if isinstance(f, type))
        if factories and isinstance(spec, factories):
            return spec
        raise InputError(f"{self.field} must be a name, a dict with 'name' "
                         f"and options, or a {self.kind}; received {spec!r}.")


class Part:
    """Base of a training part with declared options (objectives, radius
    policies, instance weightings).

    A subclass sets `name`, `section` (its config block: "method",
    "radius", "weighting") and `Options`, a frozen dataclass whose fields
    are declared with `advmask_tf.options.option`. The constructor takes
    those options by name, checks each (an error names
    `<section>.<option>`, the value received and what is accepted) and
    sets them as attributes; `get_config` returns them with the name. Its
    config block is derived from the declarations, so an option exists in
    the config exactly when a part declares it.

    >>> import dataclasses
    >>> from advmask_tf.options import number, option
    >>> class Scaled(Part):
    ...     name, section = "scaled", "toy"
    ...     @dataclasses.dataclass(frozen=True)
    ...     class Options:
    ...         scale: float = option(1.0, "the factor", number(low=0))
    >>> Scaled(scale=2).get_config()
    {'name': 'scaled', 'scale': 2.0}
    >>> Scaled(size=2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    advmask_tf.errors.InputError: toy has no option 'size' here; its ...
    """

    name = "part"
    section = "part"
    Options = NoOptions

    def __init__(self, **options):
        self.options = checked_options(self.section, self.Options, options)
        for field in dataclasses.fields(self.options):
            setattr(self, field.name, getattr(self.options, field.name))

    @classmethod
    def options_from_config(cls, config) -> dict:
        """This part's options from an experiment config: the fields of its
        block that it declares. A part whose options derive from other
        fields (IAAT's warmup radius is attack.eps) extends this."""
        block = config[cls.section]
        return {d.name: block[d.name] for d in declared(cls.Options)
                if d.in_config}

    def warnings(self) -> list[str]:
        """Settings that run but cannot do what they say (printed before a
        run starts)."""
        return []

    def get_config(self) -> dict:
        """The spec that rebuilds this part ({"name": ..., options})."""
        return {"name": self.name, **as_config(self.options)}
