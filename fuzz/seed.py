#!/usr/bin/env python3
"""Fill fuzz/corpus/<target>/ with seed inputs taken from the repository: the
templates and grok patterns of the built-in formats, their test cases' messages, and a
few lines of each bench generator (all of these lines for `differential`).
Deterministic. Usage: fuzz/seed.py"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def gen_lines(script, n=24):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "x")
        subprocess.run([sys.executable, os.path.join(REPO, "bench", script), str(n), out, "--seed", "3"], check=True)
        with open(out, encoding="utf-8") as f:
            return f.read().splitlines()


def main():
    messages = {}
    for case in sorted(glob.glob(os.path.join(REPO, "formats", "*", "tests", "*.json"))):
        slug = case.split(os.sep)[-3]
        with open(case, encoding="utf-8") as f:
            msg = json.load(f)["input"].get("message")
        if isinstance(msg, str):
            messages.setdefault(slug, []).append(msg)
    generated = {
        "aws-vpc-flow-logs": gen_lines("gen_vpc_lines.py") + gen_lines("gen_vpc_v5_lines.py"),
        "aws-vpcflow-elastic": gen_lines("gen_vpc_lines.py", 8) + gen_lines("gen_vpc_v5_lines.py", 8),
        "azure-nsg-flow-logs": gen_lines("gen_azure_nsg_lines.py"),
        "pulse-connect-secure": gen_lines("gen_pulse_lines.py"),
    }
    for slug in generated:
        target = "format_" + slug.replace("-", "_")
        for i, m in enumerate(messages.get(slug, []) + generated[slug]):
            put(target, "%03d" % i, m)

    # differential: every line above goes through every planned format.
    n = 0
    for slug in sorted(set(messages) | set(generated)):
        for m in messages.get(slug, []) + generated.get(slug, []):
            put("differential", "%03d" % n, m)
            n += 1

    # Templates: every {{ }} / {% %} of the built-in formats.
    n = 0
    for parser in sorted(glob.glob(os.path.join(REPO, "formats", "*", "ingest", "parser.yml"))):
        with open(parser, encoding="utf-8") as f:
            text = f.read()
        for t in sorted(set(re.findall(r"\{\{.*?\}\}|\{%.*?%\}", text))):
            put("template", "%03d" % n, t)
            n += 1
    for t in ["a {{ flow.record.srcaddr }} b", "{% if original.message %}x{% else %}y{% endif %}",
              "{% for x in flow.record.tags %}{{ x }},{% endfor %}", "{{ [1, 2.5, 'x', none] | join('-') }}",
              "{{ '%s-%d' % ('a', 3) }}", "{{ {'k': [1, {'n': true}]} }}", "[1, 'two', (3,)]"]:
        put("template", "%03d" % n, t)
        n += 1

    # kv: selector byte 0 = item_sep \s, value_sep '='; and explicit separators.
    pulse = generated["pulse-connect-secure"]
    for i, m in enumerate(pulse[:8]):
        put("kv", "%02d" % i, b"\0" + m.encode())
    put("kv", "sep1", b",\0:\0a:1,b:2,c:three")
    put("kv", "sep2", "\\s*;\\s*\0=\0k=v ; k2 = \"v 2\";k3=".encode())

    # grok: pattern NUL input, from the pulse format's patterns and messages.
    with open(os.path.join(REPO, "formats", "pulse-connect-secure", "ingest", "parser.yml"), encoding="utf-8") as f:
        pats = re.findall(r"^\s+([A-Z]{3}\d{5}): \"(.*)\"$", f.read(), re.M)
    msgs = [re.search(r'msg="(.*)"', m).group(1) for m in pulse if 'msg="' in m]
    for code, pat in pats:
        pat = pat.replace("\\\\", "\\")
        body = next((m for m in msgs if m.startswith(code)), code + ": x")
        put("grok", code, pat + "\0" + body)
    put("grok", "syslog", "%{SYSLOGTIMESTAMP:ts} %{HOSTNAME:host} %{DATA:prog}(?:\\[%{POSINT:pid}\\])?: %{GREEDYDATA:msg}"
        "\0Feb 20 12:00:01 web-1 sshd[42]: Accepted password for bob")
    put("grok", "conv", "%{INT:n:int} %{NUMBER:f:float} %{IP:ip}\0-42 3.5e2 2001:db8::1")

    # dsv: delimiter selector, column count, record.
    for i, m in enumerate(generated["aws-vpc-flow-logs"][:4]):
        put("dsv", "vpc%d" % i, bytes([1, 29]) + m.encode())
    put("dsv", "azure", bytes([0, 13]) + b"1493763938,1.2.3.4,5.6.7.8,35370,23,T,I,A,B,,,,")
    put("dsv", "quoted", bytes([0, 4]) + b'a,"b,c","d ""e""" f,,')

    # date: mode byte, then the value (or zone/format NUL value).
    for i, v in enumerate(["1599665193", "1599665193.123", "1599665193123", "2021-01-28 13:46:08",
                           "2020-12-14T22:16:46.3528160Z", "Feb 20 12:00:01", "Mon, 02 Jan 2006 15:04:05 -0700",
                           "2021-03-24T10:55:03+02:00", "28/Jan/2021:13:46:08 +0100", "20210128T134608Z"]):
        put("date", "auto%02d" % i, b"\0" + v.encode())
    put("date", "int", b"\1" + (1599665193).to_bytes(8, "little"))
    put("date", "epoch", b"\2" + b" 1599665193 ")
    put("date", "zone", b"\3Europe/Paris\0" + b"2021-01-28 13:46:08")
    put("date", "fmt1", b"\4%Y-%m-%d %H:%M:%S\0" + b"2021-01-28 13:46:08")
    put("date", "fmt2", b"\5%d/%b/%Y:%H:%M:%S %z\0" + b"28/Jan/2021:13:46:08 +0100")
    put("date", "fmt3", b"\4%b %d %H:%M:%S.%f\0" + b"Feb 20 12:00:01.250")
    return 0


if __name__ == "__main__":
    sys.exit(main())
