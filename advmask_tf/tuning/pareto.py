"""The clean/robust Pareto front of a set of trials."""

from __future__ import annotations

from advmask_tf.plotting import (
    clamp_percent_axes,
    label_points,
    pyplot,
    save_figure,
)


def trial_number(trial_id) -> int:
    """The number KerasTuner's console gives a trial ("Trial 1 Complete"
    is trial id "0", directory search/trial_0); trials.md, the plots and
    every message use it.

    >>> trial_number("3")
    4
    """
    return int(trial_id) + 1


def pareto_front(points: dict) -> list:
    """Names of the non-dominated points, by clean accuracy descending.

    A point dominates another when it is at least as good in both clean and
    robust accuracy and better in one.

    Args:
        points: name -> (clean, robust).

    >>> pareto_front({"a": (0.9, 0.1), "b": (0.8, 0.5), "c": (0.7, 0.4),
    ...               "d": (0.9, 0.05)})
    ['a', 'b']
    """
    front = []
    for name, (clean, robust) in points.items():
        dominated = any(
            c >= clean and r >= robust and (c > clean or r > robust)
            for other, (c, r) in points.items() if other != name)
        if not dominated:
            front.append(name)
    return sorted(front, key=lambda n: (-points[n][0], -points[n][1]))


def trials_markdown(rows: list, front: list) -> str:
    """A table of trials (dicts with trial, clean, robust, score,
    hyperparameters), front members marked. A trial is shown by the number
    KerasTuner prints ("Trial 1 Complete" is trial id 0) and its directory.

    >>> print(trials_markdown([{"trial": "0", "clean": 0.9, "robust": 0.5,
    ...     "score": 0.7, "hyperparameters": {"method": "madry"}}], ["0"]))
    | trial | directory | on the front | ... |
    | --- | --- | --- | --- | --- | --- | --- |
    | 1 | search/trial_0 | yes | 90.00 | 50.00 | 0.7000 | method=madry |
    <BLANKLINE>
    """
    lines = ["| trial | directory | on the front | clean (%) | robust (%) | "
             "score | hyper-parameters |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in sorted(rows, key=lambda r: -r["score"]):
        values = ", ".join(f"{k}={v:.3g}" if isinstance(v, float)
                           else f"{k}={v}"
                           for k, v in sorted(row["hyperparameters"].items()))
        lines.append(
            f"| {trial_number(row['trial'])} | search/trial_{row['trial']} | "
            f"{'yes' if row['trial'] in front else ''} | "
            f"{100 * row['clean']:.2f} | {100 * row['robust']:.2f} | "
            f"{row['score']:.4f} | {values} |")
    return "\n".join(lines) + "\n"


def plot_front(rows: list, front: list, path: str, title: str = "",
               tensorboard: tuple | None = None) -> None:
    """Clean against robust accuracy of every trial (labelled with its
    number, as in trials.md and the console), the front joined."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.6, 4.6))
    ax.scatter([100 * r["clean"] for r in rows],
               [100 * r["robust"] for r in rows], color="grey",
               label="trials", zorder=3)
    by_name = {r["trial"]: r for r in rows}
    front_rows = sorted((by_name[n] for n in front), key=lambda r: r["clean"])
    ax.plot([100 * r["clean"] for r in front_rows],
            [100 * r["robust"] for r in front_rows], marker="o",
            color="C3", label="Pareto front", zorder=4)
    ax.set_xlabel("validation clean accuracy (%)")
    ax.set_ylabel("validation worst-case robust accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title, fontsize=10)
    clamp_percent_axes(ax)
    fig.tight_layout()
    label_points(ax, [(100 * r["clean"], 100 * r["robust"],
                       str(trial_number(r["trial"]))) for r in rows])
    save_figure(fig, path, tensorboard)
