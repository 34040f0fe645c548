#!/usr/bin/env bash
# Runs the test cases of a format catalog (a checkout of SEKOIA-IO/intake-formats, or
# any folder of format folders) and prints the pass count and the failures by cause.
#
# Usage: bench/catalog.sh PATH [extra `intake formats test` options, e.g. --strict]
#
# Environment:
#   INTAKE      the intake binary (default: <repo>/target/debug/intake, built if absent)
#   OUT         where the full report of `intake formats test` is kept
#               (default: a temporary file, deleted at the end)
#
# A failing case is counted once under each cause its differences show (so causes can
# add up to more than the failures), and once under "only cause" when it shows just one.
# Causes are read from the paths of the differing fields; see `cause_of` below.
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 PATH [intake formats test options]" >&2
    exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
intake="${INTAKE:-$repo/target/debug/intake}"
if [ ! -x "$intake" ]; then
    (cd "$repo" && cargo build -p intake-cli)
fi
report="${OUT:-$(mktemp)}"
[ -n "${OUT:-}" ] || trap 'rm -f "$report"' EXIT

# A fixed "now": year-less dates must not depend on the day the script runs.
status=0
"$intake" formats test --lenient --max-diffs 10000 --now 2026-01-01T00:00:00Z "$@" >"$report" || status=$?
if [ "$status" -gt 1 ]; then
    echo "intake formats test failed (exit $status); its output is in $report" >&2
    trap - EXIT
    exit "$status"
fi

python3 - "$report" <<'PY'
import os
import re
import sys
from collections import Counter, defaultdict

def cause_of(path: str) -> str:
    """The cause a differing field points at."""
    path = path.replace(" (direct path to JSON)", "")
    last = path.rsplit(".", 1)[-1]
    if re.sub(r"\[\d+\]", "", last) in ("registered_domain", "top_level_domain", "subdomain"):
        return "domain parts"
    if path.startswith("sekoiaio.intake") or path == "event.id":
        return "harness constants"
    if path.startswith("url."):
        return "url parts"
    if path.startswith("user_agent"):
        return "user agent"
    if path.startswith("related."):
        return "related.*"
    top = re.split(r"[.\[]", path, 1)[0]
    return f"other: {top}"

lines = open(sys.argv[1], encoding="utf-8", errors="replace").read().splitlines()
summary = next((l for l in reversed(lines) if re.match(r"^\d+ passed, \d+ failed$", l)), None)
causes = Counter()
only = Counter()
formats = defaultdict(set)
case, case_causes = None, set()

def close():
    if case is None:
        return
    # A format that does not load fails all its cases at once.
    weight = 1
    if len(case_causes) == 1 and next(iter(case_causes)).startswith("format not loadable"):
        tests = os.path.join(case, "tests")
        weight = max(1, len([f for f in os.listdir(tests) if f.endswith(".json")])) if os.path.isdir(tests) else 1
    for c in case_causes:
        causes[c] += weight
        formats[c].add(case.split("/tests/")[0])
    if len(case_causes) == 1:
        only[next(iter(case_causes))] += weight

for line in lines:
    m = re.match(r"^FAIL (.*?)(: (.*))?$", line)
    if m:
        close()
        case, case_causes = m.group(1), set()
        if m.group(3):
            reason = m.group(3)
            if reason.startswith("rejected"):
                case_causes.add("rejected: " + re.sub(r"\(.*", "", reason[len("rejected: "):]).strip())
            else:
                case_causes.add("format not loadable")
                external = re.search(r'unknown external "([^"]+)"', reason)
                if external:
                    case_causes = {"format not loadable: " + external.group(1)}
        continue
    m = re.match(r"^  (\S.*?): expected ", line)
    if m and case is not None:
        case_causes.add(cause_of(m.group(1)))
close()

print(summary or "no summary line: the run did not finish")
print(f"{'cause':<40} {'cases':>6} {'only cause':>10} {'formats':>8}")
for cause, n in causes.most_common():
    print(f"{cause:<40} {n:>6} {only[cause]:>10} {len(formats[cause]):>8}")
PY
