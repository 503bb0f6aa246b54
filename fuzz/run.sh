#!/usr/bin/env bash
# Runs every fuzz target (or those named) for FUZZ_SECONDS each (60 by
# default), one after the other, keeping what each finds in
# fuzz/corpus/<target> and starting from fuzz/seeds/<target>. Installs the
# nightly toolchain and cargo-fuzz if missing. A crash stops the run with
# the input under fuzz/artifacts/<target>/: make it a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(filters expression page_token requests events)
fi
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo +nightly fuzz --version >/dev/null 2>&1 || cargo +nightly install cargo-fuzz --locked
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target"
    started=$(date +%s)
    cargo +nightly fuzz run -O "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -max_len=8192 -print_final_stats=1 2>&1 |
        grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==|SUMMARY|Done)' || true
    status=${PIPESTATUS[0]}
    echo "fuzz $target: $(( $(date +%s) - started )) s, exit $status"
    [ "$status" -eq 0 ] || exit "$status"
done
