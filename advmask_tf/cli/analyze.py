r"""advmask-analyze: how robustness regularised trained networks.

    advmask-analyze --workdir=runs/standard --workdir=runs/madry \
        --workdir=runs/robmask --out=runs/analysis [--limit=1000] \
        [--eps=0.1] [--max_eps=0.3] [--condition_eps=0,0.1]

For each work directory: the singular values of every layer's operator and
their product, per-layer feature smoothness under random and adversarial
input changes, logit margins (raw and divided by the spectral-norm product),
confidence, and each test point's distance to the decision boundary (the
smallest eps at which PGD breaks it). Each analysis is cached in its work
directory (analysis/, TensorBoard under tensorboard/analysis); the
comparison goes to --out as analysis.json, analysis.md and PNG plots. A
conditioned network (RobMask, split BN) is analysed once per
--condition_eps (default: 0 and its training eps).
"""

from __future__ import annotations

from absl import flags

from advmask_tf.analysis.runs import analyze_runs
from advmask_tf.cli.common import (
    CommandLineError,
    check_no_arguments,
    float_list,
    run_tool,
)

_WORKDIR = flags.DEFINE_multi_string(
    "workdir", None, "A work directory made by advmask-train; repeat to "
    "compare several.", required=True)
_OUT = flags.DEFINE_string(
    "out", None, "Where the comparison goes (default: <workdir>/analysis "
    "for one work directory; required for several).")
_CHECKPOINT = flags.DEFINE_enum("checkpoint", "best", ["best", "last"],
                                "Which exported network to analyse.")
_LIMIT = flags.DEFINE_integer("limit", 1000, "Test points to analyse "
                              "(0: the whole test set).", lower_bound=0)
_EPS = flags.DEFINE_float(
    "eps", None, "Radius of the smoothness perturbations (default: the "
    "first work directory's training eps).")
_MAX_EPS = flags.DEFINE_float(
    "max_eps", None, "Largest radius of the boundary-distance bisection "
    "(default: 3 x eps).")
_BISECTIONS = flags.DEFINE_integer("bisections", 8, "Halvings of "
                                   "[0, max_eps] per point.", lower_bound=0)
_ATTACK_STEPS = flags.DEFINE_integer(
    "attack_steps", 20, "PGD steps at each bisection radius.", lower_bound=1)
_CONDITION_EPS = flags.DEFINE_list(
    "condition_eps", None, "Strengths a conditioned network is told, one "
    "analysis each (default: 0 and its training eps).")


def main(argv):
    check_no_arguments(argv)
    if len(_WORKDIR.value) > 1 and not _OUT.value:
        raise CommandLineError("Several --workdir need --out=<directory> "
                               "for the comparison.")
    conditions = None
    if _CONDITION_EPS.value:
        conditions = float_list(_CONDITION_EPS.value, "condition_eps")
    print(analyze_runs(
        _WORKDIR.value, _OUT.value, _CHECKPOINT.value, _LIMIT.value,
        eps=_EPS.value, max_eps=_MAX_EPS.value, bisections=_BISECTIONS.value,
        attack_steps=_ATTACK_STEPS.value, conditions=conditions))


def run():
    run_tool(main, "advmask-analyze")


if __name__ == "__main__":
    run()
