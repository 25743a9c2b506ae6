#!/usr/bin/env bash
# Runs a libFuzzer target for a bounded time on a copy of its seed corpus.
# Fails (non-zero) when the fuzzer finds a crash, a leak or a sanitizer report;
# the reproducer is kept under build-fuzz/artifacts/.
set -euo pipefail
target=$1
corpus=$2
seconds=${3:-30}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts="$(dirname "$(dirname "$target")")/artifacts"
mkdir -p "$artifacts"
cp -r "$corpus"/. "$work"/
# An undefined-behaviour report is a failure too, not just a message.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
echo "fuzz: $(basename "$target") for ${seconds}s on $(ls "$corpus" | wc -l) seed inputs"
if ! "$target" "$work" -max_total_time="$seconds" -max_len="${FUZZ_MAX_LEN:-4096}" -timeout=10 -rss_limit_mb=2048 \
     -artifact_prefix="$artifacts/" -print_final_stats=1 > "$work/log" 2>&1; then
  tail -n 60 "$work/log"
  echo "fuzz: FAILED; reproducer under $artifacts/"
  exit 1
fi
grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$work/log" || true
echo "fuzz: no crash"
