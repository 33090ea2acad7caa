"""What the command-line apps share."""

from __future__ import annotations

import os

DEFAULT_CONFIG = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__)))), "configs", "fashion_mnist_madry.py")


def print_report(title: str, report: dict) -> None:
    """Prints the summary table of an evaluation report."""
    from advmask_tf.evaluation.robust import results_table

    rows = {k: v for k, v in report.items()
            if isinstance(v, dict) and "total" in v}
    print(f"\n{title}\n" + results_table({report.get("config", {}).get(
        "method", "model"): rows}), flush=True)
