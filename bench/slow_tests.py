"""Runs the tests marked `slow` (the default suite leaves them out for its
time): long learning runs, the two-worker and full-disk runs, the presets
whose parts other tests cover. Prints pytest's summary and the wall-clock.

    .venv/bin/python bench/slow_tests.py [pytest arguments, e.g. -k hat]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m",
                             "slow", *sys.argv[1:]], cwd=REPO)
    print(f"slow tests: exit status {result.returncode} in "
          f"{(time.perf_counter() - start) / 60:.1f} min", flush=True)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
