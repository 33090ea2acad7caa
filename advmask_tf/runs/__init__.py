"""One experiment in a work directory: its files (`workdir`), turning its
config into parts (`assembly`), training it (`train`) and evaluating it
(`evaluate`). The command-line tools call one function of this package
each: `train_or_report` (advmask-train) and `evaluate_runs` (advmask-eval).
"""

from advmask_tf.runs.assembly import (
    attack_budgets,
    build_adversarial_model,
    build_network,
    check_config,
    check_settings,
    condition_eps,
    eval_eps,
    evaluation_attacks,
    make_optimizer,
    method_label,
    norm_options,
    objective_spec,
    part_spec,
    radius_spec,
    training_strengths,
    weighting_spec,
)
from advmask_tf.runs.evaluate import (
    compare_workdirs,
    evaluate_conditioning,
    evaluate_network,
    evaluate_runs,
    evaluate_sweep,
    evaluate_workdir,
    evaluation_tag,
    load_for_evaluation,
    with_eval_overrides,
)
from advmask_tf.runs.train import train, train_or_report
from advmask_tf.runs.workdir import (
    WorkDir,
    is_finished,
    is_fresh,
    load_config,
    read_json,
    resolved,
    save_or_check_config,
    selected_epoch,
)

__all__ = [
    "attack_budgets",
    "build_adversarial_model",
    "build_network",
    "check_config",
    "check_settings",
    "condition_eps",
    "eval_eps",
    "evaluation_attacks",
    "make_optimizer",
    "method_label",
    "norm_options",
    "objective_spec",
    "part_spec",
    "radius_spec",
    "training_strengths",
    "weighting_spec",
    "compare_workdirs",
    "evaluate_conditioning",
    "evaluate_network",
    "evaluate_runs",
    "evaluate_sweep",
    "evaluate_workdir",
    "evaluation_tag",
    "load_for_evaluation",
    "with_eval_overrides",
    "train",
    "train_or_report",
    "WorkDir",
    "is_finished",
    "is_fresh",
    "load_config",
    "read_json",
    "resolved",
    "save_or_check_config",
    "selected_epoch",
]
