#!/usr/bin/env bash
# Install everything into .venv and run the example project on SQLite: migrate, create the demo
# data, then the web server and the scheduler side by side until Ctrl-C.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$REPO_ROOT"

groups=(--group example)
# mysqlclient builds against libmariadb-dev (or libmysqlclient-dev) and pkg-config.
[[ "${DATABASE_URL:-}" == mysql* ]] && groups+=(--group mysql)
bootstrap "${groups[@]}"
PY="$REPO_ROOT/.venv/bin/python"
MANAGE=("$PY" "$REPO_ROOT/example_project/manage.py")
ADDR="${DEMO_ADDR:-127.0.0.1:8000}"

echo "==> Migrating the example database"
"${MANAGE[@]}" migrate --no-input
echo "==> Creating the demo data"
"${MANAGE[@]}" demodata --ping-url "http://$ADDR/health/"

pids=()
cleanup() {
    trap - INT TERM EXIT
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

"${MANAGE[@]}" runserver --noreload "$ADDR" &
pids+=($!)
if "${MANAGE[@]}" help runscheduler >/dev/null 2>&1; then
    "${MANAGE[@]}" runscheduler &
    pids+=($!)
    scheduler="running"
else
    scheduler="not available yet"
fi

cat <<MSG

  django-schedules example project
  Admin:      http://$ADDR/admin/
  Login:      admin / admin
  Scheduler:  $scheduler
  Press Ctrl-C to stop.

MSG
wait -n "${pids[@]}"
