"""The AutoAttack-style worst case: APGD-CE, then APGD-T, then Square, each
run only on the points every earlier attack left robust (`stages()`; the
cascade itself is `advmask_tf.evaluation.ensemble.cascade`).

How it differs from the official AutoAttack "standard" version (Croce & Hein
2020, RobustBench's reference):
  - FAB-T is not run. In the published evaluations FAB-T rarely breaks a
    point APGD-T left standing, so the worst case here can be (slightly)
    higher than the official one.
  - A point counts as broken when any point an attack evaluated was
    misclassified (the official code keeps the same "best adversarial
    example found"), and random starts are keyed by example index, so the
    result does not depend on the batch size.
  - Square's windows share one side length per query across the batch (see
    `advmask_tf.attacks.square`).
Budgets default to the official ones: APGD 100 iterations and 1 restart,
APGD-T 9 target classes, Square 5,000 queries with p_init 0.8.
"""

from __future__ import annotations

import dataclasses

from advmask_tf.attacks.apgd import APGDConfig
from advmask_tf.attacks.registry import ATTACKS
from advmask_tf.attacks.square import SquareConfig


@dataclasses.dataclass
class AutoAttackConfig:
    """The three stages, in AutoAttack order, with their budgets.

    >>> list(AutoAttackConfig(eps=0.1).stages())
    ['apgd_ce', 'apgd_t', 'square']
    """

    eps: float
    apgd_steps: int = 100
    restarts: int = 1
    targets: int = 9
    square_queries: int = 5000
    p_init: float = 0.8
    seed: int = 0

    def __post_init__(self):
        self.stages()  # validates every setting now

    def stages(self) -> dict:
        return {
            "apgd_ce": APGDConfig(eps=self.eps, steps=self.apgd_steps,
                                  loss="ce", restarts=self.restarts),
            "apgd_t": APGDConfig(eps=self.eps, steps=self.apgd_steps,
                                 loss="dlr_targeted", restarts=self.restarts,
                                 targets=self.targets),
            "square": SquareConfig(eps=self.eps, queries=self.square_queries,
                                   p_init=self.p_init, seed=self.seed),
        }


@ATTACKS.register("autoattack")
def _autoattack(eps, budgets):
    return AutoAttackConfig(eps=eps, apgd_steps=budgets.apgd_steps,
                            targets=budgets.targets,
                            square_queries=budgets.square_queries)
