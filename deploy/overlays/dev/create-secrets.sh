#!/usr/bin/env bash
# deploy/overlays/dev/create-secrets.sh - creates the Secrets of the dev overlay, so none is ever committed: database
# passwords at random, TLS material and token keys from a PKI folder.
#   ltc-postgres            keys superuser-password, <svc>-password, <svc>-owner-password (svc: ltb bto otd dtc)
#                           (read by the in-cluster PostgreSQL: its superuser, and init.sql for the service roles)
#   ltc-<svc>-db            key dsn: host=postgres ... user=ltc_<svc> password=... sslmode=verify-full
#                           sslrootcert=/etc/ltc/db-ca/ca.crt (each stage service's serving role; the owner's alike)
#   ltc-<svc>-db-owner      key dsn: host=postgres ... user=ltc_<svc>_owner password=... (the schema owner: read only
#                           by each stage service's migration init container)
#   ltc-tls-<name>          type kubernetes.io/tls, keys tls.crt tls.key ca.crt, for name in gateway ltb bto otd dtc:
#                           DIR/<name>.crt, DIR/<name>.key (the process's internal identity, URI SAN
#                           spiffe://ltc/<name>) and DIR/mesh-ca.crt (the mesh CA only)
#   ltc-gateway-public-tls  type kubernetes.io/tls, keys tls.crt tls.key ca.crt: DIR/gateway-public.crt and .key and
#                           DIR/edge-ca.crt (its CA, for the gateway's --health-probe)
#   ltc-gateway-assertion   key assertion.key: DIR/assertion.key (the gateway's Ed25519 assertion signing key)
#   ltc-assertion-public    key assertion.pub: DIR/assertion.pub (the stages verify the gateway's assertions with it)
#   ltc-db-ca               key ca.crt: DIR/postgres-ca.crt (the CA of PostgreSQL's certificate: sslrootcert)
#   ltc-postgres-tls        type kubernetes.io/tls, keys tls.crt tls.key: DIR/postgres.crt and .key (the in-cluster
#                           PostgreSQL's server certificate, SAN DNS:postgres)
#   ltc-jwt-keys            DIR/jwt/keys.json and the files it names (public keys, HMAC secrets; never a private key)
# Passwords already in the cluster are kept (the database was initialised with them), so running it again is safe;
# the TLS and key Secrets are replaced by the folder's files (restart the pods to read them: kubectl rollout restart).
#   usage: create-secrets.sh --pki DIR [--namespace NS] [--print] [--tls-only]
#     --pki DIR        the PKI folder; for development make it with `scripts/pki init DIR` (a development CA, every
#                      certificate, the token key set). Each certificate's URI SAN is checked to be its process.
#     --namespace NS   default ltc-dev (the overlay's namespace; create it first: kubectl apply -f namespace.yaml)
#     --print          write the manifests to standard output instead of applying them (new random passwords, no
#                      cluster needed; the output contains the passwords and private keys: keep it out of logs and
#                      commits)
#     --tls-only       only the TLS and token key Secrets (e.g. a cluster whose database Secrets are made otherwise)
# Production does not use development keys: the operator creates the same Secrets from the company's own private CA
# and identity provider keys (docs/operations.md, "Secrets").
set -euo pipefail

ns=ltc-dev
print=0
pki=
tls_only=0
while [ $# -gt 0 ]; do
    case $1 in
        --namespace) ns=${2:?--namespace needs a value}; shift 2 ;;
        --pki) pki=${2:?--pki needs a folder}; shift 2 ;;
        --print) print=1; shift ;;
        --tls-only) tls_only=1; shift ;;
        -h | --help) sed -n '2,/^# Production/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "create-secrets.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

die() { echo "create-secrets.sh: $*" >&2; exit 1; }
[ -n "$pki" ] || die "--pki DIR is required (for development: scripts/pki init DIR, then --pki DIR)"
[ -d "$pki" ] || die "$pki is not a folder (for development: scripts/pki init $pki)"

processes=(gateway ltb bto otd dtc)

need() {
    [ -s "$pki/$1" ] || die "$pki/$1 is missing or empty (for development: scripts/pki init $pki)"
}

b64() { base64 <"$1" | tr -d '\n'; }

# The identity of a PEM certificate: its URI SAN spiffe://ltc/<name> (the Common Name is not read).
identity() {
    openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | grep -o 'URI:spiffe://ltc/[a-z0-9-]*' |
        sed 's|^URI:spiffe://ltc/||'
}
for n in "${processes[@]}"; do
    need "$n.crt"; need "$n.key"
    id=$(identity "$pki/$n.crt")
    [ "$id" = "$n" ] || die "$pki/$n.crt names '$id', not spiffe://ltc/$n: each process needs its own certificate"
