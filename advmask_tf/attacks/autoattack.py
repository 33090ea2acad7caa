"""AutoAttack (Croce & Hein 2020) as cascades: each stage runs only on the
points every earlier stage left robust (`stages()`; the cascade itself is
`advmask_tf.evaluation.ensemble.cascade`).

Versions (`AutoAttackConfig.version`):
  - "standard", what `autoattack` means: APGD-CE -> APGD-T -> FAB-T ->
    Square with the official budgets: APGD 100 iterations and 1 restart,
    APGD-T and FAB-T 9 target classes (FAB-T 100 iterations), Square
    5,000 queries with p_init 0.8 on the official schedule.
  - "fast": the standard version without FAB-T (in published evaluations
    FAB-T rarely breaks a point APGD-T left standing; its worst case can be
    slightly higher than the standard one).
  - "rand", for randomised networks: APGD-CE -> APGD-DLR, each gradient the
    mean over 20 draws of the network (expectation over transformation).

A point counts as broken when any point an attack evaluated was
misclassified (within eps), and random draws are keyed by example index, so
the result does not depend on the batch size or order.
"""

from __future__ import annotations

import dataclasses

from advmask_tf.attacks.apgd import APGDConfig
from advmask_tf.attacks.fab import FABConfig
from advmask_tf.attacks.registry import ATTACKS
from advmask_tf.attacks.square import SquareConfig
from advmask_tf.errors import InputError

VERSIONS = ("standard", "fast", "rand")
# The budgets that define AutoAttack's versions (Croce & Hein 2020; the
# rand version's EOT draws): only a cascade with these may carry the name.
OFFICIAL_BUDGETS = {"apgd_steps": 100, "restarts": 1, "targets": 9,
                    "fab_steps": 100, "square_queries": 5000,
                    "square_schedule": "official", "p_init": 0.8,
                    "eot_samples": 20}


@dataclasses.dataclass
class AutoAttackConfig:
    """The stages of one AutoAttack version, in order, with their budgets.

    >>> list(AutoAttackConfig(eps=0.1).stages())
    ['apgd_ce', 'apgd_t', 'fab_t', 'square']
    >>> list(AutoAttackConfig(eps=0.1, version="rand").stages())
    ['apgd_ce', 'apgd_dlr']
    """

    #: its stages include gradient attacks.
    uses_gradients = True
    eps: float
    version: str = "standard"
    apgd_steps: int = 100
    restarts: int = 1
    targets: int = 9
    fab_steps: int = 100
    square_queries: int = 5000
    square_schedule: str = "official"
    p_init: float = 0.8
    eot_samples: int = 20
    seed: int = 0

    def __post_init__(self):
        if self.version not in VERSIONS:
            raise InputError(f"AutoAttack version must be one of {VERSIONS}; "
                             f"received {self.version!r}.")
        self.stages()  # validates every setting now

    def stages(self) -> dict:
        if self.version == "rand":
            return {loss_name: APGDConfig(
                        eps=self.eps, steps=self.apgd_steps, loss=loss,
                        restarts=self.restarts, eot=self.eot_samples)
                    for loss_name, loss in (("apgd_ce", "ce"),
                                            ("apgd_dlr", "dlr"))}
        stages = {
            "apgd_ce": APGDConfig(eps=self.eps, steps=self.apgd_steps,
                                  loss="ce", restarts=self.restarts),
            "apgd_t": APGDConfig(eps=self.eps, steps=self.apgd_steps,
                                 loss="dlr_targeted", restarts=self.restarts,
                                 targets=self.targets),
            "fab_t": FABConfig(eps=self.eps, steps=self.fab_steps,
                               targets=self.targets),
            "square": SquareConfig(eps=self.eps, queries=self.square_queries,
                                   p_init=self.p_init, seed=self.seed,
                                   schedule=self.square_schedule),
        }
        if self.version == "fast":
            del stages["fab_t"]
        return stages

    def budgets_below_official(self) -> dict:
        """{budget: (this cascade's, the official)} where they differ, for
        the budgets this version's stages use.

        >>> AutoAttackConfig(eps=0.1, apgd_steps=5).budgets_below_official()
        {'apgd_steps': (5, 100)}
        """
        unused = {"standard": ("eot_samples",),
                  "fast": ("eot_samples", "fab_steps"),
                  "rand": ("targets", "fab_steps", "square_queries",
                           "square_schedule", "p_init")}[self.version]
        return {name: (getattr(self, name), official)
                for name, official in OFFICIAL_BUDGETS.items()
                if name not in unused and getattr(self, name) != official}

    @property
    def reported_version(self) -> str:
        """The version's name when every budget is the official one, else
        "custom" (a reduced cascade is no standard AutoAttack)."""
        return "custom" if self.budgets_below_official() else self.version

    def settings(self) -> dict:
        """The version and every stage's budget, for reports; a cascade
        with other budgets than its version's is "custom", naming the
        version it follows and the budgets that differ."""
        settings = {"kind": "AutoAttack", "version": self.reported_version,
                    "eps": self.eps,
                    "stages": {name: {k: v for k, v in vars(stage).items()
                                      if k != "eps"}
                               for name, stage in self.stages().items()}}
        changed = self.budgets_below_official()
        if changed:
            settings["follows_version"] = self.version
            settings["budgets_changed"] = {
                name: {"used": used, "official": official}
                for name, (used, official) in changed.items()}
        return settings


def _registered(version):
    def build(eps, budgets):
        return AutoAttackConfig(eps=eps, version=version,
                                apgd_steps=budgets.apgd_steps,
                                targets=budgets.apgd_targets,
                                fab_steps=budgets.fab_steps,
                                square_queries=budgets.square_queries,
                                square_schedule=budgets.square_schedule)
    return build


ATTACKS.register("autoattack")(_registered("standard"))
ATTACKS.register("autoattack_fast")(_registered("fast"))
ATTACKS.register("autoattack_rand")(_registered("rand"))
