"""advmask_tf: adversarial training that keeps its clean accuracy.

Sub-packages: `data`, `models`, `layers`, `attacks`, `training`,
`evaluation`, `analysis`, `tuning`, and `runs` (one experiment in a work
directory); the command-line apps live in `cli` and train from configs under
configs/; docs/ARCHITECTURE.md describes the layout. Importing the package
registers its Keras objects, so a saved conditioned network (or a saved
`AdversarialModel`) loads with `keras.models.load_model` alone:

    import advmask_tf, keras
    net = keras.models.load_model("runs/robmask/model.keras")
"""

# Importing these registers every Keras object the package defines (the
# conditioned norms, AdversarialModel), so saved files load after
# `import advmask_tf` alone.
from advmask_tf import (
    layers,  # noqa: F401
    training,  # noqa: F401
)

__version__ = "0.1.0"
