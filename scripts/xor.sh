#!/usr/bin/env bash
# README's main job: set up a venv (once) and train the tutorial's XOR network, printing its log.
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
exec .venv/bin/python scripts/xor.py "$@"
