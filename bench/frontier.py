"""The clean/robust frontier at one equal training budget (Fashion-MNIST).

The budget is measured in this invocation: the wall-clock of 5 full-data
Madry PGD-10 epochs of the small CNN through `advmask-train` (that run is
also the Madry reference). Every other method is calibrated (its step and
validation speed, bench/fast_training.py) and given the epochs that fill the
same budget; the keep-accuracy preset (a mixture of two classifiers) runs
as it is and the table shows its measured time against the budget (its
two classifiers get rows of their own, timed by their epochs). Every
network is evaluated on the full test set (clean, PGD-20, CW-inf; the
mixture also under PGD and CW-inf crafted on each of its classifiers and
on a relaxed surrogate); AutoAttack's standard version with the sanity
checks runs on --aa_points test points for the methods --aa_methods names.

The target: keep_accuracy's clean accuracy within 1 point of standard
training's, its worst-case robust accuracy within 1 point of Madry's, and
its AutoAttack accuracy within 1 point of its worst case.

    .venv/bin/python bench/frontier.py [--methods standard,keep_accuracy] \
        [--aa_methods keep_accuracy,madry] [--aa_points 1000] \
        [--pin mart=4] [--write]

A method named `<method>@w<width>` is that preset with the small CNN at
another width (capacity at the same budget: a wider network trains fewer
epochs). HAT's time includes the helper it trains first.

--pin METHOD=EPOCHS,... trains a method for that many epochs instead of the
calibrated number, for a method whose 30-batch calibration misses its
full-epoch speed (the table shows the schedule and whether the run then
fits the budget).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchlib import (  # noqa: E402
    RUNS,
    eval_report,
    methods,
    pinned_epochs,
    publish_figure,
    variant,
)
from budget import (  # noqa: E402
    START_UP_SECONDS,
    VALIDATION,
    calibrate,
    epoch_seconds,
    method_config,
    schedule,
    schedule_label,
    test_timed,
    train_timed,
)
from records import autoattack_summary, section, store  # noqa: E402

from advmask_tf.data import build_data  # noqa: E402
from advmask_tf.plotting import (  # noqa: E402
    context_line,
    pyplot,
    save_figure,
)
from advmask_tf.runs.assembly import (  # noqa: E402
    method_label as runs_method_label,
)
from advmask_tf.runs.evaluate_model import evaluate_model_file  # noqa: E402
from advmask_tf.runs.guides import guide_kind, timed_runs  # noqa: E402
from advmask_tf.runs.mixing import classifier_paths  # noqa: E402
from advmask_tf.runs.workdir import (  # noqa: E402
    WorkDir,
    load_config,
    read_json,
    training_seconds,
)

MADRY_EPOCHS = 5
LABELS = {"standard": "Standard", "madry": "Madry PGD-10",
          "trades": "TRADES (beta 6)", "mart": "MART (beta 6)",
          "awp": "TRADES-AWP (gamma 5e-3)", "iaat": "IAAT",
          "gairat": "GAIRAT", "robmask": "RobMask (told eps)",
          "oat": "OAT (told lambda 1)", "free": "Free (m 4)",
          "keep_accuracy": "Keep accuracy (mixture)",
          "lbgat": "LBGAT0 (guide trained jointly)",
          "hat": "HAT (helper trained first; h 3.5, gamma 1)"}
# Runs whose parts have a fixed size (the mixture's two classifiers).
AS_CONFIGURED = ("keep_accuracy",)
# A calibrated run whose measured time is further than this from the
# budget is marked in the table: its row is not an equal-budget comparison.
BUDGET_TOLERANCE = 0.10


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join(RUNS, "frontier"))
    parser.add_argument("--methods", default="standard,keep_accuracy")
    parser.add_argument("--aa_methods", default="keep_accuracy,madry")
    parser.add_argument("--aa_points", type=int, default=1000)
    parser.add_argument("--pin", default="",
                        help="METHOD=EPOCHS pairs, comma-separated")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    pinned = pinned_epochs(args.pin, parser)
    chosen = [m for m in methods(args.methods, parser) if m != "madry"]
    aa_methods = methods(args.aa_methods, parser)

    budget_workdir = os.path.join(args.workdir, "madry")
    budget = train_timed("madry", budget_workdir,
                         [f"--config.train.epochs={MADRY_EPOCHS}"])
    print(f"Budget: {budget:.0f} s (Madry, {MADRY_EPOCHS} epochs)",
          flush=True)
    rows = [{"method": "madry", "workdir": budget_workdir,
             "seconds": budget, "schedule": f"epochs={MADRY_EPOCHS}"}]
    evaluate(rows[0], aa_methods, args.aa_points)
    data = build_data(method_config("madry").data, 128, 0)
    for method in chosen:
        workdir = os.path.join(args.workdir, method)
        record = os.path.join(workdir, "bench_seconds.json")
        overrides = []
        if method in pinned and not os.path.exists(record):
            overrides = [f"--config.train.epochs={pinned[method]}"]
        elif method not in AS_CONFIGURED and not os.path.exists(record):
            speed = calibrate(method, data)
            overrides = schedule(
                budget, epoch_seconds(method, speed, data.num_train),
                START_UP_SECONDS + speed["tracing"], data.num_train)
        seconds = train_timed(method, workdir, overrides)
        # A reused run keeps the schedule it was trained with.
        overrides = read_json(record)["overrides"]
        rows.append({"method": method, "workdir": workdir,
                     "seconds": seconds,
                     "schedule": schedule_label(overrides)})
        # Each run is evaluated as soon as it is trained, so that an
        # interrupted bench keeps (and its rerun reuses) every report.
        evaluate(rows[-1], aa_methods, args.aa_points)
        if method in AS_CONFIGURED:
            for part in ("robust", "accurate"):
                rows.append(part_row(method, workdir, part))
                evaluate(rows[-1], (), 0)
    data_section = results_section(args, rows, budget, data.num_train)
    figure = plot(rows, os.path.join(args.workdir, "frontier.png"))
    link = publish_figure(figure, "frontier.png", args.write)
    store(data_section, args.write,
          f"![clean against worst-case robust accuracy]({link})")


def label(method: str) -> str:
    """A row's label: the method's, with its width when a variant."""
    base, overrides = variant(method)
    if not overrides:
        return LABELS.get(method, method)
    return f"{LABELS[base]}, width {overrides[0].rsplit('=', 1)[1]}"


def part_row(method: str, workdir: str, part: str) -> dict:
    """A row for one classifier of a mixture, timed by its epochs (a
    guide, the mixture's accurate part, trained within the robust run)."""
    config = load_config(WorkDir(workdir))
    path = os.path.join(workdir, part)
    row = {"method": f"{method}/{part}", "workdir": path,
           "schedule": "part of the mixture",
           "label": (f"{LABELS[method]}: its {part} part "
                     f"({part_label(config, part)})")}
    if part == "accurate" and guide_kind(config):
        row["model"] = classifier_paths(config, workdir)["accurate"]
        row["workdir"] = os.path.dirname(row["model"])
        row["seconds"] = 0.0
        return row
    row["seconds"] = sum(training_seconds(WorkDir(run)) or 0.0 for run in
                         (timed_runs(config, path) if part == "robust"
                          else [path]))
    return row


def part_label(config, part: str) -> str:
    """What a mixture's part is, from the mixture's config."""
    width = int(config.model.options.width)
    if part == "robust":
        return f"{runs_method_label(config)}, width {width}"
    if guide_kind(config):
        return "the robust run's guide"
    return f"standard, width {int(config.mix.accurate_width) or width}"


def evaluate(row: dict, aa_methods: list, aa_points: int) -> None:
    """Adds the run's full-test report, and its cascade when asked."""
    if "model" in row:  # a saved classifier (a mixture's guide)
        row["report"] = evaluate_model_file(
            os.path.join(row["workdir"], "guide_eval"), row["model"],
            limit=0, attacks="pgd,cw_inf", checks=False)
        return
    row["report"], row["eval_seconds"] = test_timed(row["workdir"], 0)
    if row["method"] in aa_methods:
        row["cascade"] = eval_report(row["workdir"], "best", "autoattack",
                                     aa_points, True)


def worst(row) -> float:
    return row["report"]["worst_case"]["accuracy"]


def clean(row) -> float:
    return row["report"]["clean"]["accuracy"]


def target_lines(rows) -> list[str]:
    """The target's three conditions, each with its gap in points."""
    by = {row["method"]: row for row in rows}
    if not {"standard", "madry", "keep_accuracy"} <= set(by):
        return ["The target needs the standard, Madry and keep_accuracy "
                "rows; run with --methods standard,keep_accuracy."]
    mix, std, madry = by["keep_accuracy"], by["standard"], by["madry"]
    lines = []

    def line(name, value, reference, what):
        gap = 100 * (value - reference)
        met = gap >= -1.0
        lines.append(f"- {name}: {100 * value:.2f}% against {what} "
                     f"{100 * reference:.2f}%: {gap:+.2f} points "
                     f"({'met' if met else 'NOT met'}: at most 1 point "
                     "below).")

    line("Clean accuracy", clean(mix), clean(std), "standard training's")
    line("Worst-case robust accuracy", worst(mix), worst(madry), "Madry's")
    if "cascade" in mix:
        cascade = mix["cascade"]["worst_case"]["accuracy"]
        points = mix["cascade"]["clean"]["total"]
        line(f"Standard AutoAttack on {points:,} points", cascade,
             worst(mix), "its own full-test worst case")
    fits = mix["seconds"] <= madry["seconds"] * 1.02
    lines.append(f"- Training time: {mix['seconds'] / 60:.1f} min against "
                 f"the budget's {madry['seconds'] / 60:.1f} min "
                 f"({'fits' if fits else 'OVER the budget'}).")
    return lines


def off_budget(row: dict, budget: float) -> str:
    """' (over the budget by 21%)' for a run that missed it (a run as
    configured only has to fit; a mixture's part has no budget of its own)."""
    if row["schedule"] == "part of the mixture":
        return ""
    off = row["seconds"] / budget - 1
    under_is_fine = row["schedule"] == "as configured"
    if off <= BUDGET_TOLERANCE and (under_is_fine
                                    or off >= -BUDGET_TOLERANCE):
        return ""
    return f" ({'over' if off > 0 else 'under'} the budget by {abs(off):.0%})"


def run_record(row: dict, budget: float) -> dict:
    """One run of the frontier as data: what was run and its figures."""
    report = row["report"]
    figures = {name: entry["accuracy"] for name, entry in report.items()
               if isinstance(entry, dict) and "accuracy" in entry}
    return {"method": row.get("label") or label(row["method"]),
            "preset": row["method"],
            "workdir": os.path.relpath(row["workdir"]),
            "schedule": row["schedule"],
            "training_seconds": row["seconds"],
            "training_seconds_note": off_budget(row, budget),
            "test_points": report["clean"]["total"], **figures,
            "autoattack": autoattack_summary(row.get("cascade"))}


def results_section(args, rows, budget, num_train) -> dict:
    attacks = sorted({name for row in rows for name in row["report"]
                      if "@" in name})
    columns = [["method", "method", "text"], ["schedule", "schedule", "text"],
               ["training_seconds", "measured training (min)", "minutes"],
               ["clean", "clean", "percent"], ["pgd20", "PGD-20", "percent"],
               ["cw_inf", "CW-inf", "percent"],
               *([a, a, "percent"] for a in attacks),
               ["worst_case", "worst case", "percent"],
               ["autoattack", "AutoAttack (points; failed checks)",
                "autoattack"]]
    command = (f".venv/bin/python bench/frontier.py --methods {args.methods} "
               f"--aa_methods {args.aa_methods} --aa_points {args.aa_points}"
               + (f" --pin {args.pin}" if args.pin else "") + " --write")
    before = (
        f"Budget: {budget / 60:.1f} min, the measured wall-clock of "
        f"{MADRY_EPOCHS} full-data Madry PGD-10 epochs of the small CNN "
        "(width 16) in this invocation; every other run's epochs fill it "
        "(from its calibrated speed, or as --pin sets them) except the "
        "keep-accuracy mixture, which runs as configured. Fashion-MNIST, eps "
        f"0.1, {num_train:,} training images ({VALIDATION:,} held out for "
        "validation and every selection), Adam 1e-3 with cosine decay, "
        "batch 128. Test: all 10,000 images, PGD-20 and CW-inf (step "
        "eps/4, uniform start); `<attack>@<source>` columns are crafted on "
        "the mixture's robust or accurate classifier or on its relaxed "
        "surrogate and judged on the mixture; the worst case is over every "
        "attack of the row. AutoAttack is the standard version (APGD-CE -> "
        "APGD-T -> FAB-T -> Square; 100 iterations, 9 targets, 5,000 "
        "queries; for the mixture, worst with the attacks crafted on its "
        "parts) on the first test images, with the gradient-masking "
        f"checks. A run whose measured time is more than "
        f"{BUDGET_TOLERANCE:.0%} off the budget is marked: its calibration "
        "missed (most often because other work shared the cores) and its "
        "row is not an equal-budget comparison.")
    after = "\n".join(["The target (the trade-off issue):", "",
                       *target_lines(rows)])
    return section("frontier", "The clean/robust frontier at one training "
                   "budget", command, columns,
                   [run_record(row, budget) for row in rows], before, after)


def plot(rows, path: str) -> str:
    """Left: every run's test-set point with the target box. Right: the
    mixture's candidate maps on the validation split (its Pareto front), so
    the price of clean accuracy in robustness can be read off."""
    plt = pyplot()
    fig, (ax, ax_mix) = plt.subplots(1, 2, figsize=(12, 5.6))
    xs = [100 * worst(r) for r in rows]
    ys = [100 * clean(r) for r in rows]
    x_limits = (max(0, min(xs) - 5), min(100, max(xs) + 5))
    y_limits = (max(0, min(ys) - 3), min(100, max(ys) + 2))
    by = {row["method"]: row for row in rows}
    if "standard" in by and "madry" in by:
        low_robust = 100 * worst(by["madry"]) - 1
        low_clean = 100 * clean(by["standard"]) - 1
        ax.fill_between([low_robust, x_limits[1]], low_clean, y_limits[1],
                        color="tab:green", alpha=0.15,
                        label="target: within 1 point of both")
    markers = "os^vD<>pXh*P"
    for i, row in enumerate(rows):
        ax.scatter(100 * worst(row), 100 * clean(row), s=45,
                   marker=markers[i % len(markers)],
                   label=f"{row.get('label') or label(row['method'])} "
                   f"({row['seconds'] / 60:.1f} min)")
    ax.set_xlabel("worst-case robust accuracy, full test set (%)")
    ax.set_ylabel("clean accuracy, full test set (%)")
    ax.set_title("Each run at one training budget\n" + context_line(
        "Fashion-MNIST", 0.1, rows[0]["report"]["clean"]["total"], "best"),
        fontsize=10)
    ax.set_xlim(*x_limits)
    ax.set_ylim(*y_limits)
    ax.grid(alpha=0.3)
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=3,
               fontsize=8, frameon=False)
    if "keep_accuracy" in by:
        plot_mixing_candidates(ax_mix, by["keep_accuracy"]["workdir"])
    else:
        ax_mix.set_visible(False)
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    save_figure(fig, path)
    return path