done
need mesh-ca.crt; need edge-ca.crt; need gateway-public.crt; need gateway-public.key; need jwt/keys.json
need assertion.key; need assertion.pub; need postgres-ca.crt; need postgres.crt; need postgres.key
# The files keys.json names (relative to it): each becomes a key of ltc-jwt-keys, mounted beside keys.json.
jwt_files=()
while IFS= read -r f; do
    [ -n "$f" ] || continue
    [[ $f =~ ^[A-Za-z0-9._-]+$ ]] || die "jwt/keys.json names the file '$f': only a plain file name beside keys.json"
    need "jwt/$f"
    ! grep -q 'PRIVATE[ ]KEY' "$pki/jwt/$f" ||
        die "jwt/$f is a private key: the gateway verifies tokens with public keys (and HMAC secrets) only"
    jwt_files+=("$f")
done < <(grep -o '"file"[[:space:]]*:[[:space:]]*"[^"]*"' "$pki/jwt/keys.json" | sed 's/.*"\([^"]*\)"$/\1/')
[ ${#jwt_files[@]} -gt 0 ] || die "jwt/keys.json names no key file"

services=(ltb bto otd dtc)
declare -A pw

random_password() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

# An existing password of ltc-postgres, or nothing.
existing() {
    [ "$print" -eq 0 ] || return 0
    kubectl get secret ltc-postgres -n "$ns" -o "jsonpath={.data.$1}" 2>/dev/null | base64 -d 2>/dev/null || true
}

if [ "$tls_only" -eq 0 ]; then
    for key in superuser ltb bto otd dtc ltb-owner bto-owner otd-owner dtc-owner; do
        v=$(existing "$key-password")
        pw[$key]=${v:-$(random_password)}
    done
fi

db_manifests() {
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
        dsn_secret "ltc-$s-db" "$s" "ltc_$s" "${pw[$s]}"                       # the serving role
        dsn_secret "ltc-$s-db-owner" "$s" "ltc_${s}_owner" "${pw[$s-owner]}"   # the schema owner (migrations)
    done
}

# dsn_secret NAME SERVICE ROLE PASSWORD: a Secret holding the libpq DSN of one database role.
dsn_secret() {
    secret_head "$1" "$2" Opaque stringData
    printf '  dsn: "host=postgres port=5432 dbname=ltc user=%s password=%s connect_timeout=5 sslmode=verify-full' "$3" "$4"
    printf ' sslrootcert=/etc/ltc/db-ca/ca.crt"\n'
}

# secret_head NAME COMPONENT TYPE FIELD: the start of one Secret of the overlay (COMPONENT "": no name label), up to
# its FIELD ("data" or "stringData"), whose entries the caller prints ("  key: value").
secret_head() {
    printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\n  labels:\n' "$1" "$ns"
    printf '    app.kubernetes.io/part-of: ltc-process-center\n'
    [ -z "$2" ] || printf '    app.kubernetes.io/name: %s\n' "$2"
    printf 'type: %s\n%s:\n' "$3" "$4"
}

# file_entry KEY FILE: a data entry holding the file's bytes.
file_entry() { printf '  %s: %s\n' "$1" "$(b64 "$2")"; }

tls_manifests() {
    local n f
    for n in "${processes[@]}"; do
        secret_head "ltc-tls-$n" "$n" kubernetes.io/tls data
        file_entry tls.crt "$pki/$n.crt"
        file_entry tls.key "$pki/$n.key"
        file_entry ca.crt "$pki/mesh-ca.crt"
    done
    secret_head ltc-gateway-public-tls gateway kubernetes.io/tls data
    file_entry tls.crt "$pki/gateway-public.crt"
    file_entry tls.key "$pki/gateway-public.key"
    file_entry ca.crt "$pki/edge-ca.crt"
    secret_head ltc-gateway-assertion gateway Opaque data
    file_entry assertion.key "$pki/assertion.key"
    secret_head ltc-assertion-public "" Opaque data
    file_entry assertion.pub "$pki/assertion.pub"
    secret_head ltc-db-ca "" Opaque data
    file_entry ca.crt "$pki/postgres-ca.crt"
    secret_head ltc-postgres-tls postgres kubernetes.io/tls data
    file_entry tls.crt "$pki/postgres.crt"
    file_entry tls.key "$pki/postgres.key"
    secret_head ltc-jwt-keys gateway Opaque data
    file_entry keys.json "$pki/jwt/keys.json"
    for f in "${jwt_files[@]}"; do
        file_entry "$f" "$pki/jwt/$f"
    done
}

manifests() {
    if [ "$tls_only" -eq 0 ]; then
        db_manifests
    fi
    tls_manifests
}

if [ "$print" -eq 1 ]; then
    manifests
else
    manifests | kubectl apply -n "$ns" -f -
fi
