"""Writes docs/config-reference.md, the config reference generated from the
options each part and section declares (tests check it is current).

    .venv/bin/python scripts/config_reference.py
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from advmask_tf.config_reference import reference_markdown  # noqa: E402
from advmask_tf.io_utils import atomic_write_text  # noqa: E402

PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    "docs", "config-reference.md")

if __name__ == "__main__":
    atomic_write_text(PATH, reference_markdown())
    print(f"wrote {PATH}")
