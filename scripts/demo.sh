#!/usr/bin/env bash
# Install ESCAI into .venv and run the demo on the embedded SQLite store (no services needed).
# Extra arguments go to `escai demo`, e.g. `bash scripts/demo.sh --keep-running`.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/escai demo "$@"
