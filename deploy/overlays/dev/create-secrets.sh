#!/usr/bin/env bash
# deploy/overlays/dev/create-secrets.sh - creates the Secrets of the dev overlay with random passwords, so none is
# ever committed:
#   ltc-postgres            keys superuser-password, <svc>-password, <svc>-owner-password (svc: ltb bto otd dtc)
#                           (read by the in-cluster PostgreSQL: its superuser, and init.sql for the service roles)
#   ltc-<svc>-db            key dsn: host=postgres ... user=ltc_<svc> password=... (each stage service's serving role)
#   ltc-<svc>-db-owner      key dsn: host=postgres ... user=ltc_<svc>_owner password=... (the schema owner: read only
#                           by each stage service's migration init container)
# Passwords already in the cluster are kept (the database was initialised with them), so running it again is safe.
#   usage: create-secrets.sh [--namespace NS] [--print]
#     --namespace NS   default ltc-dev (the overlay's namespace; create it first: kubectl apply -f namespace.yaml)
#     --print          write the manifests to standard output instead of applying them (new random passwords, no
#                      cluster needed; the output contains the passwords: keep it out of logs and commits)
# Production does not use this: the operator creates the ltc-<svc>-db and ltc-<svc>-db-owner Secrets
# (docs/operations.md).
set -euo pipefail

ns=ltc-dev
print=0
while [ $# -gt 0 ]; do
    case $1 in
        --namespace) ns=${2:?--namespace needs a value}; shift 2 ;;
        --print) print=1; shift ;;
        -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "create-secrets.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

services=(ltb bto otd dtc)
declare -A pw

random_password() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

# An existing password of ltc-postgres, or nothing.
existing() {
    [ "$print" -eq 0 ] || return 0
    kubectl get secret ltc-postgres -n "$ns" -o "jsonpath={.data.$1}" 2>/dev/null | base64 -d 2>/dev/null || true
}

for key in superuser ltb bto otd dtc ltb-owner bto-owner otd-owner dtc-owner; do
    v=$(existing "$key-password")
    pw[$key]=${v:-$(random_password)}
done

manifests() {
    cat <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: ltc-postgres
  namespace: $ns
  labels:
    app.kubernetes.io/part-of: ltc-process-center
type: Opaque
stringData:
  superuser-password: "${pw[superuser]}"
  ltb-password: "${pw[ltb]}"
  bto-password: "${pw[bto]}"
  otd-password: "${pw[otd]}"
  dtc-password: "${pw[dtc]}"
  ltb-owner-password: "${pw[ltb-owner]}"
  bto-owner-password: "${pw[bto-owner]}"
  otd-owner-password: "${pw[otd-owner]}"
  dtc-owner-password: "${pw[dtc-owner]}"
YAML
    local s
    for s in "${services[@]}"; do
        cat <<YAML
---
apiVersion: v1
kind: Secret
metadata:
  name: ltc-$s-db
  namespace: $ns
  labels:
    app.kubernetes.io/part-of: ltc-process-center
    app.kubernetes.io/name: $s
type: Opaque
stringData:
  dsn: "host=postgres port=5432 dbname=ltc user=ltc_$s password=${pw[$s]} connect_timeout=5"
---
apiVersion: v1
kind: Secret
metadata:
  name: ltc-$s-db-owner
  namespace: $ns
  labels:
    app.kubernetes.io/part-of: ltc-process-center
    app.kubernetes.io/name: $s
type: Opaque
stringData:
  dsn: "host=postgres port=5432 dbname=ltc user=ltc_${s}_owner password=${pw[$s-owner]} connect_timeout=5"
YAML
    done
}

if [ "$print" -eq 1 ]; then
    manifests
else
    manifests | kubectl apply -n "$ns" -f -
fi