def plot_mixing_candidates(ax, workdir: str) -> None:
    """The mixture's validation-split candidates and their Pareto front."""
    mixing = read_json(os.path.join(workdir, "mixing.json"))
    points = sorted(((100 * c["robust_estimate"], 100 * c["clean"], c)
                     for c in mixing["candidates"]), key=lambda p: -p[0])
    front, best_clean = [], -1.0
    for robust, clean_acc, _ in points:
        if clean_acc > best_clean:
            front.append((robust, clean_acc))
            best_clean = clean_acc
    ax.scatter([p[0] for p in points], [p[1] for p in points], s=8,
               color="0.7", label="candidate maps and weights")
    ax.plot(*zip(*front), color="tab:blue", label="their Pareto front")
    chosen = [p for p in points if p[2]["chosen"]]
    if chosen:
        ax.scatter(chosen[0][0], chosen[0][1], s=80, marker="*",
                   color="tab:red", zorder=3, label="chosen")
    robust_alone = 100 * mixing["robust_alone"]
    ax.axvline(robust_alone, color="tab:orange", linestyle="--",
               label=f"robust part alone ({robust_alone:.1f}%)")
    ax.axhline(100 * mixing["accurate_alone"], color="tab:purple",
               linestyle=":", label="accurate part alone (clean "
               f"{100 * mixing['accurate_alone']:.1f}%)")
    ax.set_xlim(max(0, robust_alone - 30), robust_alone + 3)
    # Room above the accurate part's line for the legend.
    ax.set_ylim(min(p[1] for p in front) - 3,
                100 * mixing["accurate_alone"] + 3.5)
    ax.set_xlabel("estimated robust accuracy, validation (%)")
    ax.set_ylabel("clean accuracy, validation (%)")
    ax.set_title(f"The mixture's choices on {mixing['validation_points']:,} "
                 "validation images\n(PGD-20 and CW-inf on the robust part)",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center")


if __name__ == "__main__":
    main()
