"""advmask_tf: adversarial training that keeps its clean accuracy.

Sub-packages: `data`, `models`, `layers`, `attacks`, `training`,
`evaluation`, `analysis`, `tuning`, and `runs` (one experiment in a work
directory); the command-line apps live in `cli` and train from configs under
configs/; docs/ARCHITECTURE.md describes the layout. Importing the package
registers its Keras layers, so a saved conditioned network loads with
`keras.models.load_model` alone:

    import advmask_tf, keras
    net = keras.models.load_model("runs/robmask/model.keras")
"""

from advmask_tf import layers  # noqa: F401  (registers the Keras layers)

__version__ = "0.1.0"
