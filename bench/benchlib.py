"""What the benchmarks share: the presets they train, running the
command-line tools (resumable: each keeps its work directory), reading a
run's reports through `advmask_tf.runs`, and the machine and date a
section of docs/RESULTS.md is measured on (bench/records.py stores and
renders the sections).

Run the benchmarks as `.venv/bin/python bench/<name>.py`; this directory is
then on the import path, and advmask_tf is installed in the environment.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time

import keras

from advmask_tf import runs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "docs", "RESULTS.md")
FIGURES = os.path.join(REPO, "docs", "figures")
RUNS = os.path.join(REPO, "runs")

# Method name -> its preset under configs/.
PRESETS = {
    "standard": "fashion_mnist_standard.py",
    "madry": "fashion_mnist_madry.py",
    "trades": "fashion_mnist_trades.py",
    "mart": "fashion_mnist_mart.py",
    "awp": "fashion_mnist_awp.py",
    "oat": "fashion_mnist_oat.py",
    "keep_accuracy": "fashion_mnist_keep_accuracy.py",
    "iaat": "fashion_mnist_iaat.py",
    "gairat": "fashion_mnist_gairat.py",
    "gairat_iaat": "fashion_mnist_gairat_iaat.py",
    "gairat_trades": "fashion_mnist_gairat_trades.py",
    "robmask": "fashion_mnist_robmask.py",
    "split_bn": "fashion_mnist_split_bn.py",
    "fgsm_rs": "fashion_mnist_fgsm_rs.py",
    "nfgsm": "fashion_mnist_nfgsm.py",
    "free": "fashion_mnist_free.py",
    "main": "fashion_mnist_main.py",  # the README's main job
    "lbgat": "fashion_mnist_lbgat.py",
    "hat": "fashion_mnist_hat.py",
}
# A method at another width of the small CNN: "<method>@w<width>".
WIDTH_VARIANT = re.compile(r"^(?P<method>[a-z_0-9]+)@w(?P<width>\d+)$")
# Every benchmarked run gets the same data and eps, whatever its preset says.
SHARED = ["--config.data.train_limit=0", "--config.data.validation_size=5000",
          "--config.attack.eps=0.1", "--config.train.verbose=2"]


def variant(name: str) -> tuple[str, list[str]]:
    """(the preset's method, its overrides) of a method name: "trades" is
    ("trades", []); "trades@w32" the same preset at width 32.

    >>> variant("lbgat@w64")
    ('lbgat', ['--config.model.options.width=64'])
    """
    match = WIDTH_VARIANT.match(name)
    if match is None:
        return name, []
    return match["method"], [
        f"--config.model.options.width={int(match['width'])}"]


def config_path(name: str) -> str:
    """The config file of a preset (a method name, a width variant of one,
    or a file name)."""
    method, _ = variant(name)
    return os.path.join(REPO, "configs", PRESETS.get(method, method))


def methods(value: str, parser) -> list[str]:
    """The comma-separated method names of a flag, or a parser error."""
    names = [m for m in value.split(",") if m]
    unknown = sorted({m for m in names if variant(m)[0] not in PRESETS})
    if unknown:
        parser.error(f"unknown methods {unknown}; known: {sorted(PRESETS)}")
    return names


def pinned_epochs(value: str, parser) -> dict:
    """{method: epochs} from "mart=4,awp=3" (a parser error if malformed)."""
    pins = {}
    for pair in filter(None, value.split(",")):
        method, _, epochs = pair.partition("=")
        if not epochs.isdigit() or int(epochs) < 1:
            parser.error(f"--pin entry {pair!r} is not METHOD=EPOCHS "
                         "(EPOCHS an integer >= 1)")
        pins[methods(method, parser)[0]] = int(epochs)
    return pins


def run(command: list[str]) -> None:
    """Runs a command, echoing it; fails the benchmark when it fails."""
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True)


def tool(name: str, *args: str) -> None:
    """Runs one of the command-line tools (advmask-train, -eval, ...)."""
    run([sys.executable, os.path.join(REPO, "bin", name), *args])


def train_preset(method: str, workdir: str, *overrides: str,
                 evaluate: bool = True) -> str:
    """Trains (or resumes, or only reports) a preset with the shared
    settings; returns the work directory."""
    tool("advmask-train", f"--config={config_path(method)}",
         *variant(method)[1],
         f"--workdir={workdir}", *SHARED, *overrides,
         *([] if evaluate else ["--skip_eval"]))
    return workdir


def report(workdir: str, checkpoint: str = "best") -> dict:
    """The run's test report (what advmask-train wrote, for "best"), or an
    advmask-eval of the config's attacks on the whole test set ("last")."""
    if checkpoint == "best":
        return runs.read_json(runs.WorkDir(workdir).metrics)
    config = runs.load_config(runs.WorkDir(workdir))
    return eval_report(workdir, checkpoint, config.eval.attacks, 0,
                       checks=bool(config.eval.checks))


def eval_report(workdir: str, checkpoint: str, attacks: str, limit: int,
                checks: bool) -> dict:
    """An advmask-eval report of `attacks` on `limit` test points (0: all),
    with or without the sanity checks, re-used while newer than the
    network."""
    wd = runs.WorkDir(workdir)
    config = runs.load_config(wd)
    path = wd.eval_report(runs.workdir_evaluation_tag(
        config, checkpoint, attacks, limit, checks))
    if not runs.is_fresh(path, wd.model(checkpoint)):
        tool("advmask-eval", f"--workdir={workdir}",
             f"--checkpoint={checkpoint}", f"--attacks={attacks}",
             f"--limit={limit}", "--checks" if checks else "--nochecks")
    return runs.read_json(path)


def selected_epoch(workdir: str) -> int:
    """1-based epoch whose network model.keras is (by train.monitor)."""
    wd = runs.WorkDir(workdir)
    return runs.selected_epoch(wd, runs.load_config(wd).train.monitor)


def pct(entry_or_value, digits: int = 2) -> str:
    """A report entry's accuracy (or a fraction) in percent."""
    value = entry_or_value["accuracy"] if isinstance(entry_or_value, dict) \
        else entry_or_value
    return f"{100 * value:.{digits}f}"


def machine_line() -> str:
    """CPU model, core count, OS, TensorFlow/Keras versions and today's date."""
    import keras
    import tensorflow as tf

    from advmask_tf.devices import cpu_model

    return (f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()} "
            f"{platform.release()}; TensorFlow {tf.__version__}, Keras "
            f"{keras.__version__}; measured {datetime.date.today()}")


