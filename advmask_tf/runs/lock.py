"""One writer per work directory.

advmask-train, -eval, -tune and -analyze hold `<workdir>/.lock` (an
advisory `flock`) while they write there; a second process refuses at once,
naming the holder from `<workdir>/.lock.json`. The kernel drops the lock
when its process dies, however it dies, so a killed run never blocks the
next one. The lock is re-entrant within a process (training then
evaluating a run takes it twice). Taking it first removes the `.tmp-*`
files an interrupted write left behind.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import functools
import os
import shutil
import socket
import sys

from advmask_tf.errors import InputError
from advmask_tf.io_utils import (
    StorageError,
    atomic_write_json,
    read_json_or_none,
    remove_partial_files,
)

_HELD: dict[str, list] = {}  # real path -> [file descriptor, depth]


class WorkDirBusy(InputError, RuntimeError):
    """Another process is writing the work directory."""


def holder(root: str) -> str:
    """Who holds (or last held) `root`'s lock, in words."""
    info = read_json_or_none(os.path.join(root, ".lock.json"))
    if not isinstance(info, dict):
        return "another process"
    return (f"{info.get('tool', 'a process')} (pid {info.get('pid')} on "
            f"{info.get('host')}, since {info.get('started')}: "
            f"{info.get('command')})")


@contextlib.contextmanager
def hold(root: str, tool: str):
    """Holds the work directory `root` for this process while the block
    runs; raises WorkDirBusy when another process holds it.

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> with hold(root, "advmask-train"):
    ...     with hold(root, "advmask-eval"):  # the same process: fine
    ...         pass
    """
    key = os.path.realpath(root)
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield
        finally:
            _HELD[key][1] -= 1
        return
    created = not os.path.lexists(root)
    fd = _open_lock(root)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise WorkDirBusy(
            f"{root} is in use by {holder(root)}; wait for it to finish or "
            "stop it, or give another --workdir") from None
    _HELD[key] = [fd, 1]
    finished = False
    try:
        atomic_write_json(os.path.join(root, ".lock.json"), {
            "tool": tool, "pid": os.getpid(), "host": socket.gethostname(),
            "started": datetime.datetime.now().isoformat(timespec="seconds"),
            "command": " ".join(os.path.basename(a) if i == 0 else a
                                for i, a in enumerate(sys.argv))})
        for path in remove_partial_files(root):
            print(f"Removed {path}, left by an interrupted write.",
                  flush=True)
        yield
        finished = True
    finally:
        del _HELD[key]
        if created and not finished:
            # Refused before it wrote anything: leave no directory behind.
            _remove_if_only_the_lock(root)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _open_lock(root: str) -> int:
    """Creates `root` if needed and opens its lock file; a path that cannot
    be a work directory is refused in one line naming it and why."""
    try:
        os.makedirs(root, exist_ok=True)
        return os.open(os.path.join(root, ".lock"),
                       os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0),
                       0o666)
    except FileExistsError:
        raise StorageError(errno.EEXIST, f"{root} is a file, not a "
                           "directory: give a new directory or a work "
                           "directory") from None
    except OSError as error:
        reason = {errno.ENAMETOOLONG: "the path is too long for the "
                  "filesystem", errno.ENOTDIR: "a part of the path is a "
                  "file", errno.EROFS: "the filesystem is read-only",
                  errno.EACCES: "permission denied"}.get(
            error.errno, error.strerror)
        raise StorageError(error.errno, f"cannot use {root} as a work "
                           f"directory: {reason}; give another one") \
            from None


def _remove_if_only_the_lock(root: str) -> None:
    """Removes `root`, created by this hold, if it holds nothing but the
    lock's files (and empty folders)."""
    for directory, _, files in os.walk(root):
        if set(files) - ({".lock", ".lock.json"} if directory == root
                         else set()):
            return
    shutil.rmtree(root, ignore_errors=True)


def holding(tool: str):
    """Decorator: the function's first argument is a work directory, held
    (`hold`) while the function runs."""

    def decorate(function):
        @functools.wraps(function)
        def held(workdir, *args, **kwargs):
            with hold(workdir, tool):
                return function(workdir, *args, **kwargs)

        return held

    return decorate
