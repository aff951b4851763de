#!/usr/bin/env bash
# The device check in one command, on a machine with CuPy and a GPU, from a checkout (docs/gpu.md):
#
#     bash benchmarks/device_run.sh [pytest options]
#
# 1. the device checks: python -m pytest reference_tests/test_device.py --device gpu (the GPU's
#    results against the CPU's; the device's description on the first test's line);
# 2. the step timings: python benchmarks/step_time.py --device gpu (seconds per training step on the
#    GPU and the CPU, float64 and float32, an epoch estimate).
# Both run and print everything; the exit status is the first non-zero one (2: a dependency, CuPy,
# the GPU or a recent enough autograd is missing, said in one line). PYTHON picks the interpreter;
# DEVICE=standin runs the same on the CPU stand-in (the checks only: the timings need a GPU).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
DEVICE=${DEVICE:-gpu}

"$PY" - <<'PYTHON' || exit 2
import importlib.util, sys
needed = {"numpy": "numpy", "autograd": "autograd", "scipy": "scipy", "sklearn": "scikit-learn",
          "matplotlib": "matplotlib", "tqdm": "tqdm", "threadpoolctl": "threadpoolctl", "pytest": "pytest"}
missing = [package for module, package in needed.items() if importlib.util.find_spec(module) is None]
if missing:
    sys.exit(f"device_run: missing dependencies: {', '.join(missing)}; install them (without network: "
             "docs/gpu.md, 'A machine without network')")
PYTHON

status=0
echo "== device checks: reference_tests/test_device.py --device $DEVICE"
"$PY" -m pytest -v -s -p no:cacheprovider reference_tests/test_device.py --device "$DEVICE" "$@" || status=$?
if [ "$DEVICE" = gpu ]; then
    echo "== step timings: benchmarks/step_time.py --device gpu"
    "$PY" benchmarks/step_time.py --device gpu || { s=$?; [ "$status" -ne 0 ] || status=$s; }
fi
echo "== device_run: exit status $status"
exit "$status"
