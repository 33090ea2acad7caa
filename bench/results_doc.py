"""Writes a benchmark's section of docs/RESULTS.md, with machine and date."""

from __future__ import annotations

import datetime
import os
import platform
import re
import shlex

RESULTS = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "docs", "RESULTS.md")


def machine_line() -> str:
    """CPU model, core count, OS, TensorFlow/Keras versions and today's date."""
    import keras
    import tensorflow as tf

    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} "
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
    os.replace(tmp, path)


def publish(name: str, markdown: str, write: bool) -> None:
    """Prints a benchmark's section and, with `write`, stores it in RESULTS.md."""
    print(markdown, flush=True)
    if write:
        update_section(name, markdown)
