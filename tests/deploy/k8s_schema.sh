#!/usr/bin/env bash
# k8s_schema.sh WORKDIR - renders deploy/overlays/{dev,prod} with kubectl's kustomize and validates every object
# against the Kubernetes OpenAPI schemas (npm kubernetes-models, pinned by tests/deploy/schema/package-lock.json and
# installed with `npm ci` into WORKDIR once per lock file). Exit 77 (reported as skipped by ctest) only when the
# tools cannot be had: no kubectl, no npm, or the npm registry unreachable.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${1:?usage: k8s_schema.sh WORKDIR}
skip() { echo "SKIPPED: $*" >&2; exit 77; }

command -v kubectl >/dev/null 2>&1 || skip "kubectl (with kustomize) not found"
{ command -v node && command -v npm; } >/dev/null 2>&1 || skip "node/npm not found (scripts/setup)"

mkdir -p "$work"
cp "$here/schema/package.json" "$here/schema/package-lock.json" "$here/schema/validate.mjs" "$work/"
sum=$(sha256sum <"$here/schema/package-lock.json" | cut -d" " -f1)
if [ "$(cat "$work/node_modules/.ltc-lock-sha256" 2>/dev/null || true)" != "$sum" ]; then
    if ! (cd "$work" && timeout 300 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >"$work/npm.log" 2>&1; then
        cat "$work/npm.log" >&2
        skip "npm ci of the schema validator failed (registry unreachable?)"
    fi
    echo "$sum" >"$work/node_modules/.ltc-lock-sha256"
fi

for o in dev prod; do
    kubectl kustomize "$repo/deploy/overlays/$o" >"$work/$o.yaml"
done
"$repo/scripts/pki" init "$work/pki"
"$repo/deploy/overlays/dev/create-secrets.sh" --print --pki "$work/pki" >"$work/dev-secrets.yaml"
cd "$work" && node validate.mjs dev.yaml prod.yaml dev-secrets.yaml
