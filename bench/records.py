"""Benchmark results as data.

A benchmark stores each section it publishes as docs/results/<section>.json:
one record per run or evaluation (what was run and its figures, accuracies
as fractions, times in seconds), with the section's command, the machine,
the date and the software versions, in the manner of RobustBench's model
cards. The section's table in docs/RESULTS.md is rendered from those
records (`render`), and `bench/results.py` renders every stored section
again, so a table is never edited by hand.

A section whose table a tool of the toolkit renders from the same records
(advmask-tune's trials, advmask-analyze's profiles) stores them with no
columns and that table in its prose after.

Columns are [key, header, format]; the formats:

    text      the value as it is
    percent   a fraction as a percentage with 2 decimals (percent1: 1)
    integer   a number rounded to a whole one
    minutes   seconds as minutes with 1 decimal, then record[key + "_note"]
    autoattack  record[key] = {"accuracy", "points", "failed_checks"}:
              "71.8 (1000; none)"
    stage     record[key] = {"accuracy", "broken"}: "72.4 (12)"
    seconds_per_1000  record[key] = {stage: seconds per 1,000 points}:
              "310 / 402 / 55 / 20 = 13.1 min"
    checks    a list of failed checks: "logit_scale, more_steps" or
              "all passed"

A missing value is "-".
"""

from __future__ import annotations

import datetime
import glob
import json
import os

from benchlib import REPO, machine_line, update_section

from advmask_tf.io_utils import atomic_write_json

RECORDS = os.path.join(REPO, "docs", "results")


def _percent(digits):
    return lambda value, record, key: f"{100 * value:.{digits}f}"


def _minutes(value, record, key):
    return f"{value / 60:.1f}{record.get(key + '_note', '')}"


def _autoattack(value, record, key):
    failed = ", ".join(value.get("failed_checks", [])) or "none"
    return f"{100 * value['accuracy']:.1f} ({value['points']}; {failed})"


def _stage(value, record, key):
    return f"{100 * value['accuracy']:.1f} ({value['broken']})"


def _seconds_per_1000(value, record, key):
    total = sum(value.values()) / 60
    return " / ".join(f"{s:.0f}" for s in value.values()) + \
        f" = {total:.1f} min"


FORMATS = {
    "text": lambda value, record, key: str(value),
    "percent": _percent(2),
    "percent1": _percent(1),
    "integer": lambda value, record, key: f"{value:.0f}",
    "minutes": _minutes,
    "autoattack": _autoattack,
    "stage": _stage,
    "seconds_per_1000": _seconds_per_1000,
    "checks": lambda value, record, key: ", ".join(value) or "all passed",
}


def autoattack_summary(report: dict | None) -> dict | None:
    """An AutoAttack report as a record's figures: its worst case, the
    points it ran on and the sanity checks that failed."""
    if not report:
        return None
    return {"accuracy": report["worst_case"]["accuracy"],
            "points": report["clean"]["total"],
            "failed_checks": sorted(
                name for name, check in report.get("checks", {}).items()
                if isinstance(check, dict) and not check["passed"])}


def section(name: str, title: str, command: str, columns: list,
            records: list, before: str = "", after: str = "") -> dict:
    """A section of docs/RESULTS.md as data: `records` (dicts) under
    `columns`, with the prose before and after the table."""
    import keras
    import tensorflow as tf

    import advmask_tf

    for column in columns:
        if column[2] not in FORMATS:
            raise ValueError(f"unknown column format {column[2]!r}")
    return {"section": name, "title": title, "command": command,
            "machine": machine_line(),
            "measured": datetime.date.today().isoformat(),
            "software": {"tensorflow": tf.__version__,
                         "keras": keras.__version__,
                         "advmask_tf": advmask_tf.__version__},
            "columns": [list(c) for c in columns], "records": records,
            "before": before, "after": after}


def table(columns: list, records: list) -> str:
    """The markdown table of `records` under `columns`.

    >>> print(table([["run", "run", "text"], ["clean", "clean", "percent"]],
    ...             [{"run": "madry", "clean": 0.8441}, {"run": "x"}]))
    | run | clean |
    | --- | --- |
    | madry | 84.41 |
    | x | - |
    """
    lines = ["| " + " | ".join(header for _, header, _ in columns) + " |",
             "| " + " | ".join("---" for _ in columns) + " |"]
    for record in records:
        cells = []
        for key, _, form in columns:
            value = record.get(key)
            cells.append("-" if value is None
                         else FORMATS[form](value, record, key))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(data: dict) -> str:
    """A section's markdown: title, command, machine, prose and table."""
    parts = [f"## {data['title']}", "", f"Command: `{data['command']}`", "",
             f"Machine: {data['machine']}.", ""]
    if data.get("before"):
        parts += [data["before"].rstrip(), ""]
    if data["columns"]:
        parts.append(table(data["columns"], data["records"]))
    if data.get("after"):
        parts += ["", data["after"].rstrip()]
    return "\n".join(parts)


def path_of(name: str) -> str:
    return os.path.join(RECORDS, f"{name}.json")


def store(data: dict, write: bool, extra: str = "") -> None:
    """Prints the section and, with `write`, stores its records and its
    rendered markdown (plus `extra`, e.g. a figure's link) in RESULTS.md."""
    markdown = render(data) + (f"\n\n{extra}" if extra else "")
    print(markdown, flush=True)
    if write:
        os.makedirs(RECORDS, exist_ok=True)
        atomic_write_json(path_of(data["section"]), {**data, "extra": extra})
        update_section(data["section"], markdown)


def render_all() -> list:
    """Renders every stored section into RESULTS.md again; returns their
    names."""
    names = []
    for path in sorted(glob.glob(os.path.join(RECORDS, "*.json"))):
        with open(path) as f:
            data = json.load(f)
        extra = data.get("extra", "")
        update_section(data["section"],
                       render(data) + (f"\n\n{extra}" if extra else ""))
        names.append(data["section"])
    return names
