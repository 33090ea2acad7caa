"""Evaluating trained work directories: one test-set report, accuracy
against eps, one conditioned model's trade-off, and the trade-off across
runs. Each writes its files into the work directory (or `out`) and returns
its result with the markdown a person reads.
"""

from __future__ import annotations

import hashlib
import json
import os

import ml_collections

from advmask_tf.attacks.registry import AttackBudgets, budget_fields
from advmask_tf.data.pipeline import build_data
from advmask_tf.errors import InputError, MissingFileError
from advmask_tf.evaluation.checks import sanity_checks, warn_failed
from advmask_tf.evaluation.randomised import for_randomised_networks
from advmask_tf.evaluation.reports import (
    conditioning_markdown,
    eps_step,
    monotone_in_eps,
    plot_conditioning,
    plot_sweep,
    plot_tradeoff,
    report_markdown,
    results_table,
    sweep_markdown,
    write_scalars,
)
from advmask_tf.evaluation.robust import evaluate, report_to_json
from advmask_tf.evaluation.robustbench import robustbench_entry
from advmask_tf.io_utils import atomic_write_text, check_writable
from advmask_tf.layers import interpolated, masking_layers
from advmask_tf.models.conditioning import at_strength, is_conditioned
from advmask_tf.models.loading import load_keras_file
from advmask_tf.options import declared
from advmask_tf.plotting import context_line, dataset_name
from advmask_tf.runs.assembly import (
    attack_budgets,
    check_settings,
    condition_eps,
    eval_eps,
    evaluation_attacks,
    method_label,
)
from advmask_tf.runs.field_checks import check_fields
from advmask_tf.runs.lock import holding
from advmask_tf.runs.mixing import (
    adaptive_attack_names,
    adaptive_attacks,
    mixture_sources,
)
from advmask_tf.runs.workdir import (
    WorkDir,
    history,
    load_config,
    read_json,
    run_facts,
)


def load_for_evaluation(workdir: str, checkpoint: str, limit,
                        eval_overrides: dict | None = None):
    """(WorkDir, config, network, test data of `limit` points; None: the
    config's eval.limit) of a trained work directory. `eval_overrides`
    ({"eval.<field>": value}) change the stored config's eval block."""
    wd = WorkDir(workdir)
    config = with_eval_overrides(load_config(wd), eval_overrides)
    path = wd.model(checkpoint)
    if not os.path.exists(path):
        raise MissingFileError(
            f"{path} does not exist: run advmask-train with --workdir="
            f"{wd.root} until it finishes first.")
    network = load_keras_file(path, f"the {checkpoint} network of "
                              f"{wd.root}")
    data_config = ml_collections.ConfigDict(config.data.to_dict())
    data_config.validation_size = 0  # the test split is all evaluation needs
    data_config.test_limit = requested_points(config, limit)
    data = build_data(data_config, int(config.eval.batch_size),
                      int(config.seed))
    return wd, config, network, data


def requested_points(config, limit) -> int:
    """The test points an evaluation asks for: `limit`, or when None the
    config's eval.limit (then data.test_limit); 0 means all of them."""
    if limit is None:
        return int(config.eval.limit or config.data.test_limit)
    if int(limit) < 0:
        raise InputError(f"--limit must be >= 0 (0: the whole test set); "
                         f"received {limit}.")
    return int(limit)


def with_eval_overrides(config, overrides: dict | None):
    """The config with {"eval.<field>": value} overrides applied (checked:
    only the eval block may change, and only its existing fields)."""
    for key, value in (overrides or {}).items():
        section, _, field = key.partition(".")
        if section != "eval" or field not in config.eval:
            raise InputError(f"an evaluation can only change eval.* fields "
                             f"of the run's config; received {key}={value!r} "
                             f"(eval fields: {sorted(config.eval)}).")
        config.eval[field] = value
    if overrides:
        check_fields(config)
    return config


