"""Which part a process plays in a distributed KerasTuner search.

KerasTuner distributes a search through three environment variables: a
chief process holds the oracle and serves it on KERASTUNER_ORACLE_IP:
KERASTUNER_ORACLE_PORT; every process whose KERASTUNER_TUNER_ID is not
"chief" is a worker that asks it for trials. `advmask-tune` runs as either
from the same command line, all on one shared work directory.

>>> tuning_role({})
'single'
>>> tuning_role({"KERASTUNER_TUNER_ID": "chief",
...              "KERASTUNER_ORACLE_IP": "127.0.0.1",
...              "KERASTUNER_ORACLE_PORT": "8000"})
'chief'
"""

from __future__ import annotations

import os
import re
import socket

from advmask_tf.errors import InputError

TUNER_ID = "KERASTUNER_TUNER_ID"
ORACLE_IP = "KERASTUNER_ORACLE_IP"
ORACLE_PORT = "KERASTUNER_ORACLE_PORT"
# A worker's id names its directory (<workdir>/workers/<id>).
WORKER_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")


def tuning_role(environ=None) -> str:
    """"single" (no distribution), "chief" or "worker", from the
    KerasTuner variables; a partial or malformed set is an error that
    names the variable."""
    environ = os.environ if environ is None else environ
    present = [name for name in (TUNER_ID, ORACLE_IP, ORACLE_PORT)
               if environ.get(name)]
    if not present:
        return "single"
    missing = [name for name in (TUNER_ID, ORACLE_IP, ORACLE_PORT)
               if not environ.get(name)]
    if missing:
        raise InputError(
            f"a distributed search needs {TUNER_ID}, {ORACLE_IP} and "
            f"{ORACLE_PORT} together; {', '.join(present)} set but "
            f"{', '.join(missing)} missing.")
    port = environ[ORACLE_PORT]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"{ORACLE_PORT} must be a port number in [1, "
                         f"65535]; received {port!r}.")
    tuner_id = environ[TUNER_ID]
    if "chief" in tuner_id:
        # KerasTuner's own test: any id containing "chief" serves.
        return "chief"
    if not WORKER_ID_PATTERN.fullmatch(tuner_id):
        raise InputError(
            f"{TUNER_ID} must be letters, digits, '_', '.' or '-' (it names "
            f"the worker's directory); received {tuner_id!r}.")
    return "worker"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (for a loopback search)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def role_environment(tuner_id: str, ip: str, port: int) -> dict:
    """The environment of a search process: os.environ plus the three
    KerasTuner variables (tuner_id "chief" serves the oracle).

    >>> env = role_environment("tuner0", "127.0.0.1", 8000)
    >>> env["KERASTUNER_TUNER_ID"], env["KERASTUNER_ORACLE_PORT"]
    ('tuner0', '8000')
    """
    return {**os.environ, TUNER_ID: tuner_id, ORACLE_IP: ip,
            ORACLE_PORT: str(port)}
