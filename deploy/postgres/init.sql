-- deploy/postgres/init.sql - the database, roles and schemas of LTC Process Center. Idempotent: safe to run again.
--
-- Run it with psql (15 or later) as a superuser, connected to any database of the cluster:
--     LTC_LTB_DB_PASSWORD=... LTC_LTB_OWNER_DB_PASSWORD=... (the same for BTO, OTD, DTC) \
--         psql -v ON_ERROR_STOP=1 -d postgres -f deploy/postgres/init.sql
-- Used as is by scripts/stack (embedded PostgreSQL) and by docker-compose.yml (postgres image's initdb.d), and by
-- hand for an external PostgreSQL (docs/configuration.md).
--
-- What it makes, for each service <svc> of ltb, bto, otd, dtc (least privilege, docs/operations.md "Database roles"):
--   schema <svc>;
--   role ltc_<svc>_owner (LOGIN, nothing else): owns the schema and every object in it; used only to run the
--     service's migrations (LTC_<SVC>_MIGRATE_DSN, `ltc-<svc> --migrate-only`);
--   role ltc_<svc> (LOGIN, nothing else): the role the service serves with (LTC_<SVC>_DSN): USAGE on its own schema;
--     SELECT, INSERT, UPDATE, DELETE on its tables; USAGE, SELECT, UPDATE on its sequences, for the objects that
--     exist and (default privileges of the owner) for those later migrations create. No CREATE anywhere, no TEMP, no
--     DDL, no rights in another schema, not a member of the owner role.
--   database ltc: PUBLIC loses every right on it and on schema public; only the eight roles may connect.
-- An older database where ltc_<svc> owned its schema and tables is converted: the schema and everything ltc_<svc>
-- owned (and any table or sequence of the schema owned by someone else) pass to ltc_<svc>_owner.
-- Passwords are not in this file: each role's password is set from the environment variable LTC_<SVC>_DB_PASSWORD
-- (ltc_<svc>) or LTC_<SVC>_OWNER_DB_PASSWORD (ltc_<svc>_owner) when it is set and not empty (psql's \getenv), and
-- left as it is otherwise.

\set ON_ERROR_STOP on

SELECT 'CREATE DATABASE ltc' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'ltc')
\gexec
\connect ltc

REVOKE ALL ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON DATABASE ltc FROM PUBLIC;

DO $$
DECLARE
    s text;
    rt text;    -- runtime role
    own text;   -- owner role
    obj record;
BEGIN
    FOREACH s IN ARRAY ARRAY['ltb', 'bto', 'otd', 'dtc'] LOOP
        rt := 'ltc_' || s;
        own := 'ltc_' || s || '_owner';

        -- the two roles: LOGIN and no other attribute, neither a member of the other
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = rt) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', rt);
        END IF;
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = own) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', own);
        END IF;
        EXECUTE format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', rt);
        EXECUTE format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', own);
        IF EXISTS (SELECT FROM pg_auth_members WHERE roleid = own::regrole AND member = rt::regrole) THEN
            EXECUTE format('REVOKE %I FROM %I', own, rt);
        END IF;
        IF EXISTS (SELECT FROM pg_auth_members WHERE roleid = rt::regrole AND member = own::regrole) THEN
            EXECUTE format('REVOKE %I FROM %I', rt, own);
        END IF;

        -- the schema and everything in it belong to the owner role (an older install: to the runtime role)
        IF NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = s) THEN
            EXECUTE format('CREATE SCHEMA %I AUTHORIZATION %I', s, own);
        END IF;
        EXECUTE format('REASSIGN OWNED BY %I TO %I', rt, own);
        EXECUTE format('ALTER SCHEMA %I OWNER TO %I', s, own);
        FOR obj IN
            SELECT c.oid::regclass AS name, c.relkind
            FROM pg_class c
            WHERE c.relnamespace = s::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
              AND c.relowner <> own::regrole
        LOOP
            EXECUTE format('ALTER %s %s OWNER TO %I',
                           CASE obj.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                            WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, obj.name, own);
        END LOOP;
        -- sequences of no table (a table's own sequences followed it above)
        FOR obj IN
            SELECT c.oid::regclass AS name
            FROM pg_class c
            WHERE c.relnamespace = s::regnamespace AND c.relkind = 'S' AND c.relowner <> own::regrole
        LOOP
            EXECUTE format('ALTER SEQUENCE %s OWNER TO %I', obj.name, own);
        END LOOP;

        -- the runtime role: data rights on what exists and on what the owner creates later, nothing more
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC, %I', s, rt);
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', s, rt);
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM PUBLIC, %I', s, rt);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I', s, rt);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM PUBLIC, %I', s, rt);
        EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I TO %I', s, rt);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I '
                       'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', own, s, rt);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I '
                       'GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO %I', own, s, rt);

        -- connect, and nothing else, on the database (no CREATE: no new schema; no TEMP: no temporary tables)
        EXECUTE format('REVOKE ALL ON DATABASE ltc FROM %I, %I', rt, own);
        EXECUTE format('GRANT CONNECT ON DATABASE ltc TO %I, %I', rt, own);

        -- each role finds its own tables first when an operator connects with psql (the services set search_path
        -- themselves)
        EXECUTE format('ALTER ROLE %I IN DATABASE ltc SET search_path = %I', rt, s);
        EXECUTE format('ALTER ROLE %I IN DATABASE ltc SET search_path = %I', own, s);
    END LOOP;
END
$$;

-- Passwords from the environment (never echoed: \getenv reads them, ALTER ROLE ... PASSWORD stores a SCRAM hash).
\set ltb_password ''
\set bto_password ''
\set otd_password ''
\set dtc_password ''
\set ltb_owner_password ''
\set bto_owner_password ''
\set otd_owner_password ''
\set dtc_owner_password ''
\getenv ltb_password LTC_LTB_DB_PASSWORD
\getenv bto_password LTC_BTO_DB_PASSWORD
\getenv otd_password LTC_OTD_DB_PASSWORD
\getenv dtc_password LTC_DTC_DB_PASSWORD
\getenv ltb_owner_password LTC_LTB_OWNER_DB_PASSWORD
\getenv bto_owner_password LTC_BTO_OWNER_DB_PASSWORD
\getenv otd_owner_password LTC_OTD_OWNER_DB_PASSWORD
\getenv dtc_owner_password LTC_DTC_OWNER_DB_PASSWORD
SET password_encryption = 'scram-sha-256';
SELECT format('ALTER ROLE %I PASSWORD %L', v.role, v.password)
FROM (VALUES ('ltc_ltb', :'ltb_password'), ('ltc_bto', :'bto_password'),
             ('ltc_otd', :'otd_password'), ('ltc_dtc', :'dtc_password'),
             ('ltc_ltb_owner', :'ltb_owner_password'), ('ltc_bto_owner', :'bto_owner_password'),
             ('ltc_otd_owner', :'otd_owner_password'), ('ltc_dtc_owner', :'dtc_owner_password')) AS v(role, password)
WHERE v.password <> ''
\gexec
