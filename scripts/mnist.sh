#!/usr/bin/env bash
# Train on MNIST (scripts/mnist.py; --help for the options): set up a venv (once), then run.
# RANKS=N bash scripts/mnist.sh ...: data-parallel on N local ranks (mpirun -n N ... --distributed; installs the
# mpi extra, mpi4py and MPICH, into the venv when its mpirun is missing).  See docs/distributed.md.
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
if [ -n "${RANKS:-}" ]; then
  [ -x .venv/bin/mpirun ] || .venv/bin/python -m pip install -q -e '.[mpi]'
  exec .venv/bin/mpirun -n "$RANKS" .venv/bin/python scripts/mnist.py --distributed "$@"
fi
exec .venv/bin/python scripts/mnist.py "$@"
