# Sourced by course.sh and test.sh: make sure a Python environment with the pinned stack and the kit
# exists, and activate it. Uses the active virtualenv/conda env if there is one, else ./.venv.
# Installs only when requirements.txt or pyproject.toml changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if [ -z "${VIRTUAL_ENV:-}" ] && [ -z "${CONDA_PREFIX:-}" ]; then
  if [ ! -x .venv/bin/python ]; then
    "$PY" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) else 1)' || {
      echo "fer_kit needs Python 3.10-3.13 (TensorFlow 2.21); found $("$PY" --version). Set PYTHON=..." >&2; exit 1; }
    echo "Creating .venv with $("$PY" --version) ..."
    "$PY" -m venv .venv
  fi
  # shellcheck disable=SC1091
  source .venv/bin/activate
fi
stamp="$(python -c 'import sys; print(sys.prefix)')/.fer_kit-$(cat requirements.txt pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "Installing the pinned stack and fer_kit (a few minutes the first time) ..."
  python -m pip install -q --disable-pip-version-check --upgrade pip
  python -m pip install -q --disable-pip-version-check -r requirements.txt
  python -m pip install -q --disable-pip-version-check --no-deps -e .
  touch "$stamp"
fi
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
# TensorFlow trains faster on a CPU with tcmalloc: glibc's malloc hands TensorFlow's per-step buffers back
# to the kernel and faults them in again (benchmarks/bench_malloc.py measured a cGAN step 1.6x faster with
# tcmalloc on a 2-core machine here). Preloaded when Debian's libtcmalloc-minimal4 is installed;
# FER_KIT_TCMALLOC=0 turns it off.
if [ -z "${LD_PRELOAD:-}" ] && [ "${FER_KIT_TCMALLOC:-1}" != 0 ]; then
  for lib in /usr/lib/*/libtcmalloc_minimal.so.4; do
    if [ -f "$lib" ]; then
      export LD_PRELOAD="$lib"
      export TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD="${TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD:-107374182400}"
      break
    fi
  done
fi
