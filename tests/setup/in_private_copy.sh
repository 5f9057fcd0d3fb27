#!/usr/bin/env bash
# in_private_copy.sh COMMAND [ARGS...] - runs COMMAND (a path relative to the repository, e.g. bench/run) from a copy
# of the repository's tracked and untracked source files in a fresh folder of mode 0700 owned by the caller, the
# way a clone into root's home or a `mktemp -d` folder looks to other OS users. Used for the tests whose scripts run
# programs as another OS user (psql and pg_ctl as `postgres` when we are root): whatever they give that user must
# not be a path into the repository. Not root: nothing switches users, and the command runs in place.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cmd=${1:?usage: in_private_copy.sh COMMAND [ARGS...]}
shift
if [ "$(id -u)" -ne 0 ]; then
    exec "$src/$cmd" "$@"
fi
work=$(mktemp -d /tmp/ltc-private.XXXXXX)
chmod 700 "$work"
trap 'rm -rf "$work"' EXIT
copy=$work/repo
mkdir "$copy"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$copy" 2>/dev/null) ||
        { echo "in_private_copy: copying $src failed" >&2; exit 1; }
else
    (cd "$src" && tar --exclude='./build*' --exclude='./.git' --exclude='node_modules' -cf - .) | (cd "$copy" && tar -xf -)
fi
# npm tools (buf, grpc-js) are not source: let the copy use the original's installed ones.
for d in tools/buf tests/clients/node; do
    [ -d "$src/$d/node_modules" ] && ln -s "$src/$d/node_modules" "$copy/$d/node_modules"
done
if runuser -u postgres -- test -r "$copy/$cmd" 2>/dev/null; then
    echo "in_private_copy: the postgres OS user can read $copy: the copy is not private" >&2
    exit 1
fi
echo "in_private_copy: running $cmd from $copy (folder $work mode $(stat -c %a "$work"), unreadable by postgres)"
status=0
"$copy/$cmd" "$@" || status=$?
exit "$status"
