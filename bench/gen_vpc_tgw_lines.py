#!/usr/bin/env python3
"""Generate an AWS Transit Gateway flow log object: its header line, then COUNT
records in the 36-field default Transit Gateway layout, one per line.

Usage: gen_vpc_tgw_lines.py COUNT OUTPUT_PATH [--seed N]

About 2% of records are NODATA windows (counts and addresses '-'); some flows
lose packets (no route, blackhole, MTU, TTL), as the packets-lost-* fields say.
Deterministic: same seed + count -> byte-identical output.
"""
import random
import sys

FIELDS = (
    "version resource-type account-id tgw-id tgw-attachment-id tgw-src-vpc-account-id "
    "tgw-dst-vpc-account-id tgw-src-vpc-id tgw-dst-vpc-id tgw-src-subnet-id tgw-dst-subnet-id "
    "tgw-src-eni tgw-dst-eni tgw-src-az-id tgw-dst-az-id tgw-pair-attachment-id srcaddr dstaddr "
    "srcport dstport protocol packets bytes start end log-status type packets-lost-no-route "
    "packets-lost-blackhole packets-lost-mtu-exceeded packets-lost-ttl-expired tcp-flags region "
    "flow-direction pkt-src-aws-service pkt-dst-aws-service"
)


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    count = int(sys.argv[1])
    out_path = sys.argv[2]
    seed = 7
    if len(sys.argv) >= 5 and sys.argv[3] == "--seed":
        seed = int(sys.argv[4])
    rng = random.Random(seed)
    r = rng.random
    ri = rng.randint

    def hexid(prefix, bits=68):
        return "%s-%017x" % (prefix, rng.getrandbits(bits))

    accounts = ["310987654321", "420987654321", "530987654321"]
    tgws = [hexid("tgw") for _ in range(2)]
    # One attachment per VPC: (account, vpc, subnet, eni, az).
    azs = ["eun1-az1", "eun1-az2", "eun1-az3"]
    vpcs = [
        (accounts[i % 3], hexid("vpc"), hexid("subnet"), hexid("eni"), azs[i % 3], hexid("tgw-attach"))
        for i in range(12)
    ]
    protos = [6] * 75 + [17] * 22 + [1] * 3
    well_known = [22, 53, 80, 443, 3306, 5432, 6379, 8080, 8443, 9092]
    services = ["-"] * 9 + ["S3", "DYNAMODB", "EC2"]

    def addr(net):
        return "10.%d.%d.%d" % (net, ri(0, 255), ri(1, 254))

    base_ts = 1765000000
    buf = [FIELDS]
    with open(out_path, "w", encoding="ascii", newline="\n") as f:
        for i in range(count):
            tgw = tgws[i & 1]
            a = ri(0, len(vpcs) - 1)
            b = (a + ri(1, len(vpcs) - 1)) % len(vpcs)
            src, dst = vpcs[a], vpcs[b]
            start = base_ts + ri(0, 86400 * 7)
            end = start + 60
            head = "6 TransitGateway %s %s %s %s %s %s %s %s %s %s %s %s %s %s" % (
                src[0], tgw, src[5], src[0], dst[0], src[1], dst[1], src[2], dst[2],
                src[3], dst[3], src[4], dst[4], dst[5],
            )
            if r() < 0.02:
                buf.append(
                    "%s - - - - - - - %d %d NODATA - - - - - - eu-north-1 - - -" % (head, start, end)
                )
            else:
                proto = protos[ri(0, len(protos) - 1)]
                if proto in (6, 17):
                    sport, dport = ri(1024, 65535), well_known[ri(0, 9)]
                else:
                    sport, dport = 0, 0
                packets = ri(1, 4000)
                nbytes = packets * ri(40, 1500)
                lost = [0, 0, 0, 0]
                if r() < 0.05:
                    lost[ri(0, 3)] = ri(1, 50)
                flags = ri(0, 63) if proto == 6 else 0
                buf.append(
                    "%s %s %s %d %d %d %d %d %d %d OK IPv4 %d %d %d %d %d eu-north-1 %s %s %s"
                    % (
                        head, addr(a), addr(b), sport, dport, proto, packets, nbytes, start, end,
                        lost[0], lost[1], lost[2], lost[3], flags,
                        "ingress" if r() < 0.5 else "egress",
                        services[ri(0, len(services) - 1)],
                        services[ri(0, len(services) - 1)],
                    )
                )
            if len(buf) >= 10000:
                f.write("\n".join(buf))
                f.write("\n")
                buf.clear()
        if buf:
            f.write("\n".join(buf))
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
