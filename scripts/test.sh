#!/usr/bin/env bash
# The test command: install what is needed, lint, run the unit tests (which also execute every
# notebook with papermill in reduced mode into build/notebooks/), then re-run those notebooks with
# `pytest --nbval-lax`, which checks that cells marked NBVAL_CHECK_OUTPUT reproduce. The re-run finds the
# notebooks' run folders (runs/, through build/runs) that the first run trained, so it resumes or loads
# them instead of training every model twice.
# Real-data tests use ../shared/data (or $FER_KIT_TEST_DATA) and skip when it is absent.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
echo "== ruff"
ruff check .
echo "== unit tests + papermill (reduced mode)"
rm -rf build/notebooks
# Two workers (pytest-xdist) on the 2-core CI machine: while one traces graphs, starts kernels or loads data,
# the other computes. Each test module goes whole to one worker. FER_KIT_TEST_WORKERS=0: no workers.
python -m pytest -n "${FER_KIT_TEST_WORKERS:-2}" --dist loadfile "$@"
echo "== nbval-lax on the executed notebooks"
mkdir -p build/no-data build/cache runs
[ -L build/runs ] || rm -rf build/runs
ln -sfn "$ROOT/runs" build/runs  # the executed notebooks' ../runs is the first run's runs/
FER_KIT_REDUCED=1 FER_KIT_DATA="$ROOT/build/no-data" FER_KIT_CACHE="$ROOT/build/cache" \
  python -m pytest --nbval-lax -p no:cacheprovider -o addopts="" -o testpaths="" build/notebooks/*.ipynb
