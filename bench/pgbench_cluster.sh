# bench/pgbench_cluster.sh - sourced by the interleaved A/B scripts (bench/audit_chain_ab, bench/pipeline_ab): a
# throwaway PostgreSQL 15 cluster (fsync on, synchronous commit) with schema ltb from the real migrations and
# 10,000 bids in MarkBidWon's pool 9 (bench/sql/load_bids.sql), removed at exit. Sets: dir (a copy of the repo's
# migrations and bench/), port, pg (run as the postgres OS user), P (psql on the database), pgbench_tps SCRIPT
# [SECONDS] (prints the tps of 8 clients, prepared). Run as root.
pgbin=/usr/lib/postgresql/15/bin
dir=$(mktemp -d /tmp/ltc-pgbench-ab.XXXXXX); chmod 755 "$dir"; chown postgres "$dir"
cp -r "$REPO/common/migrations" "$REPO/bench" "$dir/"
mkdir -p "$dir/ltbm" && cp "$REPO"/services/ltb/migrations/*.sql "$dir/ltbm/"; chown -R postgres "$dir"
port=$(( 30000 + RANDOM % 2000 ))
pg() { runuser -u postgres -- "$@"; }
trap 'pg $pgbin/pg_ctl -D $dir/data stop -m immediate >/dev/null 2>&1 || true; rm -rf $dir' EXIT
pg $pgbin/initdb -D "$dir/data" -A trust -U postgres >/dev/null
pg $pgbin/pg_ctl -D "$dir/data" -w -l "$dir/log" -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
P=(pg $pgbin/psql -h 127.0.0.1 -p $port -U postgres -q -v ON_ERROR_STOP=1)
"${P[@]}" -c "CREATE DATABASE ltc_bench" >/dev/null
P+=(-d ltc_bench)
"${P[@]}" -f "$dir/bench/sql/functions.sql" >/dev/null
"${P[@]}" -v rows=10000 -f "$dir/bench/pgbench/setup.sql" >/dev/null
"${P[@]}" -c "SET client_min_messages = warning" -c "CREATE SCHEMA ltb" >/dev/null
for m in "$dir"/migrations/*.sql "$dir"/ltbm/*.sql; do "${P[@]}" -1 -c "SET client_min_messages = warning" -c "SET search_path = ltb" -f "$m" >/dev/null; done
"${P[@]}" -v pool=9 -v n=10000 -f "$dir/bench/sql/load_bids.sql" >/dev/null
"${P[@]}" -c "VACUUM ANALYZE" >/dev/null 2>&1
pgbench_tps() {
  pg $pgbin/pgbench -h 127.0.0.1 -p $port -U postgres -n -M prepared -c 8 -j 2 -T "${2:-5}" -D rows=10000 \
    -f "$1" ltc_bench 2>&1 | awk '/^tps/ {print int($3); exit}'
}