def evaluation_tag(config, checkpoint: str, attack_names, limit,
                   checks: bool) -> str:
    """The name of an evaluation's reports: checkpoint, attacks, points
    (the requested number; "all" for the whole test set) and a digest of
    everything else that changes the report (eps, budgets, whether and how
    the sanity checks ran).

    >>> from advmask_tf.configs_lib import base_config
    >>> tag = evaluation_tag(base_config(), "best", ["pgd20", "cw_inf"], 0,
    ...                      checks=True)
    >>> tag[:22], tag == evaluation_tag(base_config(), "best",
    ...                                 ["pgd20", "cw_inf"], 0, checks=False)
    ('best-pgd20+cw_inf-all-', False)
    """
    settings = {"eps": eval_eps(config), "eval": config.eval.to_dict()}
    for unrelated in ("attacks", "limit", "batch_size"):
        settings["eval"].pop(unrelated)
    # Only the budgets the evaluation's attacks read (the sanity checks
    # have their own check_* fields), so a budget added to AttackBudgets
    # keeps the tags (and cached reports) of the evaluations that do not
    # use it.
    used = {field for name in attack_names
            for field in budget_fields(name.partition("@")[0])}
    for budget in declared(AttackBudgets):
        if budget.name not in used:
            settings["eval"].pop(budget.name)
    settings["eval"]["checks"] = bool(checks)  # as run, not as configured
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True,
                                     default=str).encode()).hexdigest()[:6]
    return f"{checkpoint}-{'+'.join(attack_names)}-{limit or 'all'}-{digest}"


def workdir_evaluation_tag(config, checkpoint: str, attacks=None,
                           limit: int | None = None,
                           checks: bool | None = None) -> str:
    """The tag of the report `evaluate_workdir` writes for these arguments
    (a mixture's best network adds its adaptive attacks' columns).

    >>> from advmask_tf.configs_lib import base_config
    >>> config = base_config(); config.mix.enabled = True
    >>> workdir_evaluation_tag(config, "best", "pgd", 0, False)[:40]
    'best-pgd20+pgd20@robust+pgd20@accurate+p'
    """
    names = list(evaluation_attacks(config, attacks))
    if config.mix.enabled and checkpoint == "best":
        names += adaptive_attack_names(eval_eps(config),
                                       attack_budgets(config))
    if checks is None:
        checks = bool(config.eval.checks)
    return evaluation_tag(config, checkpoint, names,
                          requested_points(config, limit), checks)


def evaluate_network(network, data, config, attacks, eps, checks, verbose,
                     title, condition=None):
    """One evaluation of `network` on `data.test` with `attacks`; a
    conditioned network is evaluated as the classifier it is at strength
    `condition` (default: `condition_eps`). With `checks`, the sanity
    checks run too and a failure is printed under `title`."""
    if is_conditioned(network):
        if condition is None:
            condition = condition_eps(config, eps)
        network = at_strength(network, condition)
    attacks, version_note = for_randomised_networks(attacks, network,
                                                    data.test)
    points = {}
    report = evaluate(network, data.test, attacks, verbose=verbose,
                      points=points)
    report["eps"] = float(eps)
    if version_note:
        report["autoattack_version"] = version_note
    if condition is not None:
        report["condition_eps"] = float(condition)
    if checks:
        report["checks"] = sanity_checks(network, data.test, float(eps),
                                         attacks, points,
                                         check_settings(config), verbose)
        warn_failed(report["checks"], title)
    return report


