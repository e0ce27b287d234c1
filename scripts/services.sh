#!/usr/bin/env bash
# PostgreSQL and Redis on loopback for the engine's multi-node mode tests.
#
#   scripts/services.sh start DIR   starts both (data under DIR) and writes
#                                   DIR/env with UTD_TEST_POSTGRES and
#                                   UTD_TEST_REDIS (source it)
#   scripts/services.sh stop DIR    stops them
#
# PostgreSQL 15 comes with the machine image (/usr/lib/postgresql/15/bin);
# redis-server from Debian (scripts/setup.sh apt). The data is throwaway: no
# fsync, and the directory is deleted by `stop`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PG_BIN="${UTD_POSTGRES_BIN_DIR:-/usr/lib/postgresql/15/bin}"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# PostgreSQL refuses to run as root: the cluster belongs to `postgres` then.
as_db_user() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local dir="$1"
  [ -x "$PG_BIN/postgres" ] || die "PostgreSQL 15 is missing ($PG_BIN/postgres)"
  command -v redis-server >/dev/null || die "redis-server is missing: run scripts/setup.sh apt"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  [ "$(id -u)" -ne 0 ] || chown postgres "$dir"
  local pg_port redis_port
  pg_port=$(free_port)
  redis_port=$(free_port)
  as_db_user "$PG_BIN/initdb" -D "$dir/pg" -A trust -U utd --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  # Many short-lived test engines, each with its own database and pool.
  as_db_user "$PG_BIN/pg_ctl" -D "$dir/pg" -l "$dir/postgres.log" -w -o \
    "-p $pg_port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=500 -c fsync=off \
     -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=64MB" start >/dev/null ||
    { cat "$dir/postgres.log" >&2; die "PostgreSQL did not start"; }
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
  for _ in $(seq 50); do
    redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
  redis-cli -p "$redis_port" ping | grep -q PONG || die "Redis did not start"
  cat >"$dir/env" <<ENV
export UTD_TEST_POSTGRES=postgres://utd@127.0.0.1:$pg_port/postgres
export UTD_TEST_REDIS=redis://127.0.0.1:$redis_port
ENV
  log "PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port ($dir/env)"
}

stop() {
  local dir="$1"
  [ -d "$dir" ] || return 0
  if [ -f "$dir/redis.pid" ]; then
    kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  fi
  if [ -d "$dir/pg" ]; then
    as_db_user "$PG_BIN/pg_ctl" -D "$dir/pg" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) [ $# -eq 2 ] || die "usage: $0 start DIR"; start "$2" ;;
  stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
  *) die "usage: $0 start|stop DIR" ;;
esac
