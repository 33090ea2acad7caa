"""The config reference, generated from the declarations: a markdown
table for the documentation (docs/config-reference.md, written by
scripts/config_reference.py) and the lines the tools' --help shows.
"""

from __future__ import annotations

from advmask_tf.config_sections import PART_SECTIONS, RunOptions, TuneOptions
from advmask_tf.configs_lib import (
    SECTIONS,
    name_field,
    part_schemas,
    tunable_options,
)
from advmask_tf.options import declared


def _owners(section: str) -> dict:
    """{option name: the part names declaring it} of a part section."""
    registry, extra = PART_SECTIONS[section]
    owners = {}
    for name in registry.names():
        for option_ in declared(registry.get(name).Options):
            owners.setdefault(option_.name, []).append(name)
    for schema in extra:
        for option_ in declared(schema):
            owners.setdefault(option_.name, [])
    return owners


def reference_rows():
    """(field, default, accepted values, help) of every config field, from
    the declarations, section by section."""
    rows = []

    def add(prefix, schemas, owners=None):
        for schema in schemas:
            for option_ in declared(schema):
                if not option_.in_config:
                    continue
                field = f"{prefix}{option_.name}"
                if option_.nested:
                    add(f"{field}.", (type(option_.default),))
                    continue
                help_ = option_.help
                if owners and owners.get(option_.name):
                    help_ += f" [{', '.join(owners[option_.name])}]"
                accepts = option_.describe() if option_.accepts else "any"
                rows.append((field, repr(option_.default), accepts, help_))

    add("", (RunOptions,))
    for section, schemas in SECTIONS.items():
        add(f"{section}.", schemas)
    for section, (registry, _) in PART_SECTIONS.items():
        rows.append((f"{section}.{name_field(registry)}",
                     repr(registry.default), f"one of {registry.names()}",
                     f"the {registry.kind}"))
        add(f"{section}.", part_schemas(section), _owners(section))
    add("tune.", (TuneOptions,))
    for name, (section, _) in tunable_options().items():
        rows.append((f"tune.{name}", "()", "() or (low, high)",
                     f"KerasTuner's range for {section}.{name}"))
    return rows


def reference_markdown() -> str:
    """The config reference as a markdown table (the docs' page).

    >>> print(reference_markdown().splitlines()[6])
    | `seed` | `0` | an integer >= 0 | seed of the data order, ... |
    """
    lines = ["# Config reference", "",
             "Every field of `base_config()`, generated from the options "
             "each part and section declares (`advmask_tf.configs_lib`). "
             "Set any of them with `--config.<field>=<value>`; the parts "
             "that take a part block's option are in brackets.", "",
             "| field | default | accepts | what it does |",
             "| --- | --- | --- | --- |"]
    for field, default, accepts, help_ in reference_rows():
        cell = help_.replace("|", "\\|")
        lines.append(f"| `{field}` | `{default}` | {accepts} | {cell} |")
    return "\n".join(lines) + "\n"


def reference_text() -> str:
    """The config reference for --help: a line per field."""
    return "\n".join(f"  --config.{field}={default}  {help_} ({accepts})"
                     for field, default, accepts, help_ in reference_rows())
