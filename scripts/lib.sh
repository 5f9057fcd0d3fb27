# shellcheck shell=bash
# scripts/lib.sh - helpers shared by scripts/setup, stack, demo and test. Sourced, never run.
# The caller sets LTC_PROG (its own name, for messages) before sourcing.
set -euo pipefail   # the callers set these too; repeated so the file is safe to source from anywhere

LTC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export LTC_ROOT

ltc_say() { printf '%s: %s\n' "${LTC_PROG:-ltc}" "$*"; }
ltc_warn() { printf '%s: warning: %s\n' "${LTC_PROG:-ltc}" "$*" >&2; }
ltc_die() { printf '%s: error: %s\n' "${LTC_PROG:-ltc}" "$*" >&2; exit 1; }

# ltc_build DIR BUILD_TYPE [extra cmake args...]: configures (when needed) and builds the whole tree into DIR.
ltc_build() {
    local dir=$1 type=$2
    shift 2
    ltc_say "configuring ${dir} (${type}${*:+ $*})"
    cmake -S "$LTC_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE="$type" "$@" >/dev/null || return 1
    ltc_say "building ${dir} (make -j$(nproc))"
    make -C "$dir" -j"$(nproc)" --no-print-directory || return 1
}
