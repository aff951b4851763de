#!/usr/bin/env bash
# CI: the oldest NumPy and autograd that setup.cfg allows, so that its floors stay true.
#
# A virtual environment of its own (.venv-oldest, or $OLDEST_VENV) with numpy and autograd pinned
# to the floors read from setup.cfg's install_requires, the package installed with its test extra
# without upgrading them, then the GPU path on the CuPy stand-in (its gradient rules need autograd's
# __array_ufunc__ and _primitive_mean) and the quick tests (-m quick: the maths, the files, the
# authors' traces). $PYTHON picks the interpreter (python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${OLDEST_VENV:-.venv-oldest}

floor() {  # floor NAME: the version after "NAME>=" in setup.cfg
    sed -n "s/^[[:space:]]*$1[[:space:]]*>=[[:space:]]*\([0-9][0-9.]*\).*/\1/p" setup.cfg | head -n 1
}
NUMPY=$(floor numpy)
AUTOGRAD=$(floor autograd)
if [ -z "$NUMPY" ] || [ -z "$AUTOGRAD" ]; then
    echo "oldest.sh: cannot read the numpy and autograd floors from setup.cfg" >&2
    exit 2
fi
echo "oldest.sh: $("$PYTHON" --version), numpy==$NUMPY, autograd==$AUTOGRAD"

rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
printf 'numpy==%s\nautograd==%s\n' "$NUMPY" "$AUTOGRAD" > "$VENV/constraints.txt"
"$VENV/bin/pip" install -q "numpy==$NUMPY" "autograd==$AUTOGRAD"
"$VENV/bin/pip" install -q -c "$VENV/constraints.txt" '.[test]'
"$VENV/bin/python" -c "import numpy, importlib.metadata as m; print('installed: numpy', numpy.__version__, \
'autograd', m.version('autograd'))"
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
"$VENV/bin/python" -m pytest -q -p no:cacheprovider reference_tests/test_gpu_mechanism.py "$@"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider -m quick "$@"
