"""advmask_tf: adversarial training that keeps its clean accuracy (Keras 3 / TF)."""

import os

from setuptools import find_packages, setup

# tensorflow-cpu where there is no GPU; set ADVMASK_TF_GPU=1 for the CUDA build.
TENSORFLOW = ("tensorflow[and-cuda]>=2.16" if os.environ.get("ADVMASK_TF_GPU")
              else "tensorflow-cpu>=2.16")

setup(
    name="advmask_tf",
    version="0.1.0",
    description="Adversarial training toolkit: Madry, TRADES, IAAT, GAIRAT, "
                "RobMask and robustness diagnostics on Keras 3 / TensorFlow.",
    packages=find_packages(include=["advmask_tf", "advmask_tf.*"]),
    python_requires=">=3.10",
    install_requires=[
        TENSORFLOW,
        "keras>=3.3",
        "keras-tuner>=1.4",
        "tensorflow-datasets>=4.9",
        "tensorboard>=2.16",
        "absl-py>=2.0",
        "ml-collections>=0.1.1",
        "matplotlib>=3.7",
        "numpy>=1.24",
        # KerasTuner's distributed search (chief and workers) talks gRPC.
        "grpcio>=1.50",
    ],
    extras_require={"test": ["pytest>=7", "pytest-xdist>=3",
                             # the documentation site, built by a test
                             "mkdocs>=1.6", "mkdocstrings[python]>=0.26"]},
    entry_points={"console_scripts": [
        "advmask-train=advmask_tf.cli.train:run",
        "advmask-eval=advmask_tf.cli.eval:run",
        "advmask-analyze=advmask_tf.cli.analyze:run",
        "advmask-tune=advmask_tf.cli.tune:run",
    ]},
)
