"""What the command-line apps share."""

from __future__ import annotations

import os

DEFAULT_CONFIG = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__)))), "configs", "fashion_mnist_madry.py")


def print_report(title: str, report: dict) -> None:
    """Prints an evaluation report: accuracies, ensemble stages, checks."""
    from advmask_tf.evaluation.reports import report_markdown

    print("\n" + report_markdown(title, report), flush=True)
