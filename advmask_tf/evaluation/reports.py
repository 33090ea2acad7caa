"""Evaluation reports: markdown (one evaluation, an eps sweep, one model's
conditioning curve), accuracy-versus-eps curves, the clean/robust trade-off
scatter, and TensorBoard scalars."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from advmask_tf.evaluation.checks import check_doc
from advmask_tf.plotting import (
    clamp_percent_axes,
    label_points,
    pyplot,
    robust_label,
    save_figure,
)
from advmask_tf.progress import plural

# Report keys that are not attack results.
META_KEYS = ("attacks", "checks", "checkpoint", "config", "eps", "limit",
             "autoattack_version")


def attack_entries(report: dict) -> dict:
    """The report's accuracy entries (clean, each attack, worst_case).

    >>> attack_entries({"clean": {"total": 1}, "config": {}})
    {'clean': {'total': 1}}
    """
    return {k: v for k, v in report.items()
            if isinstance(v, dict) and "total" in v and k not in META_KEYS}


def stages_table(report: dict) -> str:
    """A markdown table of each ensemble's stages (attacked, broken, robust,
    and the stage's seconds per 1,000 evaluated points).

    >>> print(stages_table({"aa": {"total": 4, "stages": {"apgd_ce": {
    ...     "attacked": 3, "broken": 1, "robust": 2, "accuracy": 0.5,
    ...     "seconds": 2.0}}}}))
    | ensemble | stage | attacked | broken | robust after | s per 1,000 points |
    | --- | --- | --- | --- | --- | --- |
    | aa | apgd_ce | 3 | 1 | 50.00% (2/4) | 500 |
    """
    lines = ["| ensemble | stage | attacked | broken | robust after | "
             "s per 1,000 points |", "| --- | --- | --- | --- | --- | --- |"]
    found = False
    for name, entry in attack_entries(report).items():
        for stage, counts in entry.get("stages", {}).items():
            found = True
            cost = ("-" if "seconds" not in counts else
                    f"{1000 * counts['seconds'] / entry['total']:.0f}")
            lines.append(
                f"| {name} | {stage} | {counts['attacked']} | "
                f"{counts['broken']} | {100 * counts['accuracy']:.2f}% "
                f"({counts['robust']}/{entry['total']}) | {cost} |")
    return "\n".join(lines) if found else ""


def checks_table(checks: dict) -> str:
    """A markdown table of the sanity checks.

    >>> print(checks_table({"points": 9, "large_eps": {"passed": False,
    ...     "detail": "PGD leaves 40% robust"}}))
    | check (on 9 points) | result | detail |
    | --- | --- | --- |
    | large_eps | **FAILED** (docs/evaluation.md#check-large_eps) | PGD ...
    """
    lines = [f"| check (on {checks.get('points', '?')} points) | result | "
             "detail |", "| --- | --- | --- |"]
    for name, result in checks.items():
        if isinstance(result, dict):
            verdict = "passed" if result["passed"] else \
                f"**FAILED** ({check_doc(name)})"
            lines.append(f"| {name} | {verdict} | {result['detail']} |")
    return "\n".join(lines)


def results_table(rows: dict) -> str:
    """A markdown table: one row per run, columns clean and each attack.

    >>> print(results_table({"madry": {"clean": {"accuracy": 0.8, "correct": 8,
    ...                                          "total": 10}}}))
    | run | clean |
    | --- | --- |
    | madry | 80.00% (8/10) |
    """
    columns = []
    for report in rows.values():
        for name, entry in report.items():
            if isinstance(entry, dict) and "total" in entry \
                    and name not in columns:
                columns.append(name)
    lines = ["| run | " + " | ".join(columns) + " |",
             "| --- | " + " | ".join("---" for _ in columns) + " |"]
    for run, report in rows.items():
        cells = []
        for name in columns:
            entry = report.get(name)
            cells.append(
                f"{100 * entry['accuracy']:.2f}% ({entry['correct']}/"
                f"{entry['total']})" if entry else "")
        lines.append(f"| {run} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report_markdown(title: str, report: dict) -> str:
    """The whole report as markdown: accuracies, stages and checks."""
    parts = [f"# {title}", "", results_table({
        report.get("config", {}).get("method", "model"):
        attack_entries(report)})]
    stages = stages_table(report)
    if stages:
        parts += ["", stages]
    if "autoattack_version" in report:
        parts += ["", f"AutoAttack version: {report['autoattack_version']}."]
    parts += [f"\n{line}" for line in custom_autoattack_lines(report)]
    if "checks" in report:
        parts += ["", checks_table(report["checks"])]
    if "run" in report:
        parts += ["", run_line(report["run"])]
    return "\n".join(parts) + "\n"


def custom_autoattack_lines(report: dict) -> list:
    """A sentence per AutoAttack cascade run with other budgets than its
    version's: it is custom, not the standard AutoAttack.

    >>> print(*custom_autoattack_lines({"attacks": {"autoattack": {
    ...     "kind": "AutoAttack", "version": "custom",
    ...     "follows_version": "standard", "budgets_changed": {
    ...         "apgd_steps": {"used": 5, "official": 100}}}}}))
    autoattack is a custom AutoAttack (the standard version's stages with
    apgd_steps 5 instead of 100): not the standard AutoAttack.
    """
    lines = []
    for name, settings in report.get("attacks", {}).items():
        if settings.get("kind") != "AutoAttack" or \
                settings.get("version") != "custom":
            continue
        changed = ", ".join(
            f"{budget} {values['used']} instead of {values['official']}"
            for budget, values in settings["budgets_changed"].items())
        lines.append(f"{name} is a custom AutoAttack (the "
                     f"{settings['follows_version']} version's stages with "
                     f"{changed}): not the {settings['follows_version']} "
                     "AutoAttack.")
    return lines


def run_line(run: dict) -> str:
    """The run behind a report, in a sentence.

    >>> print(run_line({"epochs_trained": 5, "selected_epoch": 4,
    ...                 "training_seconds": 600.0, "tensorflow": "2.20.0",
    ...                 "keras": "3.15.1", "advmask_tf": "0.1.0"}))
    Trained 5 epochs (network of epoch 4) in 10.0 min; TensorFlow 2.20.0,
    Keras 3.15.1, advmask_tf 0.1.0.
    """
    minutes = ("" if run.get("training_seconds") is None
               else f" in {run['training_seconds'] / 60:.1f} min")
    guard = ("" if not run.get("guard_restores") else
             f"; the catastrophic-overfitting guard restored earlier weights "
             f"{run['guard_restores']} time(s) (guard.json)")
    what = (f"Trained {plural(int(run['epochs_trained']), 'epoch')} "
            f"(network of epoch "
            f"{run['selected_epoch']})")
    if run.get("mixture"):
        what = ("A mixture of two classifiers (robust/ and accurate/, "
                "mixing.json), trained")
    return (f"{what}{minutes}{guard}; TensorFlow "
            f"{run['tensorflow']}, Keras {run['keras']}, advmask_tf "
            f"{run['advmask_tf']}.")


def plot_sweep(sweep: list[dict], path: str, title: str = "",
               tensorboard: tuple | None = None) -> None:
    """Accuracy versus eps, one line per attack (PNG; `tensorboard`: see
    `advmask_tf.plotting.save_figure`)."""
    plt = pyplot()
    eps = [point["eps"] for point in sweep]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name in attack_entries(sweep[0]["report"]):
        ax.plot(eps, [100 * p["report"][name]["accuracy"] for p in sweep],
                marker="o", label=name.replace("_", "-"), clip_on=False)
    ax.set_xlabel("eps (Linf, pixels in [0, 1])")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, tensorboard)


def plot_tradeoff(rows: dict, path: str, robust_key: str = "worst_case",
                  title: str = "", tensorboard: tuple | None = None) -> None:
    """Clean versus robust accuracy, one labelled point per run (PNG)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    labels = []
    for index, (name, report) in enumerate(rows.items()):
        clean = 100 * report["clean"]["accuracy"]
        robust = 100 * report[robust_key]["accuracy"]
        ax.scatter([clean], [robust], color=f"C{index % 10}", zorder=3)
        labels.append((clean, robust, name))
    ax.set_xlabel("clean accuracy (%)")
    ax.set_ylabel(robust_label(robust_key))
    ax.grid(alpha=0.3)
    ax.set_title(title or "Clean and robust accuracy of each run",
                 fontsize=10)
    clamp_percent_axes(ax)
    fig.tight_layout()
    label_points(ax, labels, fontsize=8)
    save_figure(fig, path, tensorboard)


def plot_conditioning(curves: dict, references: dict, path: str,
                      title: str = "", robust_key: str = "worst_case",
                      tensorboard: tuple | None = None) -> None:
    """The trade-off curves of conditioned models next to reference runs.

    Args:
        curves: curve name -> list of (label, report), in curve order (say,
            conditioning eps 0 .. 0.1); each point is annotated by its label
            in the curve's colour.
        references: run name -> report (plotted as single points).
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.8, 5.0))
    labels = []
    for index, (name, points) in enumerate(curves.items()):
        if not points:
            continue
        clean = [100 * r["clean"]["accuracy"] for _, r in points]
        robust = [100 * r[robust_key]["accuracy"] for _, r in points]
        color = f"C{index % 10}"
        ax.plot(clean, robust, marker="o", label=name, color=color)
        labels.append((color, [(x, y, label) for (label, _), x, y
                               in zip(points, clean, robust)]))
    for name, report in references.items():
        clean = 100 * report["clean"]["accuracy"]
        robust = 100 * report[robust_key]["accuracy"]
        ax.scatter([clean], [robust], marker="s", color="black", zorder=3)
        labels.append(("black", [(clean, robust, name)]))
    ax.set_xlabel("clean accuracy (%)")
    ax.set_ylabel(robust_label(robust_key))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title, fontsize=10)
    clamp_percent_axes(ax)
    fig.tight_layout()
    for color, points in labels:
        label_points(ax, points, fontsize=7, color=color)
    save_figure(fig, path, tensorboard)


def write_scalars(log_dir: str, report: dict, step: int = 0,
                  text: str | None = None) -> None:
    """Writes each accuracy (and each ensemble stage) as a TensorBoard
    scalar `eval/<name>` at `step`, and `text` (markdown) as `eval/report`."""
    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        if text is not None:
            tf.summary.text("eval/report", text, step=step)
        for name, entry in attack_entries(report).items():
            tf.summary.scalar(f"eval/{name}", entry["accuracy"], step=step)
            for stage, counts in entry.get("stages", {}).items():
                tf.summary.scalar(f"eval/{name}/{stage}", counts["accuracy"],
                                  step=step)
    writer.flush()
    writer.close()


def monotone_in_eps(sweep: list[dict], tolerance: float = 0.0) -> dict:
    """Checks that every attack's accuracy never rises with eps.

    >>> monotone_in_eps([{"eps": 0.1, "report": {"a": {"accuracy": 0.5,
    ...     "total": 2}}}, {"eps": 0.2, "report": {"a": {"accuracy": 0.6,
    ...     "total": 2}}}])["passed"]
    False
    """
    rises = []
    for name in attack_entries(sweep[0]["report"]):
        values = [p["report"][name]["accuracy"] for p in sweep]
        for (eps_a, a), (eps_b, b) in zip(
                zip([p["eps"] for p in sweep], values),
                zip([p["eps"] for p in sweep][1:], values[1:])):
            if b > a + tolerance:
                rises.append(f"{name} rises from {100 * a:.1f}% at eps "
                             f"{eps_a} to {100 * b:.1f}% at eps {eps_b}")
    return {"passed": not rises,
            "value": float(len(rises)), "reference": 0.0,
            "detail": "; ".join(rises) if rises else
            "accuracy never rises with eps"}


def eps_step(eps: float) -> int:
    """TensorBoard step for a sweep point: eps in units of 1/10000.

    >>> eps_step(0.1)
    1000
    """
    return int(np.round(eps * 10000))


def sweep_markdown(title: str, result: dict) -> str:
    """The table of an eps sweep (`advmask_tf.runs.evaluate_sweep`)."""
    sweep = result["sweep"]
    names = list(attack_entries(sweep[0]["report"]))
    lines = ["| eps | " + " | ".join(names) + " |",
             "| --- | " + " | ".join("---" for _ in names) + " |"]
    for point in sweep:
        lines.append(f"| {point['eps']} | " + " | ".join(
            f"{100 * point['report'][n]['accuracy']:.2f}" for n in names)
            + " |")
    return "\n".join([f"# Accuracy (%) versus eps: {title}", "", *lines, "",
                      f"monotone in eps: {result['monotone']['detail']}",
                      ""])


def conditioning_markdown(title: str, result: dict) -> str:
    """The tables of one conditioned model's trade-off
    (`advmask_tf.runs.evaluate_conditioning`)."""
    first = (result["condition"] or result["mix"])[0]
    names = list(attack_entries(first))
    header = ["| " + " | ".join(["setting", *names]) + " |",
              "| " + " | ".join("---" for _ in range(len(names) + 1)) + " |"]
    lines = [f"# One model's trade-off: {title}", "",
             f"Accuracy (%) on {result['limit']} test images; attacks at eps "
             f"{result['eps']}.", "", *header]
    for kind, label in (("condition", "told eps {:g}"),
                        ("mix", "mask mix t = {:g}")):
        for report in result[kind]:
            lines.append("| " + " | ".join(
                [label.format(report[kind])]
                + [f"{100 * report[n]['accuracy']:.2f}" for n in names])
                + " |")
    for name, report in result["references"].items():
        lines.append("| " + " | ".join(
            [f"reference: {name}"]
            + [f"{100 * report[n]['accuracy']:.2f}" if n in report else "-"
               for n in names]) + " |")
    return "\n".join(lines) + "\n"
