"""What a search maximises, from a trial's validation accuracies."""

from __future__ import annotations

from advmask_tf.config_sections import SEARCH_OBJECTIVES as OBJECTIVES
from advmask_tf.config_sections import TuneOptions
from advmask_tf.options import checked_options

__all__ = ["OBJECTIVES", "check_objective", "score"]


def check_objective(name: str, robust_weight: float, robust_floor: float):
    """Raises InputError naming a bad objective setting (checked against
    the tune block's declarations)."""
    checked_options("tune", TuneOptions, {"objective": name,
                                          "robust_weight": robust_weight,
                                          "robust_floor": robust_floor})


def score(name: str, clean: float, robust: float, robust_weight: float = 0.5,
          robust_floor: float = 0.0) -> float:
    """The value the tuner maximises.

    - robust / clean: that validation accuracy;
    - weighted: robust_weight * robust + (1 - robust_weight) * clean;
    - clean_with_robust_floor: clean accuracy when robust >= robust_floor;
      otherwise robust - robust_floor - 1, below every feasible trial and
      higher the closer the trial comes to the floor.

    >>> score("weighted", clean=0.9, robust=0.5, robust_weight=0.25)
    0.8
    >>> score("clean_with_robust_floor", 0.9, 0.6, robust_floor=0.7)
    -1.1
    """
    check_objective(name, robust_weight, robust_floor)
    if name == "robust":
        return float(robust)
    if name == "clean":
        return float(clean)
    if name == "weighted":
        return float(robust_weight * robust + (1.0 - robust_weight) * clean)
    if robust >= robust_floor:
        return float(clean)
    return float(robust - robust_floor - 1.0)
