#!/usr/bin/env bash
# Runs the suite twice: on SQLite, then on a real PostgreSQL; both with a real Redis.
# The servers are started here, as user processes on 127.0.0.1 in a temporary folder, and
# stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
work=$(mktemp -d -t passerelle-tests-XXXXXX)
chmod 755 "$work"
free_port() { "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

as_pg_user() {
  # initdb refuses to run as root: run the cluster as nobody.
  if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

cleanup() {
  set +e
  [ -n "${PGBIN:-}" ] && as_pg_user "$PGBIN/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1
  [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pg_port=$(free_port)
mkdir -p "$work/pg" && chown nobody "$work/pg" 2>/dev/null || true
as_pg_user "$PGBIN/initdb" -D "$work/pg" -U app --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg_user "$PGBIN/pg_ctl" -D "$work/pg" -l "$work/pg/server.log" -w start \
  -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $work/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --daemonize yes --pidfile "$work/redis.pid" --databases 64 >/dev/null
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

export TEST_REDIS_URL="redis://127.0.0.1:$redis_port"
export PYTHONDONTWRITEBYTECODE=1
status=0
# The code's shape first: lint, then the layering (a new import circle or a forbidden import fails).
echo "== ruff et contrats d'import =="
"$VENV/bin/ruff" check . || status=$?
"$VENV/bin/lint-imports" --no-cache || status=$?
echo "== Suite sur SQLite (Redis réel) =="
"$VENV/bin/python" -m pytest -n 2 -p no:cacheprovider "$@" || status=$?
echo "== Suite sur PostgreSQL et Redis réels =="
TEST_DATABASE_URL="postgresql+psycopg://app@127.0.0.1:$pg_port/postgres" \
  "$VENV/bin/python" -m pytest -n 2 -p no:cacheprovider -m "not sqlite_only" "$@" || status=$?
exit $status
