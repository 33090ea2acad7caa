#!/usr/bin/env bash
# Sets up advmask_tf on a fresh Debian/Ubuntu machine; safe to run again.
#  - Fashion-MNIST from Debian's dataset-fashion-mnist when it is missing
#  - a virtual environment in .venv with the package (editable) and test tools
# Set ADVMASK_TF_GPU=1 to install the CUDA build of TensorFlow instead.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "Installing Fashion-MNIST (Debian package dataset-fashion-mnist)..."
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq dataset-fashion-mnist
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Reinstall only when the requirements changed since the last run.
stamp=".venv/.advmask_setup_$(sha1sum setup.py | cut -c1-12)_${ADVMASK_TF_GPU:-cpu}"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
  rm -f .venv/.advmask_setup_*
  touch "$stamp"
fi
