#!/usr/bin/env bash
# The one script run on a borrowed GPU machine (from the repository root; $OUT: a folder whose files come back).
#
# Stages, each under `timeout` and run whatever the previous ones did (whole script: about 9 minutes at most):
#   1. the GPU tests        pytest -m gpu -n 8                           ($OUT/gpu_tests.log)       240 s
#   2. the GPU benchmark    benchmarks/bench_gpu.py                      ($OUT/bench_gpu.log, .json) 150 s
#   3. one MNIST epoch      scripts/mnist.py --net lenet --cuda          ($OUT/mnist.log)           120 s
# then one summary line per stage (also in $OUT/summary.txt).
#
# Before the run, here: benchmarks/prepare_device.sh (copies MNIST into the git-ignored .devdata/mnist), and carry
# .devdata with the run.
set -u

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
OUT=${OUT:-/tmp/device_check_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
T0=$(date +%s)

stage() { echo; echo "=== $* ($(( $(date +%s) - T0 )) s) ==="; }

stage "machine"
date
nvidia-smi -L 2>&1 || echo "nvidia-smi failed"
$PY - <<'EOF' 2>&1
import platform
print("python", platform.python_version())
for name in ("numpy", "cupy", "torch"):
    try:
        m = __import__(name)
        extra = ""
        if name == "cupy":
            extra = " (CUDA runtime %s, %d device(s))" % (m.cuda.runtime.runtimeGetVersion(), m.cuda.runtime.getDeviceCount())
        elif name == "torch":
            extra = " (CUDA %s, available %s)" % (m.version.cuda, m.cuda.is_available())
        print(name, m.__version__ + extra)
    except Exception as e:
        print(name, "unavailable:", type(e).__name__, e)
EOF

stage "1/3 GPU tests: pytest -m gpu -n 8 (timeout 240 s)"
timeout -k 10 240 $PY -m pytest -q -m gpu -n 8 -p no:cacheprovider --timeout 300 tests 2>&1 | tee "$OUT/gpu_tests.log"
RC_TESTS=${PIPESTATUS[0]}

stage "2/3 GPU benchmark: benchmarks/bench_gpu.py (timeout 150 s)"
timeout -k 10 150 $PY benchmarks/bench_gpu.py --json "$OUT/bench_gpu.json" 2>&1 | tee "$OUT/bench_gpu.log"
RC_BENCH=${PIPESTATUS[0]}

stage "3/3 MNIST: one lenet epoch on the GPU (timeout 120 s)"
if [ ! -d .devdata/mnist ]; then
  echo "note: .devdata/mnist is missing (run benchmarks/prepare_device.sh before the run and carry .devdata)"
fi
timeout -k 10 120 $PY scripts/mnist.py --net lenet --epochs 1 --cuda --no-progress --data .devdata/mnist 2>&1 \
  | tee "$OUT/mnist.log"
RC_MNIST=${PIPESTATUS[0]}

# -- summary -------------------------------------------------------------------------------------------------
rcword() { case $1 in 0) echo "rc 0";; 124|137) echo "rc $1 (TIMED OUT)";; *) echo "rc $1";; esac; }
lastmatch() {  # last line of file $1 matching regex $2, else its last non-empty line
  local l
  l=$(grep -E "$2" "$1" 2>/dev/null | tail -n 1)
  [ -n "$l" ] || l=$(grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -n 1)
  echo "${l:-(no output)}"
}
BENCH_SUM=$($PY - "$OUT/bench_gpu.json" <<'EOF' 2>/dev/null
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print("no JSON (%s)" % type(e).__name__); sys.exit()
f = lambda v: "n/a" if v is None else "%.2fx" % v
parts = []
for wl, r in d.get("workloads", {}).items():
    if "error" in r:
        parts.append("%s FAILED" % wl)
    else:
        parts.append("%s %s (T7 default %s, captured %s)" % (wl, f(r.get("ratio")), f(r.get("ratio_default")),
                                                           f(r.get("ratio_captured"))))
print("lt/torch: " + ("; ".join(parts) or "no workload finished"))
EOF
)
{
  echo
  echo "=== summary ($(( $(date +%s) - T0 )) s) ==="
  echo "gpu tests : $(rcword "$RC_TESTS") | $(grep -v '^[[:space:]]*$' "$OUT/gpu_tests.log" 2>/dev/null | tail -n 1)"
  SKIP=$(grep -E '^bench_gpu: skipped' "$OUT/bench_gpu.log" 2>/dev/null | tail -n 1)
  echo "bench_gpu : $(rcword "$RC_BENCH") | ${SKIP:+$SKIP | }${BENCH_SUM:-no summary}"
  echo "mnist     : $(rcword "$RC_MNIST") | $(lastmatch "$OUT/mnist.log" '(test accuracy|Error|error)')"
} | tee "$OUT/summary.txt"
exit 0
