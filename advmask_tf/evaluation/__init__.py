"""Robust evaluation and reports."""

from advmask_tf.evaluation.robust import (
    default_attacks,
    evaluate,
    report_to_json,
    results_table,
)

__all__ = [
    "default_attacks",
    "evaluate",
    "report_to_json",
    "results_table",
]