@holding("advmask-eval")
def evaluate_workdir(workdir: str, checkpoint: str = "best",
                     limit: int | None = None, verbose: int = 1,
                     attacks=None, checks: bool | None = None,
                     tag: str | None = None, run_report: bool = False,
                     eval_overrides: dict | None = None) -> dict:
    """Evaluates a trained work directory on its test set; writes reports.

    The run's own report (`run_report`, what advmask-train writes:
    metrics.json and results.md of the best network) or an evaluation's,
    eval/<tag>.json and .md (tag: `evaluation_tag`, so evaluations with
    other attacks, points or budgets never overwrite each other or the
    run's report). Scalars go to tensorboard/eval.
    """
    wd, config, network, data = load_for_evaluation(
        workdir, checkpoint, limit, eval_overrides)
    attack_configs = evaluation_attacks(config, attacks)
    eps = eval_eps(config)
    if config.mix.enabled and checkpoint == "best":
        # A mixture's own gradients may vanish where its map saturates.
        attack_configs.update(adaptive_attacks(
            mixture_sources(wd.root), eps, attack_budgets(config)))
    if checks is None:
        checks = bool(config.eval.checks)
    # Lose no evaluation to a disk that cannot take its report.
    check_writable(wd.path("eval"))
    report = evaluate_network(network, data, config, attack_configs, eps,
                              checks, verbose, f"({wd.root}, {checkpoint})")
    report["checkpoint"] = checkpoint
    report["limit"] = int(report["clean"]["total"])
    report["config"] = {"method": method_label(config),
                        "eps": config.attack.eps, "model": config.model.name,
                        "dataset": dataset_name(config.data)}
    if run_report:
        if checkpoint != "best":
            raise InputError("the run's report is of its best network; "
                             f"received checkpoint={checkpoint!r}.")
        json_path, markdown_path = wd.metrics, wd.results
        report["run"] = run_facts(config, wd)
    else:
        tag = tag or workdir_evaluation_tag(config, checkpoint, attacks,
                                            limit, checks)
        json_path = wd.eval_report(tag)
        markdown_path = wd.path("eval", tag + ".md")
        report["tag"] = tag
    markdown = write_reports(report, json_path, markdown_path,
                             f"{wd.name()} ({checkpoint}), eps {eps}",
                             f"{wd.root} ({checkpoint})")
    # At the run's last epoch, where the training curves end.
    write_scalars(wd.path("tensorboard", "eval"), report,
                  step=len(history(wd)), text=markdown)
    return report


def write_reports(report: dict, json_path: str, markdown_path: str,
                  title: str, model: str) -> str:
    """Writes the report as JSON, as markdown and as its RobustBench-style
    summary (<json name>.robustbench.json), each atomically; returns the
    markdown."""
    report_to_json(report, json_path)
    markdown = report_markdown(title, report)
    atomic_write_text(markdown_path, markdown)
    summary = os.path.splitext(json_path)[0] + ".robustbench.json"
    report_to_json(robustbench_entry(report, model,
                                     report["config"]["dataset"]), summary)
    return markdown


@holding("advmask-eval")
def evaluate_sweep(workdir: str, eps_values, checkpoint: str = "best",
                   limit: int | None = None, verbose: int = 1, attacks=None,
                   checks: bool = False,
                   eval_overrides: dict | None = None) -> dict:
    """Accuracy versus eps: one evaluation per eps, into
    eval/sweep-<checkpoint>.json, .md and .png (and TensorBoard scalars at
    step eps * 10000). Adds the check that no accuracy rises with eps."""
    eps_values = sorted(float(e) for e in eps_values)
    if not eps_values or eps_values[0] < 0:
        raise InputError(f"eps sweep values must be >= 0; received "
                         f"{eps_values}.")
    wd, config, network, data = load_for_evaluation(
        workdir, checkpoint, limit, eval_overrides)
    check_writable(wd.path("eval"))
    sweep = []
    for eps in eps_values:
        attack_configs = evaluation_attacks(config, attacks, eps=eps)
        report = evaluate_network(network, data, config, attack_configs,
                                  eps, checks, verbose, f"(eps {eps})")
        sweep.append({"eps": eps, "report": report})
        write_scalars(wd.path("tensorboard", "eval_sweep"), report,
                      step=eps_step(eps))
    result = {"checkpoint": checkpoint, "method": method_label(config),
              "sweep": sweep, "monotone": monotone_in_eps(sweep, 0.005)}
    warn_failed({"monotone_in_eps": result["monotone"]},
                f"({wd.root} sweep)")
    base = wd.sweep(checkpoint)
    report_to_json(result, base + ".json")
    result["markdown"] = sweep_markdown(f"{wd.name()} ({checkpoint})", result)
    atomic_write_text(base + ".md", result["markdown"])
    plot_sweep(sweep, base + ".png",
               f"{method_label(config)}: accuracy against eps\n"
               + context_line(dataset_name(config.data), None,
                              data.num_test, checkpoint),
               tensorboard=(wd.path("tensorboard", "eval_sweep"),
                            f"eval/sweep_{checkpoint}", len(history(wd))))
    return result


