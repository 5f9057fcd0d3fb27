#!/usr/bin/env bash
# tests/contract/codegen.sh OUT_DIR - the contract generates, without edits, for every language an adopter uses:
#   C           protoc-c (protobuf-c-compiler): the build itself (proto/CMakeLists.txt), checked again here
#   C++, Java, Python   protoc's built-in generators (protobuf-compiler)
#   Go          protoc-gen-go (Debian protoc-gen-go, APIv2) and protoc-gen-go-grpc (Debian protoc-gen-go-grpc) for
#               the service stubs, import paths from each file's go_package
#   TypeScript  protoc-gen-es (npm @bufbuild/protoc-gen-es, pinned in tools/codegen, target=ts)
# over every proto/ltc/**/*.proto, with the imports from proto/ and the well-known types. Any error or warning of a
# generator fails the test, as does a language that generated nothing; the generated Python is then imported (with
# Debian's python3-protobuf) as a smoke check that it is loadable. proto/buf.gen.yaml does the same with buf's
# managed mode (docs/clients.md).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${1:?usage: codegen.sh OUT_DIR}
WKT=${LTC_WKT_DIR:-/usr/include}
ES=$ROOT/tools/codegen/node_modules/.bin/protoc-gen-es
fail() { echo "codegen: FAIL: $*" >&2; exit 1; }

for tool in protoc protoc-c protoc-gen-go protoc-gen-go-grpc; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool not found: run scripts/setup"
done
[ -x "$ES" ] || fail "$ES is missing: run scripts/setup (npm ci in tools/codegen)"
ES_VERSION="protoc-gen-es $(node -p "require('$ROOT/tools/codegen/node_modules/@bufbuild/protoc-gen-es/package.json').version")"

cd "$ROOT/proto"
mapfile -t files < <(find ltc -name '*.proto' | LC_ALL=C sort)
[ ${#files[@]} -gt 0 ] || fail "no proto/ltc/**/*.proto"
rm -rf "$OUT"
mkdir -p "$OUT"/{c,cpp,java,python,go,ts}

# Runs one protoc command; its output (warnings included) fails the test.
gen() {
    local what=$1 log
    shift
    log=$(protoc -I. -I"$WKT" "$@" 2>&1) || fail "$what: protoc $*: $log"
    [ -z "$log" ] || fail "$what: the generator warned: $log"
}

gen C --c_out="$OUT/c" "${files[@]}"
gen "C++, Java, Python" --cpp_out="$OUT/cpp" --java_out="$OUT/java" --python_out="$OUT/python" "${files[@]}"
mapfile -t go_dirs < <(printf '%s\n' "${files[@]}" | xargs -n1 dirname | LC_ALL=C sort -u)
gen Go --go_out="$OUT/go" --go-grpc_out="$OUT/go" "${files[@]}"
gen TypeScript --plugin=protoc-gen-es="$ES" --es_out="$OUT/ts" --es_opt=target=ts "${files[@]}"

# every language produced one output per proto file (C: .pb-c.c, C++: .pb.cc, Python: _pb2.py, Go: .pb.go, TS: _pb.ts)
count() { find "$OUT/$1" -type f -name "$2" ! -name '*_grpc.pb.go' | wc -l; } # the gRPC stubs counted apart
n=${#files[@]}
for spec in "c *.pb-c.c" "cpp *.pb.cc" "python *_pb2.py" "go *.pb.go" "ts *_pb.ts"; do
    read -r dir pattern <<<"$spec"
    got=$(count "$dir" "$pattern")
    [ "$got" -eq "$n" ] || fail "$dir: $got files $pattern for $n protos"
done
[ "$(count java '*.java')" -gt "$n" ] || fail "java: too few classes"
services=$(grep -l '^service ' "${files[@]}" | wc -l)
grpc_go=$(find "$OUT/go" -type f -name '*_grpc.pb.go' | wc -l)
[ "$grpc_go" -eq "$services" ] || fail "go: $grpc_go *_grpc.pb.go for $services files with services"
# the Go packages are the go_package of each file, one folder per proto package
for d in "${go_dirs[@]}"; do
    [ -n "$(find "$OUT/go" -path "*/$d/*.pb.go" -print -quit)" ] || fail "go: nothing generated under */$d/"
done

# the generated Python loads (every module imported, its descriptors built by python3-protobuf)
mapfile -t mods < <(cd "$OUT/python" && find ltc -name '*_pb2.py' | sed 's/\.py$//; s#/#.#g' | LC_ALL=C sort)
(cd "$OUT/python" && /usr/bin/python3 -c "
import importlib, sys
for m in sys.argv[1:]:
    importlib.import_module(m)
print(f'python: {len(sys.argv) - 1} modules import')
" "${mods[@]}") || fail "python: the generated modules do not import"

echo "codegen: $n protos generate for C, C++, Java, Python, Go ($(count go '*.pb.go') files in ${#go_dirs[@]} packages) and TypeScript ($ES_VERSION)"
