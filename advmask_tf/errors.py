"""The one error type for what a user got wrong.

`InputError` is raised for a config value, a flag, an argument, a file, a
busy work directory or a full disk: something the user can fix. The
command-line tools report exactly these as one line (`advmask-<tool>:
error: ...`, exit status 2). Any other exception is a bug and keeps its
traceback, even a ValueError that TensorFlow raises while tracing.

`InputError` subclasses ValueError, so callers that caught the ValueErrors
the toolkit raised before still catch them.

>>> from advmask_tf.errors import InputError
>>> raise InputError("attack.eps must be a number in [0, 1]; received 8.")
Traceback (most recent call last):
...
advmask_tf.errors.InputError: attack.eps must be a number in [0, 1]; ...
>>> isinstance(InputError("x"), ValueError)
True
"""

from __future__ import annotations


class InputError(ValueError):
    """Something the user set or gave that the toolkit cannot use; its
    message names the field (or file), the value received and what is
    accepted."""


class MissingFileError(InputError, FileNotFoundError):
    """A file or directory the user named (or a run needs) is not there."""
