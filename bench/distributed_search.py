"""A KerasTuner search in one process against a chief and two workers.

The same small search (tiny config, Madry or TRADES, learning rate; 4
trials of 3 epochs) runs once in one process and once distributed over
loopback with KerasTuner's mechanism (a chief serving the oracle, two
workers training trials); the figure is the ratio of wall-clock times,
and both must finish every trial once. On this machine's 2 cores the two
workers share the cores, so it measures what the distribution costs or
gains here, not a cluster's speed-up.

    .venv/bin/python bench/distributed_search.py [--trials 4] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from benchlib import REPO
from records import section, store  # noqa: E402

from advmask_tf.tuning.distributed import free_port, role_environment


def command(workdir: str, trials: int) -> list[str]:
    return [sys.executable, os.path.join(REPO, "bin", "advmask-tune"),
            f"--config={os.path.join(REPO, 'configs', 'tiny.py')}",
            f"--workdir={workdir}", "--config.train.epochs=3",
            f"--config.tune.max_trials={trials}",
            "--config.tune.methods=('madry','trades')",
            "--config.tune.learning_rate=(0.001,0.003)"]


def trials_done(workdir: str) -> int:
    with open(os.path.join(workdir, "trials.json")) as f:
        return len(json.load(f)["trials"])


def one_process(workdir: str, trials: int) -> float:
    start = time.perf_counter()
    subprocess.run(command(workdir, trials), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def chief_and_workers(workdir: str, trials: int, workers: int) -> float:
    port = free_port()
    start = time.perf_counter()
    processes = [subprocess.Popen(
        command(workdir, trials),
        env=role_environment(tuner_id, "127.0.0.1", port),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for tuner_id in ["chief"] + [f"tuner{i}" for i in range(workers)]]
    for process in processes:
        if process.wait() != 0:
            raise RuntimeError(f"{process.args} failed")
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        single = one_process(os.path.join(root, "one"), args.trials)
        spread = chief_and_workers(os.path.join(root, "two"), args.trials, 2)
        counts = (trials_done(os.path.join(root, "one")),
                  trials_done(os.path.join(root, "two")))
    if counts != (args.trials, args.trials):
        raise RuntimeError(f"trials finished: {counts}")
    command = (".venv/bin/python bench/distributed_search.py"
               + ("" if args.trials == 4 else f" --trials {args.trials}")
               + " --write")
    before = (
        f"The same {args.trials}-trial search (configs/tiny.py: Madry or "
        "TRADES and the learning rate, 3 epochs a trial, judged on 200 "
        "validation images) in one advmask-tune process, then over "
        "loopback as a chief serving KerasTuner's oracle and two workers "
        "(every trial finished once in both). The workers share the "
        "machine's 2 cores, and the chief waits up to 20 s (KerasTuner's "
        "poll) before it writes the reports.")
    columns = [["search", "search", "text"],
               ["seconds", "wall clock (s)", "integer"],
               ["trials", "trials", "text"]]
    rows = [{"search": "one process", "seconds": single,
             "trials": counts[0]},
            {"search": "chief + 2 workers", "seconds": spread,
             "trials": counts[1]}]
    store(section("distributed-search", "A distributed search: one process "
                  "against a chief and two workers", command, columns, rows,
                  before, f"Ratio one process / distributed: "
                  f"{single / spread:.2f}."), args.write)


if __name__ == "__main__":
    main()
