#!/usr/bin/env bash
# Train on MNIST (scripts/mnist.py; --help for the options): set up a venv (once), then run.
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
exec .venv/bin/python scripts/mnist.py "$@"
