#!/usr/bin/env bash
# Throughput and peak RSS of the aws_s3_sqs collector (`intake run`) on one gzipped
# VPC flow-log object, against a local moto_server (S3 + SQS). Issue #4.
#
# Usage: bench/s3_collector.sh [LINES]          (default 1000000)
#
# Environment:
#   INTAKE=/path/to/intake  use this binary (no build); else
#                           `cargo build --profile dist -p intake-cli` into
#   CARGO_TARGET_DIR        (default <repo>/target-bench; cargo waits for its lock if
#                           another build uses the directory)
#   FORMATS                 formats to measure, one run each (default
#                           "aws-vpc-flow-logs raw"; raw = delivery without normalization)
#   CONCURRENCY             the source's `concurrency` (default 4; one object uses one)
#   KEEP_OUTPUT=1           keep the NDJSON outputs (~0.8 GB per million normalized
#                           events) in bench/out/s3-collector/; deleted when verified otherwise
#
# Per format: a fresh queue, `/usr/bin/time -v intake run --config …`, one S3
# `ObjectCreated:Put` notification; the output file is polled (every 20 ms, only new
# bytes read) until it holds LINES lines and the queue is empty (visible + not
# visible = 0); then SIGTERM. Reported: seconds from sending the notification to the
# last event written, events/s, MB/s of uncompressed object text, peak RSS (GNU
# time), RSS at 0/25/50/75/100% progress, the load average at start and end, and the
# checks (LINES JSON lines, no header, no dead letters, source.ip of lines 1, N/2, N
# against the input's srcaddr). Measurements only: a slow figure fails nothing, a
# wrong output does (exit 1).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
lines="${1:-1000000}"
formats="${FORMATS:-aws-vpc-flow-logs raw}"
concurrency="${CONCURRENCY:-4}"
out="$here/out"
work="$out/s3-collector"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target-bench}"
header="version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"

case "$lines" in '' | *[!0-9]*) echo "s3_collector.sh: LINES must be a number, not '$lines'" >&2; exit 2 ;; esac
mkdir -p "$work"

moto_pid=""
run_pid=""
cleanup() {
    local rc=$?
    # The Python driver stops its intake on SIGTERM (finally block) before moto goes.
    if [ -n "$run_pid" ] && kill -0 "$run_pid" 2>/dev/null; then
        kill "$run_pid" 2>/dev/null || true
        wait "$run_pid" 2>/dev/null || true
    fi
    if [ -n "$moto_pid" ] && kill -0 "$moto_pid" 2>/dev/null; then
        kill "$moto_pid" 2>/dev/null || true
        wait "$moto_pid" 2>/dev/null || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools
if [ ! -x /usr/bin/time ]; then
    echo "== GNU time is missing; installing it (apt-get install time)" >&2
    apt-get update -qq && apt-get install -y -qq time >/dev/null
fi
if ! command -v moto_server >/dev/null || ! python3 -c 'import boto3' 2>/dev/null; then
    echo "== installing moto[server] and boto3" >&2
    python3 -m pip install -q 'moto[server]' boto3
fi

# --- binary
if [ -n "${INTAKE:-}" ]; then
    bin="$INTAKE"
else
    echo "== building intake (profile dist, target dir $CARGO_TARGET_DIR)" >&2
    (cd "$repo" && cargo build --quiet --profile dist -p intake-cli)
    bin="$CARGO_TARGET_DIR/dist/intake"
fi
[ -x "$bin" ] || { echo "s3_collector.sh: no binary at $bin" >&2; exit 1; }

# --- object: the same cached lines as bench/run.sh, with the v2 header, gzipped
gen="$here/gen_vpc_lines.py"
[ -f "$gen" ] || gen=/work/shared/bench/gen_vpc_lines.py
plain="$out/gen_vpc_lines-$lines.log"
if [ ! -s "$plain" ]; then
    echo "== generating $lines VPC flow-log lines" >&2
    python3 "$gen" "$lines" "$plain.tmp"
    mv "$plain.tmp" "$plain"
fi
object="$out/s3-vpc-v2-$lines.log.gz"
if [ ! -s "$object" ] || [ "$object" -ot "$plain" ]; then
    echo "== gzipping $(basename "$object")" >&2
    { echo "$header"; cat "$plain"; } | gzip -6 >"$object.tmp"
    mv "$object.tmp" "$object"
fi

# --- moto
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
endpoint="http://127.0.0.1:$port"
moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 1 200); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('$endpoint/moto-api/', timeout=1)" 2>/dev/null; then
        break
    fi
    kill -0 "$moto_pid" 2>/dev/null || { echo "s3_collector.sh: moto_server died:" >&2; cat "$work/moto.log" >&2; exit 1; }
    sleep 0.1
done
echo "== moto_server on $endpoint (pid $moto_pid); intake $bin" >&2

# --- runs
status=0
results=()
for fmt in $formats; do
    echo "== run: format $fmt, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    res="$work/result-$fmt.txt"
    keep=()
    [ -n "${KEEP_OUTPUT:-}" ] && keep=(--keep-output)
    # In the background + wait, so that INT/TERM reach the traps at once.
    python3 "$here/s3_collector.py" --endpoint "$endpoint" --intake "$bin" \
        --object "$object" --plain "$plain" --lines "$lines" --format "$fmt" \
        --workdir "$work" --concurrency "$concurrency" "${keep[@]}" >"$res" &
    run_pid=$!
    if ! wait "$run_pid"; then
        status=1
    fi
    run_pid=""
    results+=("$res")
done

# --- report
get() { sed -n "s/^$2=//p" "$1"; }
echo
echo "S3/SQS collector, one object of $lines VPC flow-log lines ($(get "${results[0]}" object_mb) MB text, $(get "${results[0]}" object_mb_gz) MB gzip), moto_server, $(nproc) cores"
printf '%-18s %9s %8s %10s %7s %9s %9s %-26s %-17s %-17s %s\n' \
    format events seconds events/s MB/s 'peak RSS' 'idle RSS' 'RSS by progress (MiB)' 'load start' 'load end' verified
for res in "${results[@]}"; do
    printf '%-18s %9s %8s %10s %7s %8sM %8sM %-26s %-17s %-17s %s\n' \
        "$(get "$res" format)" "$(get "$res" events)" "$(get "$res" seconds)" \
        "$(get "$res" events_per_s)" "$(get "$res" mb_per_s)" "$(get "$res" peak_rss_mib)" \
        "$(get "$res" idle_rss_mib)" "$(get "$res" rss_by_progress_mib)" \
        "$(get "$res" load_start)" "$(get "$res" load_end)" "$(get "$res" verified)"
done
echo
for res in "${results[@]}"; do
    echo "-- $(get "$res" format): first event after $(get "$res" first_event_after) s, queue empty after $(get "$res" queue_empty_after) s;" \
        "CPU user $(get "$res" cpu_user_s) s, sys $(get "$res" cpu_sys_s) s ($(get "$res" cpu_percent));" \
        "metrics in/out/dead $(get "$res" m_events_in)/$(get "$res" m_events_out)/$(get "$res" m_dead)," \
        "s3 bytes $(get "$res" m_s3_bytes), sqs received/deleted/retained $(get "$res" m_sqs_received)/$(get "$res" m_sqs_deleted)/$(get "$res" m_sqs_retained);" \
        "exit $(get "$res" exit_status); spot: $(get "$res" spot_check)"
done
exit "$status"
