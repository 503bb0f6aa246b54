#!/usr/bin/env bash
# Runs every test binary of the workspace with the clock moved by libfaketime
# to each instant given (`2027-01-01T00:00:10`), and prints a
# `N passed, N failed` line per instant. The binaries are built first without
# faketime: cargo and rustc themselves can hang under it, and only the tests'
# view of the calendar is under test. Exits non-zero if any instant failed.
set -uo pipefail
cd "$(dirname "$0")/../.."

export NATS_SERVER_BIN="${NATS_SERVER_BIN:-$(deploy/scripts/ensure-nats-server.sh)}"
faketime_bin="$(deploy/scripts/ensure-faketime.sh)" || exit 1
mapfile -t binaries < <(
    cargo test --workspace --lib --bins --tests --no-run --message-format=json 2>/dev/null |
        python3 -c '
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message.get("profile", {}).get("test") and message.get("executable"):
        print(message["manifest_path"].rsplit("/", 1)[0] + "\t" + message["executable"])
')
[[ ${#binaries[@]} -gt 0 ]] || { echo "no test binaries were built" >&2; exit 1; }
mkdir -p target
failed_any=0
for at in "$@"; do
    log="target/test-$at.log"
    : > "$log"
    echo "== the test suite at $at (faketime), ${#binaries[@]} binaries"
    for entry in "${binaries[@]}"; do
        dir="${entry%%$'\t'*}"; binary="${entry#*$'\t'}"
        # Each binary runs from its crate's directory, as cargo runs it.
        (cd "$dir" && "$faketime_bin" -f "@${at/T/ }" "$binary") >>"$log" 2>&1 || failed_any=1
    done
    grep -E '^test .* FAILED$' "$log" || true
    awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' "$log"
done
exit "$failed_any"
