#!/usr/bin/env bash
# test_least_privilege.sh BINDIR - each service's PostgreSQL roles hold least privilege (security issue #4).
#
# Brings up the project's own embedded PostgreSQL with scripts/stack (a state folder of its own under /tmp, port
# offset 2300), which runs deploy/postgres/init.sql and the real migrations as each schema's owner
# (`ltc-<svc> --migrate-only` over LTC_<SVC>_MIGRATE_DSN), then, for each service, connects as its serving role
# ltc_<svc> (password auth, as the services do) and checks:
#   - its own tables: every one readable; insert (with its sequence), update, delete work;
#   - no DDL in its own schema: CREATE TABLE / INDEX / VIEW, ALTER, DROP, TRUNCATE -> SQLSTATE 42501, and a GRANT
#     of its tables to another role grants nothing;
#   - nothing of another service: SELECT, INSERT on another schema's table -> 42501;
#   - no CREATE SCHEMA, nothing in schema public, no temporary table, no SET ROLE to the owner -> 42501;
#   - a table a later migration makes (as the owner) is usable at once (default privileges);
#   - the owner role cannot reach another service's schema either;
#   - the catalogue: schema and every object owned by ltc_<svc>_owner, roles without attributes or membership;
#   - `--migrate-only` with the serving role alone succeeds when nothing is pending (no DDL needed to find out).
# Then it turns the database back into the old layout (ltc_<svc> owning its schema and tables, no owner role), runs
# init.sql again and checks it all again: init.sql converts an existing database.
# Every check compares an outcome (success, or the exact SQLSTATE): a regression in init.sql fails it.
set -euo pipefail
BIN=$(cd "${1:?usage: test_least_privilege.sh BINDIR}" && pwd)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_BIN=/usr/lib/postgresql/15/bin
SVCS=(ltb bto otd dtc)
[ -x "$PG_BIN/psql" ] || { echo "PostgreSQL 15 not found in $PG_BIN: run scripts/setup" >&2; exit 1; }

unset LTC_LTB_DSN LTC_BTO_DSN LTC_OTD_DSN LTC_DTC_DSN
unset LTC_LTB_MIGRATE_DSN LTC_BTO_MIGRATE_DSN LTC_OTD_MIGRATE_DSN LTC_DTC_MIGRATE_DSN
STATE=$(mktemp -d /tmp/ltc-dbpriv-test.XXXXXX)
chmod 755 "$STATE"   # the postgres OS user (as root) keeps the cluster inside it
export LTC_STATE_DIR=$STATE LTC_BIN_DIR=$BIN LTC_PORT_OFFSET=${LTC_DBPRIV_PORT_OFFSET:-2300} LTC_LOG_LEVEL=warn
PORT=$((55432 + LTC_PORT_OFFSET))

cleanup() {
    "$REPO/scripts/stack" down >/dev/null 2>&1 || true
    local loc
    loc=$(head -n 1 "$STATE/pg-location" 2>/dev/null || true)
    [ -n "$loc" ] && [ "${loc#/tmp/ltc-pg-}" != "$loc" ] && rm -rf "$loc"
    rm -rf "$STATE"
}
trap cleanup EXIT

"$REPO/scripts/stack" start postgres >/dev/null

base=$(head -n 1 "$STATE/pg-location" 2>/dev/null || printf '%s/pg' "$STATE")
SOCK=$base/run
su_psql() {   # psql as the cluster's superuser over its socket, database ltc
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u postgres -- "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" \
            -U postgres -d ltc "$@")
    else
        "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U "$(id -un)" -d ltc "$@"
    fi
}

# dsn_of ROLEFILE: the DSN of $STATE/secrets/ROLEFILE.dsn without its password; pass_of: the password.
dsn_of() { sed -E 's/ password=[^ ]*//' "$STATE/secrets/$1.dsn"; }
pass_of() { sed -n 's/.*password=\([^ ]*\).*/\1/p' "$STATE/secrets/$1.dsn"; }

# as ROLEFILE SQL: runs SQL (one transaction) over TCP with that role's password (PGPASSWORD: not on a command
# line); prints psql's output, SQLSTATE on an error; returns psql's status.
as() {
    printf '\\set VERBOSITY sqlstate\nBEGIN;\n%s\nCOMMIT;\n' "$2" |
        PGPASSWORD=$(pass_of "$1") PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 \
            -d "$(dsn_of "$1")" 2>&1
}

pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

expect_ok() {   # expect_ok ROLEFILE WHAT SQL
    local out
    if out=$(as "$1" "$3"); then ok; else bad "$2 ($1): want success, got: $(echo "$out" | tail -n 2 | tr '\n' ' ')"; fi
}
expect_denied() {   # expect_denied ROLEFILE WHAT SQL: fails with SQLSTATE 42501 (insufficient_privilege)
    local out
    if out=$(as "$1" "$3"); then
        bad "$2 ($1): succeeded, want SQLSTATE 42501"
    elif grep -q '42501' <<<"$out"; then
        ok
    else
        bad "$2 ($1): want SQLSTATE 42501, got: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
    fi
}
expect_eq() {   # expect_eq WHAT WANT GOT
    if [ "$2" = "$3" ]; then ok; else bad "$1: want '$2', got '$3'"; fi
}

