"""What the command-line apps share."""

from __future__ import annotations

import os

from absl import app

from advmask_tf.evaluation.reports import report_markdown

DEFAULT_CONFIG = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__)))), "configs", "fashion_mnist_madry.py")


def float_list(values, flag: str) -> list[float]:
    """The numbers of a list flag, or a UsageError naming the flag.

    >>> float_list(["0", "0.1"], "eps_sweep")
    [0.0, 0.1]
    >>> float_list(["0.1", "big"], "eps_sweep")
    Traceback (most recent call last):
    ...
    absl.app.UsageError: --eps_sweep takes numbers; received ['0.1', 'big']: ...
    """
    try:
        return [float(v) for v in values]
    except ValueError as error:
        raise app.UsageError(f"--{flag} takes numbers; received "
                             f"{values}: {error}") from None


def print_report(title: str, report: dict) -> None:
    """Prints an evaluation report: accuracies, ensemble stages, checks."""
    print("\n" + report_markdown(title, report), flush=True)