def _reference_reports(references) -> dict:
    """name -> metrics.json report of each reference work directory."""
    reports = {}
    for root in references or ():
        wd = WorkDir(root)
        if not os.path.exists(wd.metrics):
            raise MissingFileError(
                f"reference {wd.metrics} does not exist: train and evaluate "
                f"{wd.root} with advmask-train first.")
        reports[wd.name()] = read_json(wd.metrics)
    return reports


@holding("advmask-eval")
def evaluate_conditioning(workdir: str, conditions=(), mixes=(),
                          checkpoint: str = "best", limit: int | None = None,
                          verbose: int = 1, attacks=None, references=(),
                          checks: bool = False,
                          eval_overrides: dict | None = None) -> dict:
    """The trade-off of one conditioned model, dialled at inference time.

    For each conditioning strength c in `conditions` the network is told c
    and evaluated (clean and attacked at the evaluation eps) as that one
    classifier; for each t in `mixes` its maskings are interpolated,
    (1 - t) * rescaling(0) + t * rescaling(eval eps), and it is told the
    eval eps. Writes eval/conditioning-<checkpoint>.json, .md and .png; the
    plot adds the clean/robust points of the `references` work directories
    (their metrics.json, e.g. Madry and TRADES runs). TensorBoard scalars
    go to tensorboard/eval_condition (step eps * 10000) and eval_mix (step
    100 t).
    """
    wd, config, network, data = load_for_evaluation(
        workdir, checkpoint, limit, eval_overrides)
    if not is_conditioned(network):
        raise InputError(
            f"{wd.root} holds an unconditioned network (model.norm "
            f"{config.model.norm!r}); a conditioning sweep needs norm "
            f"split_batchnorm or masking. Use --eps_sweep instead.")
    conditions = sorted(float(c) for c in conditions)
    mixes = sorted(float(t) for t in mixes)
    if not conditions and not mixes:
        raise InputError("Give conditioning strengths and/or mixes t to "
                         "sweep; received neither.")
    if any(c < 0 for c in conditions) or any(not 0 <= t <= 1 for t in mixes):
        raise InputError(f"conditions must be >= 0 and mixes in [0, 1]; "
                         f"received {conditions} and {mixes}.")
    if mixes and not masking_layers(network):
        raise InputError(f"{wd.root}: mixes need a masking network (norm "
                         f"'masking'); this one is {config.model.norm!r}.")
    attack_configs = evaluation_attacks(config, attacks)
    eps = eval_eps(config)
    check_writable(wd.path("eval"))
    curves = {"condition": [], "mix": []}
    for kind, values in (("condition", conditions), ("mix", mixes)):
        for value in values:
            view = interpolated(network, value) if kind == "mix" else network
            condition = eps if kind == "mix" else value
            report = evaluate_network(view, data, config, attack_configs,
                                      eps, checks, verbose,
                                      f"({wd.root}, {kind} {value})",
                                      condition=condition)
            report[kind] = value
            curves[kind].append(report)
            write_scalars(wd.path("tensorboard", f"eval_{kind}"), report,
                          step=eps_step(value) if kind == "condition"
                          else round(100 * value))
    result = {"checkpoint": checkpoint, "method": method_label(config),
              "eps": eps, "limit": int(data.num_test), **curves,
              "references": _reference_reports(references)}
    base = wd.conditioning(checkpoint)
    report_to_json(result, base + ".json")
    result["markdown"] = conditioning_markdown(
        f"{wd.name()} ({checkpoint})", result)
    atomic_write_text(base + ".md", result["markdown"])
    plot_conditioning(
        {f"told eps c (attacked at {eps})": [
            (f"c={r['condition']:g}", r) for r in curves["condition"]],
         f"mask mix t (told {eps})": [
            (f"t={r['mix']:g}", r) for r in curves["mix"]]},
        result["references"], base + ".png",
        f"{method_label(config)}: one model's trade-off\n"
        + context_line(dataset_name(config.data), eps, data.num_test,
                       checkpoint),
        tensorboard=(wd.path("tensorboard", "eval_condition"),
                     f"eval/conditioning_{checkpoint}", len(history(wd))))
    return result


