#!/usr/bin/env bash
# README's main job: set up a venv (once) and train the tutorial's XOR network, printing its log.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install -q -e .
fi
exec .venv/bin/python scripts/xor.py "$@"
