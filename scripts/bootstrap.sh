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
