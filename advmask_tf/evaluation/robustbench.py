"""A RobustBench-style summary of one evaluation, for reviewers and
leaderboards: accuracies as percent strings with two decimals (RobustBench's
model-card convention), the threat model, the points evaluated, every
attack's version and budgets, each AutoAttack stage's counts and the
software that produced it."""

from __future__ import annotations

import datetime

import keras
import tensorflow as tf

import advmask_tf


def percent(entry: dict) -> str:
    """'71.80' for an entry with accuracy 0.718."""
    return f"{100 * entry['accuracy']:.2f}"


def robustbench_entry(report: dict, model: str, dataset: str,
                      threat_model: str = "Linf") -> dict:
    """The summary of an `evaluate` report (with its "eps").

    >>> report = {"eps": 0.1, "clean": {"accuracy": 0.9, "correct": 9,
    ...           "total": 10}, "autoattack": {"accuracy": 0.7, "correct": 7,
    ...           "total": 10, "stages": {}}, "worst_case": {"accuracy": 0.7,
    ...           "correct": 7, "total": 10},
    ...           "attacks": {"autoattack": {"kind": "AutoAttack"}}}
    >>> entry = robustbench_entry(report, "runs/madry", "fashion_mnist")
    >>> entry["clean_acc"], entry["autoattack_acc"], entry["points"]
    ('90.00', '70.00', 10)
    """
    attacks = report.get("attacks", {})
    entry = {
        "model": model,
        "dataset": dataset,
        "threat_model": threat_model,
        "eps": report["eps"],
        "points": report["clean"]["total"],
        "clean_acc": percent(report["clean"]),
        "robust_acc": {name: percent(report[name]) for name in attacks
                       if name in report},
        "worst_case_acc": percent(report["worst_case"]),
        "attacks": attacks,
        "software": {"advmask_tf": advmask_tf.__version__,
                     "tensorflow": tf.__version__,
                     "keras": keras.__version__},
        "date": datetime.date.today().isoformat(),
    }
    # The AutoAttack row: the attack whose settings say it is one (its
    # registered name is the user's choice of version).
    cascades = [name for name, settings in attacks.items()
                if settings.get("kind") == "AutoAttack" and name in report]
    if cascades:
        name = cascades[0]
        entry["autoattack_acc"] = percent(report[name])
        entry["autoattack_stages"] = report[name].get("stages", {})
    if "autoattack_version" in report:
        entry["autoattack_version_note"] = report["autoattack_version"]
    if "condition_eps" in report:
        entry["condition_eps"] = report["condition_eps"]
    return entry

