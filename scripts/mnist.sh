#!/usr/bin/env bash
# Train on MNIST (scripts/mnist.py; --help for the options): set up a venv (once), then run.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install -q -e .
fi
exec .venv/bin/python scripts/mnist.py "$@"
