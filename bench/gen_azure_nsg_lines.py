#!/usr/bin/env python3
"""Write Azure NSG flow log records, one JSON object per line (one flow tuple each).

Usage: gen_azure_nsg_lines.py COUNT OUTPUT_PATH [--seed N]

Each record carries resourceId, macAddress, operationName, rule, time, flow_state,
version and a `flow.0` tuple:
  version 1 (~25%): time,src,dst,sport,dport,proto(T/U),direction(I/O),decision(A/D)
  version 2 (~75%): the same, then state(B/C/E/D),packets out,bytes out,packets in,
                    bytes in (the counters are empty on begin tuples)
About 5% of records also carry a `source_addr` key. The key order varies, as it
does in real exports.
Deterministic: the same seed and count give byte-identical output.
"""
import json
import random
import sys

CHUNK = 8192


def parse_args(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    seed = 7
    if len(argv) >= 5 and argv[3] == "--seed":
        seed = int(argv[4])
    return int(argv[1]), argv[2], seed


def main() -> int:
    count, out_path, seed = parse_args(sys.argv)
    rng = random.Random(seed)
    rnd, rint, pick = rng.random, rng.randint, rng.choice

    subs = ["%08X-%04X-%04X-%04X-%012X" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16),
                                           rng.getrandbits(16), rng.getrandbits(48)) for _ in range(3)]
    groups = ["PROD", "INTEGRATION", "SHARED-SERVICES", "DMZ"]
    nsgs = ["/SUBSCRIPTIONS/%s/RESOURCEGROUPS/%s/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/%s-NSG-%d"
            % (pick(subs), g, g[:4], i) for g in groups for i in range(3)]
    macs = ["%012X" % rng.getrandbits(48) for _ in range(40)]
    rules = ["DefaultRule_AllowVnetOutBound", "DefaultRule_AllowInternetOutBound", "DefaultRule_DenyAllInBound",
             "UserRule_AllowHttpsIn", "UserRule_AllowSshFromBastion", "UserRule_DenyTelnet"]
    ports = [22, 23, 53, 80, 443, 1433, 3389, 5986, 8080, 8086]
    t0 = 1607984156

    def ip():
        if rnd() < 0.6:
            return "10.%d.%d.%d" % (rint(0, 31), rint(0, 255), rint(1, 254))
        return "%d.%d.%d.%d" % (rint(3, 223), rint(0, 255), rint(0, 255), rint(1, 254))

    def iso(epoch, frac):
        # 2020-12-14T22:16:46.3528160Z (seven fraction digits, as Azure writes them)
        days, rem = divmod(epoch, 86400)
        y, m, d = civil(days)
        return "%04d-%02d-%02dT%02d:%02d:%02d.%07dZ" % (y, m, d, rem // 3600, rem // 60 % 60, rem % 60, frac)

    out = []
    with open(out_path, "w", encoding="ascii", newline="\n") as f:
        for _ in range(count):
            t = t0 + rint(0, 30 * 86400)
            version = 1 if rnd() < 0.25 else 2
            src, dst = ip(), ip()
            sport, dport = rint(1024, 65535), pick(ports)
            proto = "T" if rnd() < 0.8 else "U"
            direction = pick("IO")
            decision = "A" if rnd() < 0.85 else "D"
            tup = [str(t), src, dst, str(sport), str(dport), proto, direction, decision]
            if version == 2:
                state = "D" if decision == "D" else pick("BCE")
                if state == "B":
                    tup += ["B", "", "", "", ""]
                else:
                    po, pi = rint(1, 500), rint(0, 500)
                    tup += [state, str(po), str(po * rint(40, 1400)), str(pi), str(pi * rint(40, 1400))]
            flow_state = {"B": "begin", "C": "continue", "E": "end", "D": "deny"}.get(
                tup[8] if version == 2 else pick("BE"), "begin")
            rec = [
                ("flow_state", flow_state),
                ("resourceId", pick(nsgs)),
                ("macAddress", pick(macs)),
                ("flow.0", ",".join(tup)),
                ("rule", pick(rules)),
                ("operationName", "NetworkSecurityGroupFlowEvents"),
                ("time", iso(t + rint(0, 60), rint(0, 9999999))),
                ("version", str(version)),
            ]
            if rnd() < 0.05:
                rec.insert(1, ("source_addr", ip()))
            if rnd() < 0.3:
                rng.shuffle(rec)
            out.append(json.dumps(dict(rec), separators=(",", ":") if rnd() < 0.5 else (", ", ": ")))
            if len(out) >= CHUNK:
                f.write("\n".join(out) + "\n")
                out.clear()
        if out:
            f.write("\n".join(out) + "\n")
    return 0


def civil(days):
    """Days since 1970-01-01 to (year, month, day), proleptic Gregorian."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if m <= 2 else 0), m, d


if __name__ == "__main__":
    sys.exit(main())
