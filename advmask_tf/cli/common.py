"""What the command-line apps share."""

from __future__ import annotations

import difflib
import json
import os
import re
import sys
import traceback

from absl import app, flags

from advmask_tf.config_reference import reference_text
from advmask_tf.configs_lib import base_config
from advmask_tf.errors import InputError
from advmask_tf.evaluation.reports import report_markdown
from advmask_tf.runs import resolved

DEFAULT_CONFIG = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__)))), "configs", "fashion_mnist_main.py")


class CommandLineError(InputError):
    """A flag combination a tool cannot run (reported in one line)."""


def float_list(values, flag: str) -> list[float]:
    """The numbers of a list flag, or an error naming the flag.

    >>> float_list(["0", "0.1"], "eps_sweep")
    [0.0, 0.1]
    >>> float_list(["0.1", "big"], "eps_sweep")
    Traceback (most recent call last):
    ...
    advmask_tf.cli.common.CommandLineError: --eps_sweep takes numbers; ...
    """
    try:
        return [float(v) for v in values]
    except ValueError:
        raise CommandLineError(f"--{flag} takes numbers; received "
                               f"{values}") from None


def check_no_arguments(argv) -> None:
    if len(argv) > 1:
        raise CommandLineError(f"unexpected arguments {argv[1:]}; every "
                               "setting is a --flag (see --help)")


def _config_overrides(argv) -> list[str]:
    """The dotted fields set by --config.<field>=<value> arguments."""
    return [arg[len("--config."):].partition("=")[0] for arg in argv
            if arg.startswith("--config.")]


def _nearest_field(block_path: list, name: str) -> str | None:
    """The field of the config block at `block_path` spelt most like
    `name` (ml_collections suggests only some), or None.

    >>> _nearest_field(["train"], "epoks")
    'epochs'
    """
    block = base_config()
    for key in block_path:
        if key not in block:
            return None
        block = block[key]
    if not hasattr(block, "keys"):
        return None
    close = difflib.get_close_matches(name, list(block.keys()), n=1,
                                      cutoff=0.6)
    return close[0] if close else None


def unknown_field_line(error: KeyError | AttributeError, argv=()) -> str:
    r"""ml_collections' error for a misspelt --config field, as one line
    naming the whole field set on the command line and the nearest
    spelling.

    >>> error = AttributeError(KeyError(
    ...     "'epoch'\nDid you mean \"epochs\" instead of \"epoch\"?"))
    >>> unknown_field_line(error, ["--config.train.epoch=3"])
    '--config.train.epoch: no such field; did you mean --config.train.epochs?'
    """
    inner = error.args[0] if error.args else ""
    while isinstance(inner, KeyError) and inner.args:
        inner = inner.args[0]
    name, _, hint = str(inner).partition("\n")
    name = name.strip().strip("'\"")
    matches = re.search(r'Did you mean "([^"]+)"', hint)
    for path in _config_overrides(argv):
        parts = path.split(".")
        if name in parts:
            cut = parts.index(name)
            field = ".".join(parts[:cut + 1])
            line = f"--config.{field}: no such field"
            nearest = matches.group(1) if matches else _nearest_field(
                parts[:cut], name)
            if nearest:
                line += "; did you mean --config." + ".".join(
                    parts[:cut] + [nearest]) + "?"
            return line
    return f"--config has no field {name!r}" + (
        f"; did you mean {matches.group(1)!r}?" if matches else "")


def _config_path(argv) -> str | None:
    for position, arg in enumerate(argv):
        if arg.startswith("--config="):
            return arg.partition("=")[2]
        if arg == "--config" and position + 1 < len(argv):
            return argv[position + 1]
    return None


def config_file_line(error: BaseException, argv=()) -> str | None:
    """One line for a --config file that cannot be read: missing (named
    with the folder a relative path is read from), not Python, without
    get_config(), or raising in it; None when `error` did not come from
    loading that file."""
    path = _config_path(argv)
    if not path:
        return None
    full = os.path.abspath(path)
    if isinstance(error, SyntaxError) and error.filename and \
            os.path.abspath(error.filename) == full:
        return (f"--config: {path} is not valid Python (line "
                f"{error.lineno}: {error.msg}).")
    frames = traceback.extract_tb(error.__traceback__)
    in_file = [f for f in frames if os.path.abspath(f.filename) == full]
    if in_file:
        return (f"--config: {path} line {in_file[-1].lineno}: get_config() "
                f"raised {type(error).__name__}: {error}")
    if not frames or "ml_collections" not in frames[-1].filename:
        return None
    if isinstance(error, OSError) and "Failed loading config" in str(error):
        if not os.path.exists(full):
            return (f"--config: {path} does not exist (a relative path is "
                    f"read from the current folder, {os.getcwd()}).")
        return f"--config: {path} cannot be loaded as a config file."
    if isinstance(error, AttributeError) and "get_config" in str(error):
        return (f"--config: {path} defines no get_config() returning the "
                "config (see configs/ for examples).")
    return None


