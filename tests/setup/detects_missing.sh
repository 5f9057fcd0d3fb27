#!/usr/bin/env bash
# detects_missing.sh CHECK --source DIR ARGS...: runs check_system_packages.py against a copy of the source's
# scripts/setup and proto/ from which libprotobuf-dev (the well-known .proto files) is removed, and passes only when
# the check fails naming that package and one of its files. protoc-gen-go and protoc-gen-go-grpc (the Go generators
# of the codegen check) depend on libprotobuf-dev, so they are removed from the copy too: nothing the build reads
# comes from them, and with them the package would still be installed as their dependency.
set -euo pipefail
check=$1
shift
args=("$@") src=
for ((i = 0; i < ${#args[@]}; i++)); do
    if [ "${args[$i]}" = --source ]; then src=${args[$((i + 1))]}; args[$((i + 1))]=SRC; fi
done
[ -n "$src" ] || { echo "detects_missing: no --source" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/scripts"
cp -r "$src/proto" "$work/"
grep -q 'libprotobuf-dev' "$src/scripts/setup" || { echo "detects_missing: scripts/setup does not name libprotobuf-dev" >&2; exit 1; }
sed 's/\blibprotobuf-dev\b//; s/\bprotoc-gen-go-grpc\b//; s/\bprotoc-gen-go\b//' "$src/scripts/setup" >"$work/scripts/setup"
for ((i = 0; i < ${#args[@]}; i++)); do [ "${args[$i]}" = SRC ] && args[$i]=$work; done
set +e
out=$(/usr/bin/python3 "$check" "${args[@]}" 2>&1)
rc=$?
set -e
printf '%s\n' "$out"
if [ "$rc" -ne 1 ]; then echo "detects_missing: FAIL: the check exited $rc, not 1, without libprotobuf-dev" >&2; exit 1; fi
if ! grep -q '/usr/include/google/protobuf/.*\.proto: package libprotobuf-dev is not installed' <<<"$out"; then
    echo "detects_missing: FAIL: the check did not name libprotobuf-dev and a well-known .proto file" >&2
    exit 1
fi
echo "detects_missing: the check names the missing package and its file"
