#!/usr/bin/env bash
# Run the course: install what is needed, then execute every notebook in order on the default data
# (the real data when $FER_KIT_DATA holds it, else the embedded synthetic faces) into runs/<timestamp>/.
# Extra arguments go to `python -m fer_kit run` (e.g. --reduced, --only 01, --out DIR).
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
python -m fer_kit run "$@"
