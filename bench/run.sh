#!/usr/bin/env bash
# Throughput of `intake parse` on generated corpora, per built-in format.
#
# Usage: bench/run.sh [LINES]            (default 1000000; e.g. bench/run.sh 10000000)
#
# Environment:
#   CARGO_TARGET_DIR  build directory (default: <repo>/target-bench, git-ignored)
#   THREADS           thread counts to measure (default: "1 2")
#   REPEAT            runs per measurement, the fastest is reported (default: 1)
#   CASES             which corpora to run (default: all; names as in the table below)
#   KEEP_OUTPUT=1     keep the normalized output files in bench/out/ (large: ~0.8 GB
#                     per million VPC events); by default they are deleted once compared
#   NO_BUILD=1        skip `cargo build` (use the binary already built)
#
# For each corpus and thread count it runs
#   intake parse --format F CORPUS --threads T --output FILE --dead-letter FILE --quiet --now …
# under /usr/bin/time -v and prints events/s (input lines / wall time), MB/s of input,
# peak RSS, and whether the outputs of every thread count are byte-identical.
# These are measurements: nothing here fails on a slow figure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
lines="${1:-1000000}"
threads_list="${THREADS:-1 2}"
repeat="${REPEAT:-1}"
out="$here/out"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target-bench}"
# Output must not depend on the wall clock (year-less dates): pin "now".
now="2026-01-01T00:00:00Z"

case "$lines" in '' | *[!0-9]*) echo "bench/run.sh: LINES must be a number, not '$lines'" >&2; exit 2 ;; esac
mkdir -p "$out"

if [ ! -x /usr/bin/time ]; then
    echo "bench/run.sh: GNU time is missing; installing it (apt-get install time)" >&2
    apt-get update -qq && apt-get install -y -qq time >/dev/null
fi

if [ -z "${NO_BUILD:-}" ]; then
    echo "== building intake (profile dist, target dir $CARGO_TARGET_DIR)" >&2
    (cd "$repo" && cargo build --quiet --profile dist -p intake-cli)
fi
bin="$CARGO_TARGET_DIR/dist/intake"
[ -x "$bin" ] || { echo "bench/run.sh: no binary at $bin" >&2; exit 1; }

# name | generator | format
cases_table="
vpc-v2|gen_vpc_lines.py|aws-vpc-flow-logs
vpc-v5|gen_vpc_v5_lines.py|aws-vpc-flow-logs
vpc-v2-elastic|gen_vpc_lines.py|aws-vpcflow-elastic
vpc-tgw|gen_vpc_tgw_lines.py|aws-vpc-flow-logs
azure-nsg|gen_azure_nsg_lines.py|azure-nsg-flow-logs
pulse|gen_pulse_lines.py|pulse-connect-secure
"

corpus_for() { # generator → cached corpus path (generated on first use)
    local gen="$1" path="$out/${1%.py}-$lines.log"
    if [ ! -s "$path" ]; then
        echo "== generating $(basename "$path")" >&2
        python3 "$here/$gen" "$lines" "$path.tmp"
        mv "$path.tmp" "$path"
    fi
    echo "$path"
}

# GNU time's "Elapsed (wall clock) time" is h:mm:ss or m:ss.ss; the wall time is taken
# with date instead (ns resolution) and time gives the peak RSS.
run_once() { # format corpus threads result-file → "wall_us rss_kib cpu_s"
    local format="$1" corpus="$2" t="$3" result="$4" tv="$out/time.$$"
    local t0 t1
    # A previous result would be truncated inside the measured run.
    rm -f "$result" "$result.dead"
    t0=$(date +%s%N)
    /usr/bin/time -v -o "$tv" "$bin" parse --format "$format" "$corpus" --threads "$t" \
        --output "$result" --dead-letter "$result.dead" --now "$now" --quiet 2>"$result.log" \
        || { echo "bench/run.sh: intake failed ($format, $t threads):" >&2; cat "$result.log" >&2; exit 1; }
    t1=$(date +%s%N)
    local rss cpu
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tv")
    cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$tv")
    rm -f "$tv"
    echo "$(( (t1 - t0) / 1000 )) $rss $cpu"
}

printf '\n%s, %s lines per corpus, %s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
    "$lines" "nproc=$(nproc)" >&2
printf 'load average before: %s\n\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >&2

# events/s and MB/s are per wall-clock second; "events/CPU-s" divides by the process's
# user+system CPU time, which a busy machine disturbs less than the wall time.
header='| corpus | format | lines | MB | threads | events out | dead | wall s | events/s | MB/s | CPU s | events/CPU-s | peak RSS MiB |'
echo "$header"
echo '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
status=0
while IFS='|' read -r name gen format; do
    [ -n "$name" ] || continue
    if [ -n "${CASES:-}" ] && ! [[ " $CASES " == *" $name "* ]]; then continue; fi
    corpus=$(corpus_for "$gen")
    bytes=$(stat -c %s "$corpus")
    nlines=$(wc -l <"$corpus")
    first=""
    for t in $threads_list; do
        result="$out/result-$name-$lines-t$t.ndjson"
        best_us="" best_rss=0 best_cpu=""
        for _ in $(seq "$repeat"); do
            res=$(run_once "$format" "$corpus" "$t" "$result")
            read -r us rss cpu <<<"$res"
            if [ -z "$best_us" ] || [ "$us" -lt "$best_us" ]; then best_us=$us best_cpu=$cpu; fi
            if [ "$rss" -gt "$best_rss" ]; then best_rss=$rss; fi # the worst peak of the runs
        done
        written=$(wc -l <"$result")
        dead=$(wc -l <"$result.dead")
        awk -v n="$name" -v f="$format" -v l="$nlines" -v b="$bytes" -v t="$t" -v w="$written" -v d="$dead" \
            -v us="$best_us" -v rss="$best_rss" -v cpu="$best_cpu" 'BEGIN {
                s = us / 1e6
                printf "| %s | %s | %d | %.1f | %d | %d | %d | %.2f | %.0f | %.1f | %.2f | %.0f | %.1f |\n",
                    n, f, l, b / 1e6, t, w, d, s, l / s, b / 1e6 / s, cpu, l / cpu, rss / 1024
            }'
        if [ -z "$first" ]; then
            first="$result"
        else
            if cmp -s "$first" "$result" && cmp -s "$first.dead" "$result.dead"; then
                echo "  $name: output with $t threads is byte-identical to $(basename "$first")" >&2
            else
                echo "  $name: OUTPUT DIFFERS between $(basename "$first") and $(basename "$result")" >&2
                status=1
            fi
            [ -n "${KEEP_OUTPUT:-}" ] || rm -f "$result" "$result.dead" "$result.log"
        fi
    done
    [ -n "${KEEP_OUTPUT:-}" ] || rm -f "$first" "$first.dead" "$first.log"
done <<<"$cases_table"
printf '\nload average after: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >&2
exit $status
