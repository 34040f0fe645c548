#!/usr/bin/env bash
# `intake run` (file source → file sink) against `intake parse` on the same corpus:
# CPU seconds, wall time, peak RSS, and whether the outputs are byte-identical.
# They share one reader and one normalize stage, so their figures should agree.
#
# Usage: bench/run_vs_parse.sh [LINES]     (default 1000000)
# Environment: CARGO_TARGET_DIR (default <repo>/target-bench), NO_BUILD=1, FORMAT
# (default aws-vpc-flow-logs), GEN (default gen_vpc_lines.py).
# These are measurements: nothing here fails on a slow figure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
lines="${1:-1000000}"
format="${FORMAT:-aws-vpc-flow-logs}"
gen="${GEN:-gen_vpc_lines.py}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target-bench}"
out="$here/out"
mkdir -p "$out"
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
if [ -z "${NO_BUILD:-}" ]; then
    (cd "$repo" && cargo build --quiet --profile dist -p intake-cli)
fi
bin="$CARGO_TARGET_DIR/dist/intake"
corpus="$out/${gen%.py}-$lines.log"
[ -s "$corpus" ] || python3 "$here/$gen" "$lines" "$corpus"

measure() { # label, command...
    local label="$1"; shift
    /usr/bin/time -f "%e %U %S %M" -o "$out/time.txt" "$@" 2>"$out/stderr.txt" >/dev/null
    read -r wall user sys rss <"$out/time.txt"
    printf '%-34s wall %6.2f s  cpu %6.2f s  events/s %10.0f  per cpu-s %10.0f  rss %5.1f MiB\n' \
        "$label" "$wall" "$(echo "$user + $sys" | bc)" \
        "$(echo "$lines / $wall" | bc -l)" "$(echo "$lines / ($user + $sys)" | bc -l)" \
        "$(echo "$rss / 1024" | bc -l)"
}

run_config() { # threads, sink path, sync
    cat >"$out/run.toml" <<TOML
threads = $1
[sources.f]
type = "file"
paths = ["$corpus"]
format = "$format"
[sinks.out]
type = "file"
inputs = ["f"]
path = "$2"
sync = "$3"
TOML
}

echo "== $lines lines of $(basename "$corpus"), format $format"
measure "parse --threads 1" "$bin" parse --format "$format" --threads 1 --quiet -o "$out/parse.ndjson" "$corpus"
measure "parse --threads 2" "$bin" parse --format "$format" --threads 2 --quiet -o "$out/parse2.ndjson" "$corpus"
for t in 1 2; do
    rm -f "$out/run.ndjson"
    run_config "$t" "$out/run.ndjson" batch
    measure "run file→file threads=$t" "$bin" run --config "$out/run.toml"
    cmp -s "$out/parse.ndjson" "$out/run.ndjson" && echo "   output byte-identical to parse" || echo "   OUTPUT DIFFERS from parse"
done
for t in 1 2; do
    run_config "$t" /dev/null never
    measure "run file→/dev/null threads=$t" "$bin" run --config "$out/run.toml"
done
rm -f "$out/parse.ndjson" "$out/parse2.ndjson" "$out/run.ndjson"
