"""advmask-eval: evaluate a trained work directory on its test set.

    advmask-eval --workdir=runs/madry [--checkpoint=last] [--limit=1000]
"""

from __future__ import annotations

from absl import app, flags

from advmask_tf.cli.common import print_report

_WORKDIR = flags.DEFINE_string("workdir", None, "A work directory made by "
                               "advmask-train.", required=True)
_CHECKPOINT = flags.DEFINE_enum("checkpoint", "best", ["best", "last"],
                                "Which exported network to evaluate.")
_LIMIT = flags.DEFINE_integer("limit", None, "Evaluate on the first N test "
                              "points (default: the config's eval.limit).")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from advmask_tf import experiment

    report = experiment.evaluate_workdir(_WORKDIR.value, _CHECKPOINT.value,
                                         _LIMIT.value)
    print_report(f"Test-set evaluation of {_WORKDIR.value} "
                 f"({_CHECKPOINT.value})", report)


def run():
    app.run(main)


if __name__ == "__main__":
    run()
