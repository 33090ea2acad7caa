"""What a search maximises, from a trial's validation accuracies."""

from __future__ import annotations

from advmask_tf.configs_lib import SEARCH_OBJECTIVES as OBJECTIVES
from advmask_tf.errors import InputError


def check_objective(name: str, robust_weight: float, robust_floor: float):
    """Raises ValueError naming a bad objective setting."""
    if name not in OBJECTIVES:
        raise InputError(f"Unknown tune.objective {name!r}; expected one of "
                         f"{OBJECTIVES}.")
    if not 0.0 <= robust_weight <= 1.0:
        raise InputError(f"tune.robust_weight must be in [0, 1]; received "
                         f"{robust_weight}.")
    if not 0.0 <= robust_floor <= 1.0:
        raise InputError(f"tune.robust_floor must be in [0, 1]; received "
                         f"{robust_floor}.")


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
