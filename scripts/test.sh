#!/usr/bin/env bash
# Install everything into .venv and run the whole test suite (SQLite unless DATABASE_URL is set).
# Extra arguments go to pytest: bash scripts/test.sh -k triggers -x
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$REPO_ROOT"

bootstrap --group test
VENV="${VENV:-$REPO_ROOT/.venv}"
echo "==> Running the tests on ${DATABASE_URL:-SQLite (the default)}"
set +e
PYTHONDEVMODE=1 "$VENV/bin/python" -m pytest "$@"
status=$?
set -e
# pytest's 5 means "no tests ran": never a pass.
exit $status
