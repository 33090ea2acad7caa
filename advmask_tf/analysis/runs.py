"""Analysing trained work directories, cached, and comparing them.

Each analysis is stored in its work directory (analysis/<tag>.json and
.npz, written atomically) and re-used while it is newer than the network and
was made with the same settings, so re-running a comparison only analyses
what is new or was interrupted.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from advmask_tf.analysis.profile import (
    SUMMARY_FORMAT,
    AnalysisSettings,
    profile_network,
)
from advmask_tf.analysis.report import (
    summary_markdown,
    write_plots,
    write_tensorboard,
)
from advmask_tf.errors import InputError
from advmask_tf.io_utils import (
    atomic_save,
    atomic_write_json,
    atomic_write_text,
    check_writable,
)
from advmask_tf.models import is_conditioned
from advmask_tf.plotting import dataset_name
from advmask_tf.runs import (
    WorkDir,
    is_fresh,
    load_config,
    load_for_evaluation,
    read_json,
)
from advmask_tf.runs.lock import hold, holding


def _tag(checkpoint: str, points: int, condition) -> str:
    told = "" if condition is None else f"-told{condition:g}"
    return f"{checkpoint}-{points}{told}"


def _cached(json_path: str, npz_path: str, model_path: str,
            settings: AnalysisSettings):
    if not (is_fresh(json_path, model_path) and os.path.exists(npz_path)):
        return None
    summary = read_json(json_path)
    if (summary.get("settings") != dataclasses.asdict(settings)
            or summary.get("format") != SUMMARY_FORMAT):
        return None
    with np.load(npz_path) as stored:
        points = {key: stored[key] for key in stored.files}
    return summary, points


@holding("advmask-analyze")
def analyze_workdir(workdir: str, settings: AnalysisSettings,
                    checkpoint: str = "best", limit: int = 1000,
                    conditions=None, verbose: int = 1) -> dict:
    """Profiles a work directory's network on its first `limit` test points.

    Args:
        workdir: made by advmask-train.
        settings: an `AnalysisSettings`.
        checkpoint: "best" or "last".
        limit: test points (0: all).
        conditions: strengths a conditioned network is told, one analysis
            each (default: 0 and the training eps); ignored otherwise.

    Returns:
        label -> (summary, points); the label is the work directory's name,
        with "@<strength>" for a conditioned network.
    """
    wd, config, network, data = load_for_evaluation(workdir, checkpoint,
                                                    limit)
    model_path = wd.model(checkpoint)
    name = wd.name()
    if is_conditioned(network):
        conditions = list(conditions) if conditions else [
            0.0, float(config.attack.eps)]
    else:
        conditions = [None]
    results = {}
    for condition in conditions:
        label = name if condition is None else f"{name}@{condition:g}"
        tag = _tag(checkpoint, int(limit), condition)
        json_path = wd.path("analysis", tag + ".json")
        npz_path = wd.path("analysis", tag + ".npz")
        cached = _cached(json_path, npz_path, model_path, settings)
        if cached is not None:
            cached[0]["dataset"] = dataset_name(config.data)
            results[label] = cached
            continue
        if verbose:
            print(f"Analysing {label} ({checkpoint}, {limit or 'all'} test "
                  "points)", flush=True)
        summary, points = profile_network(network, data.test, settings,
                                          condition, verbose)
        summary.update(workdir=wd.root, checkpoint=checkpoint,
                       condition=condition,
                       dataset=dataset_name(config.data))
        os.makedirs(wd.path("analysis"), exist_ok=True)
        # The temporary name keeps the .npz suffix, so savez adds none.
        atomic_save(lambda tmp, p=points: np.savez(tmp, **p), npz_path)
        atomic_write_json(json_path, summary)
        write_tensorboard(wd.path("tensorboard", "analysis", tag), summary,
                          points)
        results[label] = (summary, points)
    return results


def compare(workdirs, out: str, settings: AnalysisSettings,
            checkpoint: str = "best", limit: int = 1000, conditions=None,
            verbose: int = 1) -> dict:
    """Analyses each work directory and writes the comparison to `out`:
    analysis.json, analysis.md and the PNG plots (also in TensorBoard, under
    out/tensorboard). Returns label -> summary.
    """
    check_writable(out)  # before the analyses, not after them
    summaries, points = {}, {}
    for workdir in workdirs:
        for label, (summary, values) in analyze_workdir(
                workdir, settings, checkpoint, limit, conditions,
                verbose).items():
            if label in summaries:
                label = os.path.normpath(workdir) + label[len(
                    os.path.basename(os.path.normpath(workdir))):]
            summaries[label], points[label] = summary, values
    with hold(out, "advmask-analyze"):
        atomic_write_json(os.path.join(out, "analysis.json"), summaries)
        atomic_write_text(os.path.join(out, "analysis.md"),
                          "# Regularisation diagnostics\n\n"
                          + summary_markdown(summaries))
        write_plots(summaries, points, out, os.path.join(out, "tensorboard"))
    return summaries


def analyze_runs(workdirs, out: str | None = None, checkpoint: str = "best",
                 limit: int = 1000, eps: float | None = None,
                 max_eps: float | None = None, bisections: int = 8,
                 attack_steps: int = 20, conditions=None) -> str:
    """What advmask-analyze does: `compare` the work directories into `out`
    (default: <workdir>/analysis for one) at `eps` (default: the first
    run's training eps; the bisection runs to `max_eps`, default 3 eps).
    Returns the markdown of the comparison."""
    workdirs = list(workdirs)
    if out is None:
        if len(workdirs) > 1:
            raise InputError("Several work directories need an output "
                             "directory (--out) for the comparison.")
        out = os.path.join(workdirs[0], "analysis")
    if eps is None:
        eps = float(load_config(WorkDir(workdirs[0])).attack.eps)
    settings = AnalysisSettings(eps=eps, max_eps=max_eps or 3 * eps,
                                bisections=bisections,
                                attack_steps=attack_steps)
    compare(workdirs, out, settings, checkpoint, limit, conditions)
    with open(os.path.join(out, "analysis.md")) as f:
        return f.read() + f"\nPlots and JSON in {out}/"
