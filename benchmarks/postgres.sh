#!/usr/bin/env bash
# A throwaway PostgreSQL server for the monitor's tests and benchmarks (CI starts one; so can you):
#   benchmarks/postgres.sh start   a fresh cluster, started, with user and database textsift; prints its URL
#   benchmarks/postgres.sh url     prints the URL: export TEXTSIFT_TEST_POSTGRES="$(benchmarks/postgres.sh url)"
#   benchmarks/postgres.sh stop    stops it and deletes its data
# It listens on 127.0.0.1 only, on an unusual port (TEXTSIFT_PG_PORT, default 54329) so it never meets a real server;
# `start` replaces a server this script started before on the same port, so give a second one its own port.
set -euo pipefail
PORT="${TEXTSIFT_PG_PORT:-54329}"
DIR="${TEXTSIFT_PG_DIR:-/tmp/textsift-postgres-$PORT}"  # /tmp: the postgres user must be able to reach it
URL="postgresql://textsift:textsift@127.0.0.1:$PORT/textsift"
# Debian keeps the server binaries off PATH, one folder per major version: take the newest.
BIN="$(find /usr/lib/postgresql -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n1)"
BIN="${BIN:-$(dirname "$(command -v initdb || echo /nonexistent/initdb)")}"
[ -x "$BIN/initdb" ] || { echo "no PostgreSQL server found (apt-get install postgresql)" >&2; exit 1; }
cd /tmp  # the postgres user cannot enter root's working directory

# The server refuses to run as root; as root (CI) it runs as the postgres system user the Debian package creates.
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

stop() {
  if [ -f "$DIR/data/postmaster.pid" ]; then as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null; fi
  rm -rf "$DIR"
}

start() {
  stop
  mkdir -p "$DIR"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$DIR"; fi
  # Local socket connections (this script's own, as the superuser) are trusted; TCP ones need the password.
  as_owner "$BIN/initdb" -D "$DIR/data" -U postgres -E UTF8 --no-locale --auth-local=trust \
    --auth-host=scram-sha-256 >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
  # No fsync: the data is thrown away, and tests kill clients, not the server.
  as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -o "-p $PORT -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories=$DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start \
    >/dev/null || { cat "$DIR/server.log" >&2; exit 1; }
  # CREATEDB: the tests give each test a database of its own; SUPERUSER (a throwaway server on loopback): the
  # benchmarks drop a database WITH (FORCE) while worker processes may still hold connections to it.
  as_owner "$BIN/psql" -h "$DIR" -p "$PORT" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE textsift LOGIN CREATEDB SUPERUSER PASSWORD 'textsift'" -c "CREATE DATABASE textsift OWNER textsift"
  echo "$URL"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
