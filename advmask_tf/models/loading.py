"""Loading a saved Keras model with errors that name the file and what is
wrong with it (missing, not a .keras archive, torn, incomplete)."""

from __future__ import annotations

import os
import zipfile

import keras

from advmask_tf.errors import InputError, MissingFileError


def load_keras_file(path: str, what: str, compile: bool = True):
    """`keras.models.load_model(path)`, after checking the file is a whole
    .keras archive; `what` names it in errors (a config field or "the
    work directory's model").

    >>> load_keras_file("/nonexistent.keras", "train.init_from")
    Traceback (most recent call last):
    ...
    advmask_tf.errors.MissingFileError: train.init_from: /nonexistent.keras ...
    """
    if not os.path.exists(path):
        raise MissingFileError(f"{what}: {path} does not exist.")
    if not zipfile.is_zipfile(path):
        raise InputError(
            f"{what}: {path} is not a .keras file (not a zip archive: a "
            "truncated file or another format); give a file written by "
            "model.save(...) or advmask-train.")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(f"{what}: {path} is a damaged .keras file "
                         f"({error}).") from None
    if broken is not None or "config.json" not in names:
        part = broken or "config.json"
        raise InputError(f"{what}: {path} is an incomplete .keras file "
                         f"({part} is missing or damaged).")
    try:
        return keras.models.load_model(path, compile=compile)
    except (TypeError, ValueError, OSError, KeyError) as error:
        first = str(error).strip().splitlines()[0] if str(error) else ""
        raise InputError(f"{what}: {path} cannot be loaded "
                         f"({type(error).__name__}: {first}); if it holds "
                         "advmask_tf layers, import advmask_tf first.") \
            from None