def compare_workdirs(reports: dict, out: str) -> str:
    """The clean-versus-worst-case trade-off of several evaluated runs
    ({name: report}) into out/tradeoff.json, .md and .png; returns the
    markdown table."""
    table = results_table(reports) + "\n"
    report_to_json(reports, os.path.join(out, "tradeoff.json"))
    atomic_write_text(os.path.join(out, "tradeoff.md"), table)
    first = next(iter(reports.values()))
    plot_tradeoff(reports, os.path.join(out, "tradeoff.png"),
                  title="Clean and worst-case robust accuracy of each run\n"
                  + context_line(first["config"]["dataset"], first["eps"],
                                 first["limit"], first["checkpoint"]),
                  tensorboard=(os.path.join(out, "tensorboard"),
                               "eval/tradeoff", 0))
    return table


def evaluate_runs(workdirs, checkpoint: str = "best", limit=None,
                  attacks=None, checks=None, eps_sweep=(),
                  condition_sweep=(), mix_sweep=(), references=(),
                  out: str | None = None,
                  eval_overrides: dict | None = None) -> str:
    """What advmask-eval does, for each work directory: the conditioning
    curve (with `condition_sweep` / `mix_sweep`), the eps sweep (with
    `eps_sweep`), or one test-set report (eval/<evaluation_tag>: the
    run's own metrics.json is never rewritten); with several plain reports,
    their trade-off into `out`. `eval_overrides` ({"eval.<field>": value})
    change attack budgets and checks. Returns the markdown to show."""
    if len(workdirs) > 1 and not out:
        raise InputError("Several work directories need an output "
                         "directory (--out) for the trade-off report.")
    if len(workdirs) > 1:
        check_writable(out)
    parts, reports = [], {}
    for workdir in workdirs:
        if condition_sweep or mix_sweep:
            parts.append(evaluate_conditioning(
                workdir, condition_sweep, mix_sweep, checkpoint, limit,
                attacks=attacks, references=references,
                checks=bool(checks), eval_overrides=eval_overrides)[
                    "markdown"])
        elif eps_sweep:
            parts.append(evaluate_sweep(
                workdir, eps_sweep, checkpoint, limit, attacks=attacks,
                checks=bool(checks), eval_overrides=eval_overrides)[
                    "markdown"])
        else:
            report = evaluate_workdir(workdir, checkpoint, limit,
                                      attacks=attacks, checks=checks,
                                      eval_overrides=eval_overrides)
            parts.append(report_markdown(
                f"Test-set evaluation of {workdir} ({checkpoint})", report))
            reports[WorkDir(workdir).name()] = report
    if len(reports) > 1:
        parts.append(compare_workdirs(reports, out))
        parts.append(f"Trade-off of {len(reports)} runs written to {out}/"
                     "tradeoff.{json,md,png}")
    return "\n".join(parts)
