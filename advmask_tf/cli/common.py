"""What the command-line apps share."""

from __future__ import annotations

import json
import os
import sys
import traceback

from absl import app, flags

from advmask_tf.config_reference import reference_text
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


def one_line(error: BaseException) -> str:
    """An exception as one line: a config field's KeyError (a typo in
    --config.<field>) with its nearest spelling, others by their message.

    >>> one_line(KeyError("'trian'\\nDid you mean \\"train\\" instead of \\"trian\\"?"))
    '--config has no field \\'trian\\'; did you mean "train" instead of "trian"?'
    """
    if isinstance(error, (KeyError, AttributeError)):
        # ml_collections: KeyError for a section, AttributeError for a
        # leaf field (no spelling hint then).
        message = str(error.args[0]) if error.args else ""
        message = message.strip('"') if isinstance(error, AttributeError) \
            else message
        field, _, hint = message.partition("\n")
        text = f"--config has no field {field}"
        if hint:
            text += "; " + hint[0].lower() + hint[1:]
        return text
    return " ".join(str(error).split())


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
    except (InputError, KeyError, AttributeError) as error:
        if not isinstance(error, InputError) and \
                not from_a_config_field(error):
            report_bug(name)
            raise
        print(f"{name}: error: {one_line(error)}", file=sys.stderr,
              flush=True)
        sys.exit(2)
    except Exception:
        report_bug(name)
        raise


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
