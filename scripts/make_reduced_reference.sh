#!/usr/bin/env bash
# Regenerate fer_kit/references/reduced-synthetic.json: the cell means of the reduced (CI-sized) Table 6
# run on the embedded synthetic faces, which the tests and notebook 05's reduced run are graded against.
# Run it after any change that moves those numbers (classifiers, augmentation, cGAN, synthetic set).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp -d)/table6-reduced"
python - "$out" <<'PY'
import sys
from fer_kit.experiment import reduced_config, run_experiment
for protocol in ("subject-kfold", "random"):
    run_experiment(reduced_config(protocol), sys.argv[1])
PY
python -m fer_kit table6 "$out" --save-reference fer_kit/references/reduced-synthetic.json \
  --note "reduced Table 6 run (fer_kit.experiment.reduced_config, both CK+ protocols) on the synthetic faces; made by scripts/make_reduced_reference.sh"
