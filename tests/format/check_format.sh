#!/usr/bin/env bash
# check_format.sh - every C source and header of the project is formatted by the repository's .clang-format
# (clang-format 14 from Debian, as scripts/setup installs it). Fails listing the files that differ, with the command
# that fixes them. Generated code (the build trees) and vendored files are not checked.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
command -v clang-format >/dev/null 2>&1 || { echo "check_format: clang-format not found (scripts/setup installs it)" >&2; exit 1; }
if git rev-parse --git-dir >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.c' '*.h' | grep -v -e '^build' -e '/node_modules/')
else
    mapfile -t files < <(find common services tests bench -name '*.[ch]' -not -path '*/node_modules/*')
fi
[ "${#files[@]}" -gt 0 ] || { echo "check_format: no C files found in $repo" >&2; exit 1; }
bad=()
for f in "${files[@]}"; do
    [ -f "$f" ] || continue
    clang-format --style=file --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ "${#bad[@]}" -gt 0 ]; then
    printf 'check_format: not formatted: %s\n' "${bad[@]}"
    echo "check_format: ${#bad[@]} of ${#files[@]} files differ from .clang-format; fix with: clang-format -i ${bad[*]}"
    exit 1
fi
echo "check_format: ${#files[@]} C files match .clang-format"