check_all() {
    local phase=$1 s o r own tables t sql
    echo "-- $phase"
    for s in "${SVCS[@]}"; do
        o=$( [ "$s" = ltb ] && echo bto || echo ltb )   # another service
        r=ltc_$s own=ltc_${s}_owner

        # the catalogue
        expect_eq "$phase: owner of schema $s" "$own" "$(su_psql -c "SELECT nspowner::regrole FROM pg_namespace WHERE nspname = '$s'")"
        expect_eq "$phase: objects of schema $s not owned by $own" "" \
            "$(su_psql -c "SELECT string_agg(relname, ' ') FROM pg_class WHERE relnamespace = '$s'::regnamespace AND relowner <> '$own'::regrole")"
        expect_eq "$phase: tables in schema $s" t "$(su_psql -c "SELECT count(*) >= 4 FROM pg_tables WHERE schemaname = '$s'")"
        expect_eq "$phase: attributes or memberships of $r, $own" "" \
            "$(su_psql -c "SELECT string_agg(rolname, ' ') FROM pg_roles g WHERE rolname IN ('$r', '$own') AND (rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls OR NOT rolcanlogin OR EXISTS (SELECT FROM pg_auth_members m WHERE m.member = g.oid OR m.roleid = g.oid))")"
        expect_eq "$phase: $r's rights on schema public, database ltc" "f f f f" \
            "$(su_psql -c "SELECT concat_ws(' ', has_schema_privilege('$r', 'public', 'USAGE'), has_schema_privilege('$r', 'public', 'CREATE'), has_database_privilege('$r', 'ltc', 'CREATE'), has_database_privilege('$r', 'ltc', 'TEMP'))")"

        # its own tables: every one readable, and insert (sequence), update, delete
        tables=$(su_psql -c "SELECT tablename FROM pg_tables WHERE schemaname = '$s' ORDER BY 1")
        sql=""
        for t in $tables; do sql+="SELECT count(*) FROM $s.$t;"$'\n'; done
        expect_ok "$s" "$phase: read every table of $s" "$sql"
        expect_ok "$s" "$phase: write $s.outbox and $s.idempotency_keys" "
            INSERT INTO $s.outbox (handoff_id, deal_id, destination, method, payload)
                VALUES (gen_random_uuid(), 'dbpriv-test', 'nowhere', '/x', '\\x00');
            UPDATE $s.outbox SET attempts = attempts + 1 WHERE deal_id = 'dbpriv-test';
            SELECT * FROM $s.outbox WHERE deal_id = 'dbpriv-test' FOR UPDATE;
            DELETE FROM $s.outbox WHERE deal_id = 'dbpriv-test';
            INSERT INTO $s.idempotency_keys (method, key, fingerprint) VALUES ('/x', 'dbpriv-test', '\\x00');
            DELETE FROM $s.idempotency_keys WHERE key = 'dbpriv-test';
            SELECT count(*) FROM $s.schema_migrations;
            SELECT pg_advisory_xact_lock(1), pg_notify('ltc_outbox_$s', '');
            LISTEN ltc_outbox_$s;"

        # the audit chain (runtime migrations 009, 011): the serving role inserts rows and runs the sealer, but writes
        # neither the chain columns nor the head itself
        expect_ok "$s" "$phase: insert an audit row and seal it" "
            INSERT INTO $s.audit_log (principal, roles, caller, method, target, request_id, code, reason)
                VALUES ('dbpriv', '', '', '/x', '', 'dbpriv-test', 'OK', '');
            SELECT $s.audit_chain_seal(100);"
        expect_denied "$s" "$phase: write the chain columns of $s.audit_log" \
            "UPDATE $s.audit_log SET row_hash = '\\x00' WHERE request_id = 'dbpriv-test';"
        expect_denied "$s" "$phase: move $s.audit_chain_head" "UPDATE $s.audit_chain_head SET position = 0;"

        # no DDL in its own schema
        expect_denied "$s" "$phase: CREATE TABLE in $s" "CREATE TABLE $s.dbpriv_x (i int);"
        expect_denied "$s" "$phase: CREATE TABLE in $s (search_path)" "CREATE TABLE dbpriv_x (i int);"
        expect_denied "$s" "$phase: CREATE VIEW in $s" "CREATE VIEW $s.dbpriv_v AS SELECT 1;"
        expect_denied "$s" "$phase: CREATE INDEX on $s.outbox" "CREATE INDEX dbpriv_i ON $s.outbox (deal_id);"
        expect_denied "$s" "$phase: ALTER TABLE $s.outbox" "ALTER TABLE $s.outbox ADD COLUMN dbpriv int;"
        expect_denied "$s" "$phase: DROP TABLE $s.outbox" "DROP TABLE $s.outbox;"
        expect_denied "$s" "$phase: TRUNCATE $s.outbox" "TRUNCATE $s.outbox;"
        # GRANT without the grant option only warns (01007): what counts is that nothing was granted
        as "$s" "GRANT SELECT ON $s.outbox TO ltc_$o;" >/dev/null || true
        expect_eq "$phase: ltc_$o may read $s.outbox after $r granted it" f \
            "$(su_psql -c "SELECT has_table_privilege('ltc_$o', '$s.outbox', 'SELECT')")"
        # nothing of another service's, no new schema, nothing in public, no temporary table, not the owner
        expect_denied "$s" "$phase: SELECT $o.outbox" "SELECT count(*) FROM $o.outbox;"
        expect_denied "$s" "$phase: INSERT $o.idempotency_keys" \
            "INSERT INTO $o.idempotency_keys (method, key, fingerprint) VALUES ('/x', 'dbpriv-test', '\\x00');"
        expect_denied "$s" "$phase: CREATE SCHEMA" "CREATE SCHEMA dbpriv_$s;"
        expect_denied "$s" "$phase: CREATE TABLE in public" "CREATE TABLE public.dbpriv_x (i int);"
        expect_denied "$s" "$phase: CREATE TEMP TABLE" "CREATE TEMP TABLE dbpriv_x (i int);"
        expect_denied "$s" "$phase: SET ROLE $own" "SET ROLE $own;"

        # a later migration's table (made by the owner) is usable by the serving role at once
        expect_ok "$s-owner" "$phase: owner creates $s.dbpriv_later" "CREATE TABLE $s.dbpriv_later (id bigserial PRIMARY KEY, v text);"
        expect_ok "$s" "$phase: write $s.dbpriv_later" "INSERT INTO $s.dbpriv_later (v) VALUES ('x'); UPDATE $s.dbpriv_later SET v = 'y'; DELETE FROM $s.dbpriv_later;"
        expect_denied "$s" "$phase: DROP TABLE $s.dbpriv_later" "DROP TABLE $s.dbpriv_later;"
        expect_ok "$s-owner" "$phase: owner drops $s.dbpriv_later" "DROP TABLE $s.dbpriv_later;"
        # the owner has no business in another schema either
        expect_denied "$s-owner" "$phase: owner SELECT $o.outbox" "SELECT count(*) FROM $o.outbox;"
        expect_denied "$s-owner" "$phase: owner CREATE SCHEMA" "CREATE SCHEMA dbpriv_$s;"

        # the serving role alone finds nothing to migrate (reads schema_migrations, runs no DDL)
        if (export "LTC_$(echo "$s" | tr a-z A-Z)_DSN=$(cat "$STATE/secrets/$s.dsn")" &&
            exec timeout 60 "$BIN/ltc-$s" --migrate-only) >"$STATE/migrate-$s.log" 2>&1; then ok
        else bad "$phase: ltc-$s --migrate-only as $r with nothing pending: $(tail -n 3 "$STATE/migrate-$s.log")"; fi
    done
}

