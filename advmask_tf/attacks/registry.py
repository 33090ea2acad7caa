"""The evaluation attacks by name: one registry, one interface.

Each registered builder takes (eps, `AttackBudgets`) and returns an attack
config with `eps` and `fooled(model, x, y, eps=None, noise_keys=None,
seed=None)` (`advmask_tf.training.interfaces.Attack`); an ensemble also has
`stages()`. Evaluation, the sanity checks, reports and `advmask-eval
--attacks` find an attack by its name here, so a new attack is its own module
plus one `@ATTACKS.register("name")`.
"""

from __future__ import annotations

import dataclasses
import re

from advmask_tf.errors import InputError
from advmask_tf.options import integer, one_of, option
from advmask_tf.registry import Registry

ATTACKS = Registry("attack", field="eval.attacks")

# "pgd<K>" asks for the "pgd" builder with K steps.
PGD_STEPS = re.compile(r"pgd(\d+)$")


@dataclasses.dataclass(frozen=True)
class AttackBudgets:
    """How much each evaluation attack may spend (fields of the config's
    eval block). AutoAttack's standard version is defined by the defaults.

    >>> AttackBudgets().apgd_steps
    100
    """

    pgd_steps: int = option(20, "PGD steps of the pgd attack (reported as "
                            "pgd<steps>; pgd<K> asks for K)", integer(1))
    cw_steps: int = option(20, "PGD steps of cw_inf (the CW margin loss)",
                           integer(1))
    apgd_steps: int = option(100, "APGD iterations per restart (APGD-CE, "
                             "APGD-T, APGD-DLR)", integer(1))
    apgd_targets: int = option(9, "target classes of APGD-T and FAB-T",
                               integer(1))
    fab_steps: int = option(100, "FAB-T iterations per target", integer(1))
    square_queries: int = option(5000, "Square's queries per point",
                                 integer(1))
    square_schedule: str = option(
        "official", "Square's p schedule: official (AutoAttack's standard "
        "version) or rescaled (the halvings spread over any query budget)",
        one_of("official", "rescaled"))


def budget_fields(name: str) -> tuple:
    """The `AttackBudgets` fields the attack `name` (or pgd<K>) reads,
    found by building it once with a budget that records what is read.

    >>> budget_fields("fab_t")
    ('apgd_targets', 'fab_steps')
    >>> budget_fields("pgd50")
    ()
    """
    read = set()

    class Recording:
        def __getattr__(self, field):
            read.add(field)
            return getattr(AttackBudgets(), field)

    if PGD_STEPS.match(name):
        return ()
    ATTACKS.get(name)(0.1, Recording())
    return tuple(sorted(read))


def report_name(name: str, budgets: AttackBudgets) -> str:
    """The name an attack is reported under ("pgd" -> "pgd20").

    >>> report_name("pgd", AttackBudgets(pgd_steps=7))
    'pgd7'
    """
    return f"pgd{budgets.pgd_steps}" if name == "pgd" else name


def attack_names(text: str) -> list:
    """The names of a comma-separated list.

    >>> attack_names("pgd, cw_inf,")
    ['pgd', 'cw_inf']
    """
    return [n.strip() for n in text.split(",") if n.strip()]


def build_attacks(names, eps: float,
                  budgets: AttackBudgets | None = None) -> dict:
    """{report name: attack} from names (a list or a comma-separated string).

    >>> sorted(build_attacks("pgd,cw_inf,pgd50", 0.1))
    ['cw_inf', 'pgd20', 'pgd50']
    """
    budgets = budgets or AttackBudgets()
    if isinstance(names, str):
        names = attack_names(names)
    if not names:
        raise InputError("eval.attacks is empty; expected a comma-separated "
                         f"list of {ATTACKS.names()} (or pgd<K>).")
    attacks = {}
    for name in names:
        steps = PGD_STEPS.match(name)
        if steps:
            chosen = dataclasses.replace(budgets, pgd_steps=int(steps[1]))
            attacks[report_name("pgd", chosen)] = ATTACKS.get("pgd")(
                eps, chosen)
        else:
            attacks[report_name(name, budgets)] = ATTACKS.get(name)(
                eps, budgets)
    return attacks
