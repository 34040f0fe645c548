#!/usr/bin/env python3
"""One measured run of `intake run` with the aws_s3_sqs source against moto_server.

Driven by bench/s3_collector.sh (which builds intake, generates the object and
starts/stops moto); can be run alone against any running moto_server:

  s3_collector.py --endpoint http://127.0.0.1:PORT --intake BIN --object FILE.gz \
      --plain FILE --lines N --format aws-vpc-flow-logs --workdir DIR

Steps: create a bucket and a queue (one queue per run), upload the object (once per
bucket), write the intake config, start `/usr/bin/time -v intake run`, wait until
it polls, send one S3 `ObjectCreated:Put` notification, then poll the output file
(new bytes only: newlines counted incrementally, with timestamps) until it holds
N lines and the queue is empty, SIGTERM intake, and verify the output.

Prints `key=value` lines on stdout (the shell script turns them into a table);
progress and problems go to stderr. Exit status 1 if the output is wrong.
"""
import argparse
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import boto3
from botocore.config import Config as BotoConfig

REGION = "us-east-1"
BUCKET = "intake-bench-flowlogs"
KEY_ID = "testing"
SECRET = "testing"
HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol "
    "packets bytes start end action log-status"
)


def log(msg):
    print(f"[s3_collector {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loadavg():
    return "%.2f %.2f %.2f" % os.getloadavg()


def child_pid(pid):
    """The intake process under /usr/bin/time."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None
    except OSError:
        return None


def proc_mem_kib(pid):
    """(VmRSS, VmHWM) in KiB, or (None, None)."""
    rss = hwm = None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def scrape(addr):
    """Prometheus text → {name{labels}: value} (only intake_* samples)."""
    try:
        with urllib.request.urlopen(f"http://{addr}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        if line.startswith("intake_"):
            k, _, v = line.rpartition(" ")
            try:
                out[k] = float(v)
            except ValueError:
                pass
    return out


def metric(m, prefix):
    """Sum of the samples whose name{labels} starts with prefix."""
    if not m:
        return None
    vals = [v for k, v in m.items() if k == prefix or k.startswith(prefix + "{")]
    return int(sum(vals)) if vals else 0


def queue_depth(sqs, url):
    a = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def notification(key, size, etag):
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": "BENCH", "x-amz-id-2": "BENCH"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "flowlogs",
                    "bucket": {
                        "name": BUCKET,
                        "ownerIdentity": {"principalId": "EXAMPLE"},
                        "arn": f"arn:aws:s3:::{BUCKET}",
                    },
                    "object": {"key": key, "size": size, "eTag": etag, "sequencer": "0055AED6DCD90281E5"},
                },
            }
        ]
    }


class Counter:
    """Counts the newlines of a growing file, reading only what was added."""

    def __init__(self, path):
        self.path = path
        self.f = None
        self.lines = 0
        self.bytes = 0

    def poll(self):
        if self.f is None:
            try:
                self.f = open(self.path, "rb")
            except FileNotFoundError:
                return self.lines
        while True:
            b = self.f.read(8 << 20)
            if not b:
                break
            self.bytes += len(b)
            self.lines += b.count(b"\n")
        return self.lines

    def close(self):
        if self.f:
            self.f.close()


def sample_lines(plain, wanted):
    """{line number (1-based, data lines): text} for the wanted numbers."""
    wanted = set(wanted)
    found = {}
    with open(plain, "rb") as f:
        for i, line in enumerate(f, 1):
            if i in wanted:
                found[i] = line.decode().rstrip("\n")
                if len(found) == len(wanted):
                    break
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--intake", required=True)
    ap.add_argument("--object", required=True, help="gzipped object (header + lines)")
    ap.add_argument("--plain", required=True, help="the generated lines, without header (for spot checks)")
    ap.add_argument("--lines", type=int, required=True)
    ap.add_argument("--format", default="aws-vpc-flow-logs")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--poll", type=float, default=0.02, help="seconds between polls")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--keep-output", action="store_true")
    args = ap.parse_args()
    # SIGTERM (from the shell script's trap) unwinds through the finally that stops intake.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    os.makedirs(args.workdir, exist_ok=True)
    tag = args.format.replace("-", "_")
    out_path = os.path.join(args.workdir, f"out-{tag}.ndjson")
    dead_path = os.path.join(args.workdir, f"dead-{tag}.ndjson")
    cfg_path = os.path.join(args.workdir, f"intake-{tag}.toml")
    log_path = os.path.join(args.workdir, f"intake-{tag}.log")
    time_path = os.path.join(args.workdir, f"time-{tag}.txt")
    for p in (out_path, dead_path, time_path):
        if os.path.exists(p):
            os.remove(p)  # the file sink appends to an existing file

    session = boto3.session.Session(aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET, region_name=REGION)
    bc = BotoConfig(retries={"max_attempts": 3}, s3={"addressing_style": "path"})
    s3 = session.client("s3", endpoint_url=args.endpoint, config=bc)
    sqs = session.client("sqs", endpoint_url=args.endpoint, config=bc)

    # Bucket and object (uploaded once per moto instance).
    key = f"AWSLogs/123456789012/vpcflowlogs/{REGION}/2024/05/01/123456789012_vpcflowlogs_{REGION}_fl-bench_20240501T0000Z_{args.lines}.log.gz"
    obj_size = os.path.getsize(args.object)
    try:
        head = s3.head_object(Bucket=BUCKET, Key=key)
    except Exception:
        head = None
    if head is None or head["ContentLength"] != obj_size:
        try:
            s3.create_bucket(Bucket=BUCKET)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        log(f"uploading {obj_size / 1e6:.1f} MB object s3://{BUCKET}/{key}")
        s3.upload_file(args.object, BUCKET, key)
        head = s3.head_object(Bucket=BUCKET, Key=key)
    etag = head["ETag"].strip('"')

    queue = f"flowlogs-{tag}-{int(time.time())}"
    qurl = sqs.create_queue(QueueName=queue, Attributes={"VisibilityTimeout": "300"})["QueueUrl"]

    metrics_addr = f"127.0.0.1:{free_port()}"
    with open(cfg_path, "w") as f:
        f.write(
            f"""# generated by bench/s3_collector.py
shutdown_timeout_secs = 30

[metrics]
address = "{metrics_addr}"

[sources.flows]
type = "aws_s3_sqs"
queue_url = "{qurl}"
region = "{REGION}"
endpoint_url = "{args.endpoint}"
access_key_id = "{KEY_ID}"
secret_access_key = "{SECRET}"
format = "{args.format}"
dead_letter = "rejects"
wait_time_secs = 1
concurrency = {args.concurrency}
visibility_timeout_secs = 300

[sinks.out]
type = "file"
inputs = ["flows"]
path = "{out_path}"

[sinks.rejects]
type = "file"
path = "{dead_path}"
"""
        )

    load_start = loadavg()
    logf = open(log_path, "wb")
    env = dict(os.environ)
    env.setdefault("RUST_LOG", "info")
    proc = subprocess.Popen(
        ["/usr/bin/time", "-v", "-o", time_path, args.intake, "run", "--config", cfg_path],
        stdout=logf,
        stderr=subprocess.STDOUT,
        env=env,
    )
    ok = True
    res = {"format": args.format, "load_start": load_start}
    counter = Counter(out_path)
    ipid = None
    measured = False  # False: interrupted or failed; intake then gets 5 s, not 60
    try:
        # Ready = the metrics endpoint answers (the source then polls within ~1 s).
        deadline = time.monotonic() + 60
        while scrape(metrics_addr) is None:
            if proc.poll() is not None:
                raise SystemExit(f"intake exited early ({proc.returncode}); see {log_path}")
            if time.monotonic() > deadline:
                raise SystemExit(f"intake metrics endpoint not up after 60 s; see {log_path}")
            time.sleep(0.05)
        ipid = child_pid(proc.pid)
        time.sleep(1.5)  # let the first ReceiveMessage long poll start
        rss_idle, _ = proc_mem_kib(ipid) if ipid else (None, None)

        body = json.dumps(notification(key, obj_size, etag))
        t0 = time.monotonic()
        sqs.send_message(QueueUrl=qurl, MessageBody=body)
        log(f"notification sent ({args.format}); polling {out_path}")

        t_first = t_last = t_empty = None
        rss_at = {}  # progress quarter → VmRSS KiB
        next_mem = time.monotonic()
        last_report = t0
        while True:
            now = time.monotonic()
            n = counter.poll()
            if n and t_first is None:
                t_first = now
            if ipid and now >= next_mem:
                rss, _ = proc_mem_kib(ipid)
                if rss:
                    q = min(4, n * 4 // args.lines)
                    rss_at[q] = max(rss_at.get(q, 0), rss)
                next_mem = now + 0.25
            if n >= args.lines and t_last is None:
                t_last = now
            if t_last is not None:
                vis, invis = queue_depth(sqs, qurl)
                if vis + invis == 0:
                    t_empty = time.monotonic()
                    break
            if proc.poll() is not None:
                ok = False
                log(f"intake exited ({proc.returncode}) before the end; see {log_path}")
                break
            if now - t0 > args.timeout:
                ok = False
                log(f"timeout after {args.timeout:.0f} s at {n} lines; see {log_path}")
                break
            if now - last_report > 10:
                log(f"{n} lines after {now - t0:.1f} s")
                last_report = now
            time.sleep(args.poll if t_last is None else 0.1)

        m = scrape(metrics_addr)
        load_end = loadavg()
        measured = True
    finally:
        # SIGTERM goes to intake itself: GNU time does not forward signals.
        target = ipid or proc.pid
        if proc.poll() is None:
            try:
                os.kill(target, signal.SIGTERM)
            except ProcessLookupError:
                pass
        grace = 60 if measured else 5
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            log(f"intake did not stop within {grace} s of SIGTERM; killing it")
            if ipid:
                os.kill(ipid, signal.SIGKILL)
            proc.wait()
        logf.close()

    # GNU time
    tv = {}
    time_text = open(time_path).read() if os.path.exists(time_path) else ""
    for line in time_text.splitlines():
        k, _, v = line.strip().rpartition(": ")
        tv[k] = v
    peak_kib = int(tv.get("Maximum resident set size (kbytes)", "0"))
    exit_status = tv.get("Exit status", "?")
    if "Command terminated by signal" in time_text:
        exit_status = "killed by a signal"

    # Verification (after intake stopped: the file is complete).
    final_lines = counter.poll()
    out_bytes = counter.bytes
    counter.close()
    problems = []
    if final_lines != args.lines:
        problems.append(f"output has {final_lines} lines, expected {args.lines}")
    header_hits = 0
    bad_json = 0
    spot_numbers = [1, args.lines // 2, args.lines]
    spots = {}
    with open(out_path, "rb") as f:
        for i, line in enumerate(f, 1):
            if b'"version account-id' in line or b"version account-id" in line:
                header_hits += 1
            try:
                v = json.loads(line)
            except ValueError:
                bad_json += 1
                continue
            if i in spot_numbers:
                spots[i] = v
    if header_hits:
        problems.append(f"the header line appears {header_hits} times in the output")
    if bad_json:
        problems.append(f"{bad_json} output lines are not JSON")
    dead_lines = 0
    if os.path.exists(dead_path):
        with open(dead_path, "rb") as f:
            dead_lines = sum(1 for _ in f)
    if dead_lines:
        problems.append(f"{dead_lines} dead-letter records in {dead_path}")

    src = sample_lines(args.plain, spot_numbers)
    spot_desc = []
    for i in spot_numbers:
        fields = src.get(i, "").split(" ")
        ev = spots.get(i)
        if ev is None or len(fields) < 4:
            problems.append(f"spot check: no output or input line {i}")
            continue
        if args.format == "raw":
            good = ev.get("message") == src[i]
            spot_desc.append(f"line {i}: message {'==' if good else '!='} input line")
        else:
            got = (ev.get("source") or {}).get("ip")
            good = got == fields[3]
            spot_desc.append(f"line {i}: source.ip={got} srcaddr={fields[3]}")
        if not good:
            problems.append(f"spot check failed at line {i} (output order differs, or wrong value): {spot_desc[-1]}")

    events = final_lines
    secs = (t_last - t0) if t_last else None
    uncompressed = os.path.getsize(args.plain) + len(HEADER) + 1
    res.update(
        events=events,
        seconds=f"{secs:.2f}" if secs else "n/a",
        first_event_after=f"{t_first - t0:.2f}" if t_first else "n/a",
        queue_empty_after=f"{t_empty - t0:.2f}" if t_empty else "n/a",
        events_per_s=f"{args.lines / secs:.0f}" if secs else "n/a",
        mb_per_s=f"{uncompressed / 1e6 / secs:.1f}" if secs else "n/a",
        object_mb_gz=f"{obj_size / 1e6:.1f}",
        object_mb=f"{uncompressed / 1e6:.1f}",
        output_mb=f"{out_bytes / 1e6:.1f}",
        peak_rss_mib=f"{peak_kib / 1024:.1f}",
        idle_rss_mib=f"{rss_idle / 1024:.1f}" if rss_idle else "n/a",
        rss_by_progress_mib=" ".join(f"{q * 25}%:{rss_at[q] / 1024:.0f}" for q in sorted(rss_at)),
        cpu_user_s=tv.get("User time (seconds)", "?"),
        cpu_sys_s=tv.get("System time (seconds)", "?"),
        cpu_percent=tv.get("Percent of CPU this job got", "?"),
        exit_status=exit_status,
        m_events_in=metric(m, "intake_events_in_total"),
        m_events_out=metric(m, "intake_events_out_total"),
        m_dead=metric(m, "intake_events_dead_lettered_total"),
        m_s3_bytes=metric(m, "intake_s3_bytes_total"),
        m_sqs_received=metric(m, "intake_sqs_messages_received_total"),
        m_sqs_deleted=metric(m, "intake_sqs_messages_deleted_total"),
        m_sqs_retained=metric(m, "intake_sqs_messages_retained_total"),
        header_in_output=header_hits,
        dead_letter_records=dead_lines,
        spot_check="; ".join(spot_desc),
        load_end=load_end,
        verified="ok" if not problems else "FAILED",
        log=log_path,
    )
    for k, v in res.items():
        print(f"{k}={v}")
    for p in problems:
        log("PROBLEM: " + p)
    if not args.keep_output and not problems:
        os.remove(out_path)
    return 0 if not problems and ok else 1


if __name__ == "__main__":
    sys.exit(main())
