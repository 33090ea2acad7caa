"""The training attack's options as the config and `AdversarialModel`
take them (the attack and val_attack blocks), each declared once: the same
range checks apply to a config file and to `AdversarialModel(attack={...})`.
"""

from __future__ import annotations

import dataclasses

from advmask_tf.attacks.pgd import BN_MODES, STARTS
from advmask_tf.attacks.pgd import NORMS as ATTACK_NORMS
from advmask_tf.options import (
    checked_options,
    declared,
    flag,
    integer,
    number,
    one_of,
    option,
)


@dataclasses.dataclass(frozen=True)
class AttackOptions:
    """attack: the training attack (PGD; its loss is the objective's)."""

    eps: float = option(0.1, "the training radius (Linf unless norm l2)",
                        number(0, 1, note="pixels are in [0, 1]"))
    steps: int = option(10, "attack iterations", integer(1))
    step_size: float = option(0.025, "the step per iteration",
                              number(0, 1, low_open=True))
    norm: str = option("linf", "the threat model", one_of(*ATTACK_NORMS))
    random_start: str = option(
        "auto", "where the attack starts (auto: the objective's; TRADES "
        "x + 0.001 N(0, 1), the others uniform; from Python also True or "
        "False)", one_of("auto", *STARTS, True, False))
    bn_mode: str = option("inference", "batch norm while attacking",
                          one_of(*BN_MODES))
    start_radius: float = option(1.0, "the uniform start's ball, in eps "
                                 "(N-FGSM: 2)", number(low=0, low_open=True))
    project: bool = option(True, "project iterates onto the eps-ball "
                           "(N-FGSM: False; the [0, 1] clip always "
                           "applies)", flag())


@dataclasses.dataclass(frozen=True)
class ValidationAttackOptions:
    """val_attack: the attack of the per-epoch validation (PGD at attack.eps)."""

    steps: int = option(10, "PGD steps", integer(1))


def checked_attack(section: str, spec: dict, schema=AttackOptions) -> dict:
    """`spec` with every option `schema` declares checked (an error names
    `<section>.<option>`, the value received and what is accepted); other
    keys (the loss, which the objective sets) pass unchanged.

    >>> checked_attack("attack", {"eps": 8})
    Traceback (most recent call last):
    ...
    advmask_tf.errors.InputError: attack.eps must be a number in [0, 1] ...
    >>> checked_attack("attack", {"eps": 0.1, "loss": "kl"})
    {'eps': 0.1, 'loss': 'kl'}
    """
    names = {d.name for d in declared(schema)}
    known = {k: v for k, v in spec.items() if k in names and v is not None}
    checked = dataclasses.asdict(checked_options(section, schema, known))
    return {**spec, **{k: checked[k] for k in known}}
