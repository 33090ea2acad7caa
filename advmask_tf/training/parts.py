"""Building a training part (radius policy, weighting) from its spec."""

from __future__ import annotations


def build_part(spec, key: str, registry: dict, default: str, what: str):
    """An instance from None (the default kind), an instance of a registered
    class, or a dict naming the kind under `key` plus constructor arguments.

    >>> class Plain:
    ...     def __init__(self, size=1):
    ...         self.size = size
    >>> build_part({"kind": "plain", "size": 3}, "kind", {"plain": Plain},
    ...            "plain", "part").size
    3
    """
    if spec is None:
        return registry[default]()
    if isinstance(spec, tuple(registry.values())):
        return spec
    spec = dict(spec)
    kind = spec.pop(key, default)
    if kind not in registry:
        raise ValueError(f"Unknown {what} {kind!r}; expected one of "
                         f"{sorted(registry)}.")
    return registry[kind](**spec)