def input_error_line(error: BaseException, argv=()) -> str | None:
    """The one line an input error is reported in, or None for a bug (which
    keeps its traceback): an `InputError`, a --config file that cannot be
    read, or a misspelt --config field.

    >>> input_error_line(InputError("train.epochs must be ..."))
    'train.epochs must be ...'
    >>> input_error_line(ZeroDivisionError("division by zero")) is None
    True
    """
    if isinstance(error, InputError):
        return " ".join(str(error).split())
    line = config_file_line(error, argv)
    if line is not None:
        return " ".join(line.split())
    if isinstance(error, (KeyError, AttributeError)) and \
            from_a_config_field(error):
        return unknown_field_line(error, argv)
    return None


CONFIG_HELP = """
Config fields: every field of the --config file (advmask_tf.configs_lib's
base_config(), derived from the options each part declares) is set with
--config.<section>.<field>=<value>, e.g. --config.train.epochs=5
--config.attack.eps=0.1; --print_config prints the resolved config and
exits (advmask-train, advmask-tune). The fields, their defaults and what
they accept:
"""


HELP_FLAGS = {"--help", "-h", "-?", "--helpshort", "--helpfull"}


def show_in_help(module, takes_config: bool = True) -> None:
    """Makes --help describe the tool: its module docstring (with how to set
    --config fields) and its own flags, which absl lists only for the
    launcher's module otherwise."""
    main = sys.modules["__main__"]
    main.__doc__ = (module.__doc__ or "") + (
        CONFIG_HELP + reference_text() + "\n" if takes_config else "")
    for flag in flags.FLAGS.flags_by_module_dict().get(module.__name__, []):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)


def print_config_and_exit(config) -> None:
    """--print_config: the resolved config as JSON; nothing else runs."""
    print(json.dumps(resolved(config), indent=2, sort_keys=True))
    sys.exit(0)


def run_tool(main, name: str, define_flags=None) -> None:
    """`app.run(main)` (after `define_flags()`, if given), with every input
    error reported as one line `<name>: error: ...` and exit status 2: an
    `InputError` (a value a part refuses, a missing file, a busy work
    directory, a disk that cannot take a write) or a typo in a --config
    field. Anything else is a bug: its traceback is printed with a line
    saying so, and the exit status is 1."""
    try:
        if define_flags is not None:
            define_flags()
        show_in_help(sys.modules[main.__module__],
                     takes_config=define_flags is not None)
        app.run(main)
    except SystemExit as stop:
        # absl ends --help with status 1; a help that was asked for is no
        # failure.
        if stop.code == 1 and set(sys.argv[1:]) & HELP_FLAGS:
            sys.exit(0)
        raise
    except KeyboardInterrupt:
        print(f"{name}: interrupted; re-run the same command to resume "
              "(a work directory keeps its last finished epoch).",
              file=sys.stderr, flush=True)
        sys.exit(130)
    except Exception as error:
        line = input_error_line(error, sys.argv[1:])
        if line is None:
            report_bug(name)
            raise
        print(f"{name}: error: {line}", file=sys.stderr, flush=True)
        sys.exit(2)


def report_bug(name: str) -> None:
    """The line printed above a bug's traceback."""
    print(f"{name}: internal error (a bug in advmask_tf, not in your "
          "input): please report it with the traceback below.",
          file=sys.stderr, flush=True)


def from_a_config_field(error: KeyError | AttributeError) -> bool:
    """Whether a KeyError (or AttributeError) is ml_collections' for an
    unknown config field (the typo in --config.<field>) rather than a bug
    elsewhere."""
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and "ml_collections" in frames[-1].filename


def print_report(title: str, report: dict) -> None:
    """Prints an evaluation report: accuracies, ensemble stages, checks."""
    print("\n" + report_markdown(title, report), flush=True)
