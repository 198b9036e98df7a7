# Sourced by demo.sh and test.sh: make the virtualenv inside the repo and install into it.
# Usage: VENV=.venv PYTHON=python3 bootstrap "--group test" ...
# Needs only Python 3.11+ and git; installs uv into the virtualenv for fast, repeatable installs.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

bootstrap() {
    local venv="${VENV:-$REPO_ROOT/.venv}"
    local python="${PYTHON:-python3}"
    if [ ! -x "$venv/bin/python" ]; then
        echo "==> Creating $venv with $($python --version 2>&1)"
        "$python" -m venv "$venv"
    fi
    if [ ! -x "$venv/bin/uv" ]; then
        echo "==> Installing uv into $venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check uv
    fi
    echo "==> Installing django-schedules (editable) with: $*"
    "$venv/bin/uv" pip install --quiet --python "$venv/bin/python" \
        --override "$REPO_ROOT/scripts/overrides.txt" -e "$REPO_ROOT" "$@"
}
