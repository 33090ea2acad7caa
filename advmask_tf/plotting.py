"""Matplotlib without a display, and figures written atomically."""

from __future__ import annotations

import os


def pyplot():
    """matplotlib.pyplot on the Agg backend (works on headless machines)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str) -> None:
    """Saves `fig` as a PNG at `path` (via a temporary file) and closes it."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = path + ".partial.png"
    fig.savefig(partial, dpi=120, bbox_inches="tight")
    pyplot().close(fig)
    os.replace(partial, path)
