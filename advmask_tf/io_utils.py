"""Writes that a crash, a kill or a full disk cannot leave half-done.

Every file the toolkit writes goes through `atomic_save` (or its text and
JSON forms): written beside its final name as `.tmp-<random>-<name>` (a
name no one can plant a link at beforehand; text is opened with O_EXCL and
O_NOFOLLOW), flushed to disk, then renamed over the old file, and the
directory synced. A reader
sees the old file or the new one, never a torn one. Before writing, the
free space is checked against the expected size (HDF5 can crash the
process on a full disk instead of raising), and a write that fails for
lack of space or permission raises `StorageError` naming the path; the
file that was there before is untouched.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil

from advmask_tf.errors import InputError

PARTIAL_PREFIX = ".tmp-"
# Room kept free beyond a write's expected size (filesystem overheads).
SPARE_BYTES = 1 << 20


class StorageError(OSError, InputError):
    """A write that failed for lack of space or permission, with its path
    (the user frees space or picks another directory).

    >>> str(StorageError(28, "cannot write /runs/a/model.keras: no space"))
    'cannot write /runs/a/model.keras: no space'
    """

    def __str__(self):
        return self.strerror


def current_umask() -> int:
    """The process umask (read by setting it and setting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def free_bytes(directory: str) -> int:
    """Bytes free for an unprivileged writer in `directory`'s filesystem."""
    return shutil.disk_usage(directory).free


def ensure_free_space(path: str, expected_bytes: int) -> None:
    """Raises StorageError when writing about `expected_bytes` to `path`
    would not fit."""
    directory = os.path.dirname(os.path.abspath(path))
    free = free_bytes(directory)
    if free < expected_bytes + SPARE_BYTES:
        raise StorageError(
            errno.ENOSPC, f"not enough free space to write {path}: "
            f"{free / 2**20:.1f} MiB free, about "
            f"{(expected_bytes + SPARE_BYTES) / 2**20:.1f} MiB needed; free "
            "some space and run the same command again (nothing written "
            "before was changed)")


def atomic_save(save_fn, path: str, expected_bytes: int | None = None
                ) -> None:
    """Calls `save_fn(tmp_path)`, syncs it and renames it onto `path`.

    The temporary name keeps `path`'s suffix (Keras and numpy choose the
    format by it). `expected_bytes` (default: the size of the file being
    replaced) is checked against the free space first.

    >>> import tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> atomic_save(lambda tmp: open(tmp, "w").write("hello"), target)
    >>> open(target).read()
    'hello'
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = partial_name(path)
    if expected_bytes is None:
        expected_bytes = os.path.getsize(path) if os.path.exists(path) else 0
    ensure_free_space(path, expected_bytes)
    try:
        save_fn(tmp)
        _sync_file(tmp)
        os.replace(tmp, path)
    except BaseException as error:
        _remove_quietly(tmp)
        if isinstance(error, OSError) and not isinstance(error, StorageError) \
                and error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS,
                                    errno.EACCES):
            raise StorageError(error.errno, f"cannot write {path}: "
                               f"{os.strerror(error.errno)}") from error
        raise
    _sync_directory(directory)


def partial_name(path: str) -> str:
    """A fresh temporary name beside `path` that keeps its suffix (Keras
    and numpy choose the format by it): `.tmp-<random>-<name>`.

    >>> os.path.basename(partial_name("/runs/a/model.keras")).startswith(
    ...     ".tmp-")
    True
    """
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory,
                        f"{PARTIAL_PREFIX}{secrets.token_hex(6)}-{name}")


def atomic_write_text(path: str, text: str) -> None:
    """Writes `text` to `path` atomically (mode from the umask); the
    temporary file is created anew, never opened through a link."""

    def write(tmp):
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                     | getattr(os, "O_NOFOLLOW", 0), 0o666)
        with os.fdopen(fd, "w") as f:
            f.write(text)

    atomic_save(write, path, expected_bytes=len(text.encode()))


def atomic_write_json(path: str, value) -> None:
    atomic_write_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def read_json_or_none(path: str):
    """The JSON at `path`, or None when it is missing or unreadable (for
    state a caller can do without: a backup's index, a lock's holder)."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def check_writable(directory: str) -> None:
    """Raises StorageError unless a file can be written in `directory` now
    (checked before long work whose result would otherwise be lost)."""
    probe = os.path.join(directory, PARTIAL_PREFIX + "probe")
    try:
        os.makedirs(directory, exist_ok=True)
        atomic_write_text(probe, "probe")
    except StorageError:
        raise
    except OSError as error:
        raise StorageError(error.errno, f"cannot write in {directory}: "
                           f"{error.strerror}") from error
    finally:
        _remove_quietly(probe)


def remove_partial_files(root: str) -> list[str]:
    """Deletes the `.tmp-*` files an interrupted write left under `root`,
    not descending into directories another lock guards (a nested work
    directory). Returns what it removed."""
    removed = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [
            d for d in subdirectories
            if not os.path.exists(os.path.join(directory, d, ".lock"))]
        for name in list(subdirectories):
            if name.startswith(PARTIAL_PREFIX):  # a SavedModel export
                subdirectories.remove(name)
                files.append(name)
        for name in files:
            if name.startswith(PARTIAL_PREFIX):
                path = os.path.join(directory, name)
                _remove_quietly(path)
                removed.append(path)
    return removed


def _sync_file(path: str) -> None:
    if os.path.isdir(path):  # a SavedModel directory: sync its files
        for directory, _, files in os.walk(path):
            for name in files:
                _sync_file(os.path.join(directory, name))
        return
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _sync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_quietly(path: str) -> None:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    except FileNotFoundError:
        pass
