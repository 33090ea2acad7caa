"""Robust evaluation and reports."""

from advmask_tf.evaluation.checks import CheckSettings, sanity_checks
from advmask_tf.evaluation.reports import report_markdown, results_table
from advmask_tf.evaluation.robust import (
    default_attacks,
    evaluate,
    report_to_json,
)

__all__ = [
    "CheckSettings",
    "default_attacks",
    "evaluate",
    "report_markdown",
    "report_to_json",
    "results_table",
    "sanity_checks",
]
