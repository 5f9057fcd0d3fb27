#!/usr/bin/env bash
# run_fuzz.sh - one fuzz target's ctest: replay, then fuzz for a while (see docs/testing.md).
#   tests/fuzz/run_fuzz.sh BINARY NAME [WORK_DIR [SECONDS]]
#   1. replays every checked-in seed (tests/fuzz/corpus/NAME/) and every regression input
#      (tests/fuzz/regressions/NAME/: inputs that crashed once) exactly once: any failure fails the test;
#   2. fuzzes for SECONDS (ctest passes -DLTC_FUZZ_SECONDS of the configure step), else LTC_FUZZ_SECONDS, else 30,
#      from those inputs plus what earlier runs found (WORK_DIR/NAME/corpus,
#      kept in the build tree, never in the repository). A crash, leak, timeout or broken property fails the test and
#      leaves its input in WORK_DIR/NAME/artifacts/; once fixed, copy it into tests/fuzz/regressions/NAME/.
# Long runs: LTC_FUZZ_SECONDS=3600 tests/fuzz/run_fuzz.sh build-fuzz/tests/fuzz/fuzz_dtc dtc
# Extra libFuzzer flags: LTC_FUZZ_FLAGS (e.g. "-jobs=2 -workers=2", "-dict=...").
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 BINARY NAME [WORK_DIR [SECONDS]]" >&2; exit 2; }
bin=$1 name=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=${3:-$(dirname "$bin")/work}/$name
seeds=$here/corpus/$name
regress=$here/regressions/$name
secs=${4:-${LTC_FUZZ_SECONDS:-30}}
[ -x "$bin" ] || { echo "fuzz: $bin is not built" >&2; exit 1; }
[ -d "$seeds" ] || { echo "fuzz: no seed corpus in $seeds (tests/fuzz/gen_seeds.py)" >&2; exit 1; }
mkdir -p "$work/corpus" "$work/artifacts"
inputs=("$seeds")
[ -d "$regress" ] && inputs+=("$regress")

# Leaks are errors; UBSan stops at the first report (the build uses -fno-sanitize-recover=undefined).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
common=(-rss_limit_mb=2048 -timeout=10 -max_len=8192 -artifact_prefix="$work/artifacts/")

n_seeds=$(find "${inputs[@]}" -type f | wc -l)
echo "fuzz $name: replaying $n_seeds seed and regression inputs"
if ! "$bin" "${common[@]}" -runs=0 "${inputs[@]}" >"$work/replay.log" 2>&1; then
    echo "fuzz $name: FAILED replaying the seeds and regression inputs:" >&2
    tail -n 60 "$work/replay.log" >&2
    exit 1
fi
grep -E '^#[0-9]+ +(INITED|DONE)' "$work/replay.log" | tail -n 1 || true

echo "fuzz $name: fuzzing for ${secs} s (corpus $work/corpus)"
set +e
# shellcheck disable=SC2086 # LTC_FUZZ_FLAGS is a list of flags
"$bin" "${common[@]}" -max_total_time="$secs" -print_final_stats=1 ${LTC_FUZZ_FLAGS:-} \
    "$work/corpus" "${inputs[@]}" >"$work/last.log" 2>&1
rc=$?
set -e
grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|stat::new_units_added)' "$work/last.log" || true
if [ "$rc" -ne 0 ]; then
    echo "fuzz $name: FAILED (exit $rc); the report:" >&2
    grep -vE '^#[0-9]+ +(NEW|REDUCE|pulse|RELOAD)' "$work/last.log" | tail -n 60 >&2
    ls -1 "$work/artifacts/" >&2 || true
    echo "fuzz $name: reproduce with: $bin $work/artifacts/<file>; once fixed, keep it in tests/fuzz/regressions/$name/" >&2
    exit 1
fi
echo "fuzz $name: ok"
