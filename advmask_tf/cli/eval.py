r"""advmask-eval: evaluate trained work directories on their test sets.

    advmask-eval --workdir=runs/madry [--checkpoint=last] [--limit=1000] \
        [--attacks=pgd,cw_inf,autoattack] [--eps_sweep=0.05,0.1,0.2] \
        [--nochecks] [--workdir=runs/trades ... --out=runs/compare]
    advmask-eval --workdir=runs/robmask --condition_sweep=0,0.05,0.1 \
        [--mix_sweep=0,0.5,1] [--reference=runs/madry --reference=...]
    advmask-eval --model=PATH.keras --out=DIR [--attacks=autoattack] \
        [--condition_eps=0.1] [--config.data.source=tfds \
        --config.data.tfds_name=cifar10 --config.eval.eps=0.0314]

Each work directory gets its report (JSON, markdown, TensorBoard scalars
under tensorboard/eval) and the gradient-masking sanity checks; a failed
check is printed loudly. With --eps_sweep it gets accuracy-versus-eps
curves instead (eval/sweep-<checkpoint>.*). With several --workdir the
clean-versus-worst-case trade-off of all of them goes to --out as
tradeoff.json, tradeoff.md and tradeoff.png. A conditioned network (norm
split_batchnorm or masking) is evaluated as the classifier it is when told
eval.condition_eps; --condition_sweep / --mix_sweep trace the trade-off of the
one model instead (eval/conditioning-<checkpoint>.*), plotted next to the
--reference runs. Reports go to eval/ (never the run's metrics.json).
Here only --config.eval.<field> can be set (budgets, checks, eps); the
run's other fields are its own. With --model, any saved Keras classifier
(pixels in [0, 1] -> logits) is evaluated instead, on the test set that
--config.data.<field> chooses (default Fashion-MNIST); its reports (JSON,
markdown and a RobustBench-style summary) go to --out.
"""

from __future__ import annotations

from absl import flags
from ml_collections import config_dict, config_flags

from advmask_tf.attacks import ATTACKS
from advmask_tf.cli.common import (
    CommandLineError,
    check_no_arguments,
    float_list,
    run_tool,
)
from advmask_tf.configs_lib import base_config
from advmask_tf.evaluation.reports import report_markdown
from advmask_tf.runs import evaluate_runs
from advmask_tf.runs.evaluate_model import evaluate_model_file

_WORKDIR = flags.DEFINE_multi_string(
    "workdir", None, "A work directory made by advmask-train; repeat the "
    "flag to compare several.")
_MODEL = flags.DEFINE_string(
    "model", None, "A saved Keras classifier (.keras, pixels in [0, 1] -> "
    "logits) to evaluate instead of a work directory; needs --out.")
_CONDITION_EPS = flags.DEFINE_float(
    "condition_eps", None, "Conditioned networks: the strength to tell the "
    "network (default: a work directory's eval.condition_eps; required "
    "with --model when the model is conditioned).")
_CHECKPOINT = flags.DEFINE_enum("checkpoint", "best", ["best", "last"],
                                "Which exported network to evaluate.")
_LIMIT = flags.DEFINE_integer("limit", None, "Evaluate on the first N test "
                              "points (default: the config's eval.limit).")
_ATTACKS = flags.DEFINE_string(
    "attacks", None, "Comma-separated attacks (default: the config's "
    f"eval.attacks): {', '.join(ATTACKS.names())} or pgd<K>.")
_EPS_SWEEP = flags.DEFINE_list(
    "eps_sweep", None, "Evaluate at each of these eps (accuracy-versus-eps "
    "curves) instead of at the config's eps.")
_CHECKS = flags.DEFINE_bool(
    "checks", None, "Run the gradient-masking sanity checks (default: the "
    "config's eval.checks; off for sweeps).")
_CONDITION_SWEEP = flags.DEFINE_list(
    "condition_sweep", None, "Conditioned networks: tell the network each "
    "of these strengths and evaluate it at the eval eps.")
_MIX_SWEEP = flags.DEFINE_list(
    "mix_sweep", None, "Masking networks: interpolate the clean and the "
    "eval-eps masking with each of these t in [0, 1].")
_REFERENCE = flags.DEFINE_multi_string(
    "reference", [], "Work directories whose metrics.json points are "
    "plotted next to a conditioning sweep (e.g. Madry, TRADES).")
_OUT = flags.DEFINE_string(
    "out", None, "Where the trade-off of several work directories goes "
    "(required with more than one --workdir), or where the reports of "
    "--model go.")


def main(argv):
    check_no_arguments(argv)
    overrides = config_flags.get_override_values(flags.FLAGS["config"])
    if bool(_WORKDIR.value) == bool(_MODEL.value):
        raise CommandLineError(
            "give either --workdir=<work directory> (repeatable) or "
            f"--model=<file.keras>; received --workdir={_WORKDIR.value} "
            f"--model={_MODEL.value}.")
    told = _CONDITION_EPS.value
    if told is not None and not 0 <= told <= 1:
        raise CommandLineError(
            f"--condition_eps must be a strength in [0, 1] (leave it out "
            f"for the run's eval.condition_eps); received {told}.")
    if _MODEL.value:
        if not _OUT.value:
            raise CommandLineError("--model needs --out=<directory> for its "
                                   "reports; received none.")
        report = evaluate_model_file(
            _OUT.value, _MODEL.value, _LIMIT.value, attacks=_ATTACKS.value,
            checks=_CHECKS.value, condition=_CONDITION_EPS.value,
            overrides=overrides)
        print(report_markdown(f"{_MODEL.value}, eps {report['eps']}",
                              report), flush=True)
        return
    if len(_WORKDIR.value) > 1 and not _OUT.value:
        raise CommandLineError("Several --workdir need --out=<directory> "
                               "for the trade-off report.")
    if _CONDITION_EPS.value is not None:
        overrides = {**overrides, "eval.condition_eps": _CONDITION_EPS.value}
    print(evaluate_runs(
        _WORKDIR.value, _CHECKPOINT.value, _LIMIT.value,
        attacks=_ATTACKS.value, checks=_CHECKS.value,
        eps_sweep=float_list(_EPS_SWEEP.value or [], "eps_sweep"),
        condition_sweep=float_list(_CONDITION_SWEEP.value or [],
                                   "condition_sweep"),
        mix_sweep=float_list(_MIX_SWEEP.value or [], "mix_sweep"),
        references=_REFERENCE.value, out=_OUT.value,
        eval_overrides=overrides), flush=True)


def define_config_flag():
    """--config.eval.<field>: defined when the tool runs, because the flag
    reads its overrides as it is defined (a typo must reach `run_tool`)."""
    config = base_config()
    config_flags.DEFINE_config_dict(
        "config", config_dict.ConfigDict({"eval": config.eval,
                                          "data": config.data}),
        "Override the run's evaluation settings, one --config.eval.<field>="
        "<value> each (attack budgets: pgd_steps, cw_steps, apgd_steps, "
        "apgd_targets, fab_steps, square_queries; checks: check_points, "
        "...; eps, condition_eps). The other fields stay the run's. With "
        "--model, --config.data.<field> chooses the test set too.")


def run():
    run_tool(main, "advmask-eval", define_config_flag)


if __name__ == "__main__":
    run()
