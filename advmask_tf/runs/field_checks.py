"""The ranges of a run config's numeric fields, and errors that name the
field the user set.

`check_fields` refuses a value outside its field's range with one line:
the field, the value received and what is accepted. `naming_field` wraps
the building of a part so that a part's own error ("eps must be ...")
says which config field it came from ("attack.eps must be ...").
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings

from advmask_tf.errors import InputError


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _integer(value) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number == int(number) \
        else None


# field -> (accepts(value) -> bool, what is accepted)
FIELD_RANGES = {
    "train.epochs": (lambda v: (_integer(v) or 0) >= 1, "an integer >= 1"),
    "train.batch_size": (lambda v: (_integer(v) or 0) >= 1,
                         "an integer >= 1"),
    "train.learning_rate": (lambda v: (_number(v) or 0) > 0,
                            "a number > 0"),
    "train.weight_decay": (lambda v: _number(v) is not None
                           and float(v) >= 0, "a number >= 0"),
    "train.momentum": (lambda v: _number(v) is not None
                       and 0 <= float(v) < 1, "a number in [0, 1)"),
    "train.ema_momentum": (lambda v: _number(v) is not None
                           and 0 <= float(v) < 1,
                           "a number in [0, 1) (0: no weight averaging)"),
    "train.free_replays": (lambda v: _integer(v) is not None
                           and int(v) >= 0,
                           "an integer >= 0 (0: no Free adversarial "
                           "training)"),
    "method.awp_gamma": (lambda v: _number(v) is not None
                         and 0 <= float(v) < 1,
                         "a number in [0, 1) (0: no weight perturbation; "
                         "the paper: 5e-3)"),
    "method.awp_warmup_epochs": (lambda v: _integer(v) is not None
                                 and int(v) >= 0, "an integer >= 0"),
    "mix.accurate_epochs": (lambda v: (_integer(v) or 0) >= 1,
                            "an integer >= 1"),
    "mix.accurate_width": (lambda v: _integer(v) is not None
                           and int(v) >= 0,
                           "an integer >= 0 (0: model.options.width)"),
    "mix.robust_drop": (lambda v: _number(v) is not None
                        and 0 <= float(v) < 1, "a fraction in [0, 1)"),
    "mix.validation_points": (lambda v: _integer(v) is not None
                              and int(v) >= 0,
                              "an integer >= 0 (0: the whole validation "
                              "split)"),
    "mix.top_k": (lambda v: _integer(v) is not None and int(v) >= 0,
                  "an integer >= 0 (0: all logits)"),
    "guard.points": (lambda v: _integer(v) is not None and int(v) >= 0,
                     "an integer >= 0 (0: no guard)"),
    "guard.steps": (lambda v: (_integer(v) or 0) >= 1, "an integer >= 1"),
    "guard.every_steps": (lambda v: _integer(v) is not None and int(v) >= 0,
                          "an integer >= 0 (0: at epoch ends only)"),
    "guard.drop": (lambda v: _number(v) is not None and 0 < float(v) < 1,
                   "a fraction in (0, 1)"),
    "guard.action": (lambda v: v in ("restore", "restore_and_stop"),
                     "'restore' or 'restore_and_stop'"),
    "attack.eps": (lambda v: _number(v) is not None and 0 <= float(v) <= 1,
                   "a number in [0, 1] (pixels are in [0, 1])"),
    "attack.step_size": (lambda v: _number(v) is not None
                         and 0 <= float(v) <= 1, "a number in [0, 1]"),
    "eval.eps": (lambda v: _number(v) is not None and float(v) <= 1,
                 "a number in [0, 1], or < 0 for the training eps"),
    "eval.condition_eps": (lambda v: _number(v) is not None
                           and float(v) <= 1,
                           "a number in [0, 1], or < 0 for the eval eps"),
    "eval.batch_size": (lambda v: (_integer(v) or 0) >= 1,
                        "an integer >= 1"),
    "eval.limit": (lambda v: _integer(v) is not None and int(v) >= 0,
                   "an integer >= 0 (0: the whole test set)"),
    "eval.fab_steps": (lambda v: (_integer(v) or 0) >= 1, "an integer >= 1"),
    "eval.square_schedule": (lambda v: v in ("official", "rescaled"),
                             "'official' or 'rescaled'"),
    "data.train_limit": (lambda v: _integer(v) is not None and int(v) >= 0,
                         "an integer >= 0 (0: all training images)"),
    "data.test_limit": (lambda v: _integer(v) is not None and int(v) >= 0,
                        "an integer >= 0 (0: the whole test set)"),
    "data.validation_size": (lambda v: _integer(v) is not None
                             and int(v) >= 0, "an integer >= 0"),
    "data.num_classes": (lambda v: _integer(v) is not None and int(v) >= 0,
                         "an integer >= 0 (0: from the data)"),
    "tune.validation_limit": (lambda v: _integer(v) is not None
                              and int(v) >= 0,
                              "an integer >= 0 (0: the whole split)"),
    "tune.max_trials": (lambda v: (_integer(v) or 0) >= 1,
                        "an integer >= 1"),
    "tune.seed": (lambda v: _integer(v) is not None and int(v) >= 0,
                  "an integer >= 0"),
}


def field_value(config, field: str):
    block = config
    for part in field.split("."):
        block = block[part]
    return block


def check_fields(config) -> None:
    """Raises ValueError for the first field outside its range.

    >>> from advmask_tf.configs_lib import base_config
    >>> config = base_config(); config.train.learning_rate = -1.0
    >>> check_fields(config)
    Traceback (most recent call last):
    ...
    advmask_tf.errors.InputError: train.learning_rate must be a number > 0; ...
    """
    for field, (accepts, accepted) in FIELD_RANGES.items():
        value = field_value(config, field)
        if not accepts(value):
            raise InputError(f"{field} must be {accepted}; received "
                             f"{value!r}.")


def warn_about_schedule(config) -> None:
    """Warns about settings that run but cannot do what they say."""
    epochs = int(config.train.epochs)
    weighting = config.weighting
    if weighting.name == "gairat" and int(weighting.burn_in_epochs) >= epochs:
        warnings.warn(
            f"weighting.burn_in_epochs={weighting.burn_in_epochs} is not "
            f"below train.epochs={epochs}: GAIRAT's weights never switch on "
            "(the run is Madry AT).", stacklevel=2)


@contextlib.contextmanager
def naming_field(section: str, block=None):
    """Re-raises a ValueError from building the part of config `section`
    with the field named: "eps must be ..." becomes "attack.eps must be
    ..." when `eps` is a field of `block`; otherwise the section prefixes
    the message."""
    try:
        yield
    except InputError as error:
        message = str(error)
        if f"{section}." in message:
            raise
        word = re.match(r"\w+", message)
        if block is not None and word and word.group(0) in block:
            raise InputError(f"{section}.{message}") from None
        raise InputError(f"{section}: {message}") from None
