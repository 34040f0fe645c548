#!/usr/bin/env bash
# Runs every fuzz target for a while with cargo-fuzz (libFuzzer), on the stable
# toolchain through RUSTC_BOOTSTRAP=1 (cargo-fuzz needs -Z flags).
#
# Usage: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60 s, all targets)
# Needs `cargo install cargo-fuzz`. Crashes land in fuzz/artifacts/<target>/; replay
# one with `RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>`.
# SANITIZER (default none: the engine is safe Rust, and ASan slows the runs down
# several times) may be set to address.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
secs="${1:-60}"
shift || true
cd "$here"
export RUSTC_BOOTSTRAP=1
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
python3 "$here/seed.py"
mkdir -p "$here/artifacts"
cargo fuzz build -O -s "${SANITIZER:-none}" || exit 1
status=0
for t in "${targets[@]}"; do
    echo "== $t ($secs s)"
    # -rss_limit_mb: the engine's own limit is 64 MiB per stream; 1 GiB flags runaways.
    # -timeout: one input taking over 10 s is reported as a hang.
    if ! cargo fuzz run -O -s "${SANITIZER:-none}" "$t" -- -max_total_time="$secs" -rss_limit_mb=1024 \
        -timeout=10 -max_len=4096 -print_final_stats=1 2>&1 | tee "$here/artifacts/$t.log" | grep -E \
        '^#[0-9]+ +DONE|^stat::number_of_executed_units|^stat::peak_rss_mb|ERROR|panicked|Test unit written|SUMMARY'; then
        :
    fi
    if grep -q 'Test unit written' "$here/artifacts/$t.log"; then status=1; fi
done
exit $status
