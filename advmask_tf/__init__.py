"""advmask_tf: adversarial training that keeps its clean accuracy.

Sub-packages: `data`, `models`, `attacks`, `training`, `evaluation`; the
command-line apps live in `cli` and train from configs under configs/.
"""

__version__ = "0.1.0"