def section_options(args, parser) -> str:
    """The --section/--title options of a command line, when not defaults."""
    return "".join(
        f" --{name} {shlex.quote(getattr(args, name))}"
        for name in ("section", "title")
        if getattr(args, name) != parser.get_default(name))


def update_section(name: str, markdown: str, path: str = RESULTS) -> None:
    """Replaces the text between this section's markers (or appends it)."""
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    block = f"{begin}\n{markdown.rstrip()}\n{end}"
    text = open(path).read() if os.path.exists(path) else "# Results\n"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    text = (pattern.sub(lambda _: block, text) if pattern.search(text)
            else text.rstrip() + "\n\n" + block + "\n")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def publish_figure(source: str, name: str, write: bool) -> str:
    """With `write`, copies a PNG into docs/figures/ under `name`; returns
    its link from docs/RESULTS.md."""
    if write:
        os.makedirs(FIGURES, exist_ok=True)
        shutil.copyfile(source, os.path.join(FIGURES, name))
    return f"figures/{name}"


class EpochTimer(keras.callbacks.Callback):
    """Wall time of the last epoch, from its first batch to its last.

    fit's set-up and tear-down stay outside: they happen once per fit call,
    not once per epoch (see the throughput notes in docs/RESULTS.md for the
    tear-down stall of tf.data's autotuner that this leaves out).
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self._start
