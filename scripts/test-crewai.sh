#!/usr/bin/env bash
# Run the CrewAI instrumentor's tests in their own venv, .venv-crewai. CrewAI caps pydantic, openai and aiosqlite
# below what the shared .venv needs, so it is an optional extra that never goes into .venv. CI calls this script.
#
# CrewAI is pinned to the version the snapshots under tests/integration/snapshots/crewai were recorded with (its
# prompts are part of them); ESCAI_CREWAI_VERSION=X.Y.Z tries another, ESCAI_UPDATE_SNAPSHOTS=1 re-records them.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
crewai_version="${ESCAI_CREWAI_VERSION:-1.15.30}"

python3 -m venv .venv-crewai
.venv-crewai/bin/python -m pip install --quiet --upgrade pip
.venv-crewai/bin/python -m pip install --quiet -e '.[crewai]' "crewai==${crewai_version}" \
  'pytest>=8.2' 'pytest-asyncio>=0.24'
.venv-crewai/bin/python -m pip check
# Nothing CrewAI needs for these tests wants torch; if a dependency starts pulling it in, say so instead of
# silently downloading gigabytes.
if .venv-crewai/bin/python -m pip show --quiet torch >/dev/null 2>&1; then
  echo "torch got installed into .venv-crewai; install the local CPU build (torch==2.13.0) first" >&2
  exit 1
fi

# CrewAI writes settings, credentials and SQLite files under the home and XDG folders: keep them in a temp folder,
# and keep its telemetry and tracing off (the tests make no network calls at all).
crewai_home="$(mktemp -d)"
trap 'rm -rf "$crewai_home"' EXIT
export HOME="$crewai_home" XDG_DATA_HOME="$crewai_home/data" XDG_CONFIG_HOME="$crewai_home/config" \
  XDG_CACHE_HOME="$crewai_home/cache" CREWAI_STORAGE_DIR=escai-tests CREWAI_DISABLE_TELEMETRY=true \
  CREWAI_TRACING_ENABLED=false OTEL_SDK_DISABLED=true
.venv-crewai/bin/python -m pytest tests/integration/test_instrument_crewai.py -p no:cacheprovider "$@"
