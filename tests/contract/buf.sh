#!/usr/bin/env bash
# tests/contract/buf.sh - runs the pinned buf (tools/buf, installed by scripts/setup with npm ci) on the contract.
#   buf.sh lint        buf lint, STANDARD rules (proto/buf.yaml), the vendored proto/google/ excluded
#   buf.sh breaking    buf breaking (FILE rules) against the last released contract, proto/released/ltc-v1.binpb
#   buf.sh comments    buf lint with only the COMMENTS rules: every service, RPC, message, field, enum, enum value
#                      and oneof has a comment (the API reference lives in them)
#   buf.sh ARGS...     any other buf command, run from the repo root
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUF=$ROOT/tools/buf/node_modules/.bin/buf
if [ ! -x "$BUF" ]; then
    echo "buf.sh: $BUF is missing: run scripts/setup (npm ci in tools/buf)" >&2
    exit 1
fi
cd "$ROOT"
case "${1:-}" in
lint)
    "$BUF" lint proto
    echo "buf lint: clean ($("$BUF" --version), STANDARD)"
    ;;
breaking)
    against=proto/released/ltc-v1.binpb
    [ -f "$against" ] || { echo "buf.sh: $against is missing" >&2; exit 1; }
    "$BUF" breaking proto --against "$against"
    echo "buf breaking: no breaking change against $against"
    ;;
comments)
    "$BUF" lint proto --config '{"version":"v2","modules":[{"path":"proto","excludes":["proto/google"]}],"lint":{"use":["COMMENTS"]}}'
    echo "buf lint (COMMENTS): every element is commented"
    ;;
*)
    exec "$BUF" "$@"
    ;;
esac
