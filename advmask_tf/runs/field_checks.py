"""Errors and warnings that name the config field the user set.

`check_fields` refuses a value outside what its field's declaration
accepts with one line: the field, the value received and what is
accepted (the declarations: `advmask_tf.configs_lib`). `naming_field` wraps
the building of a part so that a part's own error ("eps must be ...")
says which config field it came from ("attack.eps must be ...").
"""

from __future__ import annotations

import contextlib
import re
import warnings

from advmask_tf.configs_lib import check_sections
from advmask_tf.errors import InputError


def check_fields(config) -> None:
    """Raises InputError for the first field outside what its declaration
    accepts (`advmask_tf.configs_lib.check_sections`).

    >>> from advmask_tf.configs_lib import base_config
    >>> config = base_config(); config.train.learning_rate = -1.0
    >>> check_fields(config)
    Traceback (most recent call last):
    ...
    advmask_tf.errors.InputError: train.learning_rate must be a number > 0; ...
    """
    check_sections(config)


def warn_about_parts(*parts) -> None:
    """Warns about settings that run but cannot do what they say (each
    part's `warnings()`)."""
    for part in parts:
        for message in part.warnings():
            warnings.warn(message, stacklevel=2)


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
