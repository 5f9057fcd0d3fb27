-- deploy/postgres/init.sql - the database, roles and schemas of LTC Process Center. Idempotent: safe to run again.
--
-- Run it with psql (15 or later) as a superuser, connected to any database of the cluster:
--     LTC_LTB_DB_PASSWORD=... LTC_BTO_DB_PASSWORD=... LTC_OTD_DB_PASSWORD=... LTC_DTC_DB_PASSWORD=... \
--         psql -v ON_ERROR_STOP=1 -d postgres -f deploy/postgres/init.sql
-- Used as is by scripts/stack (embedded PostgreSQL) and by docker-compose.yml (postgres image's initdb.d), and by
-- hand for an external PostgreSQL (docs/configuration.md).
--
-- What it makes:
--   database ltc; roles ltc_ltb, ltc_bto, ltc_otd, ltc_dtc (LOGIN, nothing else); schemas ltb, bto, otd, dtc, each
--   owned by its service's role, so a service can create and change its own tables and nothing else.
--   PUBLIC loses every right on the database and on schema public; only the four roles may connect.
-- Passwords are not in this file: each role's password is set from the environment variable
-- LTC_<SVC>_DB_PASSWORD when it is set and not empty (psql's \getenv), and left as it is otherwise.

\set ON_ERROR_STOP on

SELECT 'CREATE DATABASE ltc' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'ltc')
\gexec
\connect ltc

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['ltc_ltb', 'ltc_bto', 'ltc_otd', 'ltc_dtc'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', r);
        END IF;
    END LOOP;
END
$$;

CREATE SCHEMA IF NOT EXISTS ltb AUTHORIZATION ltc_ltb;
CREATE SCHEMA IF NOT EXISTS bto AUTHORIZATION ltc_bto;
CREATE SCHEMA IF NOT EXISTS otd AUTHORIZATION ltc_otd;
CREATE SCHEMA IF NOT EXISTS dtc AUTHORIZATION ltc_dtc;
-- A schema made earlier by someone else still ends up owned by its service.
ALTER SCHEMA ltb OWNER TO ltc_ltb;
ALTER SCHEMA bto OWNER TO ltc_bto;
ALTER SCHEMA otd OWNER TO ltc_otd;
ALTER SCHEMA dtc OWNER TO ltc_dtc;

-- Each role finds its own tables first when an operator connects with psql (the services set search_path
-- themselves).
ALTER ROLE ltc_ltb IN DATABASE ltc SET search_path = ltb;
ALTER ROLE ltc_bto IN DATABASE ltc SET search_path = bto;
ALTER ROLE ltc_otd IN DATABASE ltc SET search_path = otd;
ALTER ROLE ltc_dtc IN DATABASE ltc SET search_path = dtc;

REVOKE ALL ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON DATABASE ltc FROM PUBLIC;
GRANT CONNECT ON DATABASE ltc TO ltc_ltb, ltc_bto, ltc_otd, ltc_dtc;

-- Passwords from the environment (never echoed: \getenv reads them, ALTER ROLE ... PASSWORD stores a SCRAM hash).
\set ltb_password ''
\set bto_password ''
\set otd_password ''
\set dtc_password ''
\getenv ltb_password LTC_LTB_DB_PASSWORD
\getenv bto_password LTC_BTO_DB_PASSWORD
\getenv otd_password LTC_OTD_DB_PASSWORD
\getenv dtc_password LTC_DTC_DB_PASSWORD
SET password_encryption = 'scram-sha-256';
SELECT format('ALTER ROLE %I PASSWORD %L', v.role, v.password)
FROM (VALUES ('ltc_ltb', :'ltb_password'), ('ltc_bto', :'bto_password'),
             ('ltc_otd', :'otd_password'), ('ltc_dtc', :'dtc_password')) AS v(role, password)
WHERE v.password <> ''
\gexec
