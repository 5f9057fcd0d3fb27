#!/usr/bin/env bash
# tests/contract/buf.sh - runs the pinned buf (tools/buf, installed by scripts/setup with npm ci) on the contract.
#   buf.sh lint        buf lint, STANDARD rules (proto/buf.yaml), the vendored proto/google/ excluded
#   buf.sh breaking    buf breaking (FILE rules) against the last released contract, proto/released/ltc-v1.binpb
#   buf.sh comments    buf lint with only the COMMENTS rules: every service, RPC, message, field, enum, enum value
#                      and oneof has a comment (the API reference lives in them)
#   buf.sh generate OUT   buf generate with proto/buf.gen.yaml (managed mode; C++, Java, Python, Go, TypeScript)
#                      into OUT: fails on any generator error or a language that generated nothing
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
generate)
    out=${2:?usage: buf.sh generate OUT}
    rm -rf "$out"
    "$BUF" generate proto --template proto/buf.gen.yaml -o "$out"
    n=$(find proto/ltc -name '*.proto' | wc -l)
    for spec in "cpp *.pb.cc" "python *_pb2.py" "go *.pb.go" "ts *_pb.ts"; do
        read -r dir pattern <<<"$spec"
        got=$(find "$out/$dir" -type f -name "$pattern" ! -name '*_grpc.pb.go' | wc -l)
        [ "$got" -eq "$n" ] || { echo "buf.sh generate: $dir: $got files $pattern for $n protos" >&2; exit 1; }
    done
    [ -n "$(find "$out/java/com/ltc" -name '*.java' -print -quit)" ] || { echo "buf.sh generate: no Java" >&2; exit 1; }
    echo "buf generate (proto/buf.gen.yaml, managed mode): $n protos for C++, Java, Python, Go and TypeScript in $out"
    ;;
*)
    exec "$BUF" "$@"
    ;;
esac
