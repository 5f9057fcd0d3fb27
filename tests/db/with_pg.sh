#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster of its own (trust auth on loopback, a random free port),
# with LTC_TEST_DSN set to a superuser DSN of database "ltc_test". The cluster is removed afterwards.
# Usage: tests/db/with_pg.sh COMMAND [ARGS...]
set -euo pipefail
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pgbin/initdb" ] || { echo "with_pg: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
dir=$(mktemp -d /tmp/ltc-testpg.XXXXXX)
chmod 755 "$dir"
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$dir"
  as_pg=(runuser -u postgres --)
fi
cleanup() {
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" stop -m immediate >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
# below the test stacks' ports (20551 and up, tests/integration/CMakeLists.txt) and the kernel's ephemeral range
# (32768 and up by default), where an outgoing connection could take it
port=$(( 10000 + RANDOM % 10000 ))
"${as_pg[@]}" "$pgbin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -w -l "$dir/log" \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
"$pgbin/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE ltc_test" >/dev/null
export LTC_TEST_DSN="host=127.0.0.1 port=$port dbname=ltc_test user=postgres"
"$@"