# The stack applied the migrations as the owners; run them again explicitly with LTC_<SVC>_MIGRATE_DSN alone.
for s in "${SVCS[@]}"; do
    if (export "LTC_$(echo "$s" | tr a-z A-Z)_MIGRATE_DSN=$(cat "$STATE/secrets/$s-owner.dsn")" &&
        exec timeout 60 "$BIN/ltc-$s" --migrate-only) >"$STATE/migrate-$s.log" 2>&1; then ok
    else bad "ltc-$s --migrate-only over LTC_${s^^}_MIGRATE_DSN: $(tail -n 3 "$STATE/migrate-$s.log")"; fi
done
check_all "fresh database"

# The old layout: ltc_<svc> owns its schema and tables, no owner role. init.sql must convert it.
for s in "${SVCS[@]}"; do
    su_psql -c "REASSIGN OWNED BY ltc_${s}_owner TO ltc_$s" -c "DROP OWNED BY ltc_${s}_owner" \
        -c "DROP ROLE ltc_${s}_owner" >/dev/null
done
expect_eq "old layout: owner of schema bto" ltc_bto "$(su_psql -c "SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'bto'")"
expect_ok bto "old layout: ltc_bto may still change its schema" "CREATE TABLE bto.dbpriv_old (i int); DROP TABLE bto.dbpriv_old;"
for s in "${SVCS[@]}"; do
    export "LTC_${s^^}_DB_PASSWORD=$(pass_of "$s")" "LTC_${s^^}_OWNER_DB_PASSWORD=$(pass_of "$s-owner")"
done
if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser --preserve-environment -u postgres -- "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" \
        -p "$PORT" -U postgres -d postgres -c "SET client_min_messages = warning" -f - <"$REPO/deploy/postgres/init.sql") >/dev/null
else
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U "$(id -un)" -d postgres \
        -c "SET client_min_messages = warning" -f - <"$REPO/deploy/postgres/init.sql" >/dev/null
fi
check_all "converted from the old layout"

echo "least privilege: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
