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
import fcntl
import functools
import os
import socket
import sys

from advmask_tf.errors import InputError
from advmask_tf.io_utils import (
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
    os.makedirs(root, exist_ok=True)
    fd = os.open(os.path.join(root, ".lock"), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise WorkDirBusy(
            f"{root} is in use by {holder(root)}; wait for it to finish or "
            "stop it, or give another --workdir") from None
    _HELD[key] = [fd, 1]
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
    finally:
        del _HELD[key]
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


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
