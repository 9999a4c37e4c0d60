# Sourced by scripts/xor.sh and scripts/mnist.sh: go to the repository root and make .venv there (once).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install -q -e .
fi
