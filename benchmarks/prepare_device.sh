#!/usr/bin/env bash
# Run here before a device run: copies the MNIST IDX files from ../shared/datasets/mnist into the git-ignored
# .devdata/mnist of the repository, which travels with the run (carry: .devdata) and which
# benchmarks/device_check.sh trains on (scripts/mnist.py reads the .gz files as they are).
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
SRC=../shared/datasets/mnist
DST=.devdata/mnist
FILES="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"
if [ ! -d "$SRC" ]; then
  echo "prepare_device: $SRC not found" >&2
  exit 1
fi
mkdir -p "$DST"
missing=0
for f in $FILES; do
  if [ -f "$SRC/$f.gz" ]; then src="$SRC/$f.gz"
  elif [ -f "$SRC/$f" ]; then src="$SRC/$f"
  else echo "prepare_device: $SRC has neither $f.gz nor $f" >&2; missing=1; continue
  fi
  if ! cmp -s "$src" "$DST/$(basename "$src")"; then
    install -m 0644 "$src" "$DST/" || exit 1      # install, not cp: the sources are read-only
  fi
done
ls -l "$DST"
du -sh "$DST"
exit $missing
