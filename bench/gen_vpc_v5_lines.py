#!/usr/bin/env python3
"""Write raw AWS VPC Flow Log records in the 29-field version 5 text layout, one per line.

Usage: gen_vpc_v5_lines.py COUNT OUTPUT_PATH [--seed N]

Columns (space-separated, '-' when a value does not apply):
  version account_id interface_id srcaddr dstaddr srcport dstport protocol packets
  bytes start end action log_status vpc_id subnet_id instance_id tcp_flags type
  pkt_srcaddr pkt_dstaddr region az_id sublocation_type sublocation_id
  pkt_src_aws_service pkt_dst_aws_service flow_direction traffic_path

Mix: ~2% NODATA, ~1% SKIPDATA, ~10% IPv6 traffic, ~15% REJECT, some traffic to
AWS services (pkt_*_aws_service set), some Wavelength/Outposts sublocations.
Deterministic: the same seed and count give byte-identical output.
"""
import random
import sys

CHUNK = 8192


def parse_args(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    seed = 5
    if len(argv) >= 5 and argv[3] == "--seed":
        seed = int(argv[4])
    return int(argv[1]), argv[2], seed


def build(rng):
    """Pools of identifiers drawn once, so that records share accounts, ENIs, VPCs."""
    hexid = lambda n: "%0*x" % (n, rng.getrandbits(4 * n))
    regions = [("eu-west-1", "euw1-az"), ("us-east-1", "use1-az"), ("ap-southeast-2", "apse2-az")]
    pools = {
        "accounts": ["%012d" % rng.randrange(10**11, 10**12) for _ in range(6)],
        "vpcs": ["vpc-" + hexid(17) for _ in range(8)],
        "subnets": ["subnet-" + hexid(17) for _ in range(24)],
        "instances": ["i-" + hexid(17) for _ in range(48)],
        "enis": ["eni-" + hexid(17) for _ in range(96)],
        "regions": regions,
    }
    return pools


def main() -> int:
    count, out_path, seed = parse_args(sys.argv)
    rng = random.Random(seed)
    rnd, rint, pick = rng.random, rng.randint, rng.choice
    p = build(rng)
    protos = [6] * 66 + [17] * 26 + [1] * 5 + [58, 47, 50]
    ports = [22, 53, 80, 123, 443, 993, 2049, 3306, 5432, 6379, 8080, 9200]
    services = ["AMAZON", "S3", "EC2", "DYNAMODB", "ROUTE53", "CLOUDFRONT"]
    tcp_flag_values = [0, 1, 2, 3, 18, 19, 4, 20]
    paths = ["1", "2", "3", "4", "5", "6", "7", "8"]
    t0 = 1739865042

    def v4_private():
        return "10.%d.%d.%d" % (rint(0, 15), rint(0, 255), rint(1, 254))

    def v4_public():
        return "%d.%d.%d.%d" % (rint(3, 223), rint(0, 255), rint(0, 255), rint(1, 254))

    def v6():
        return "2001:db8:%x:%x::%x:%x" % (rint(0, 0xFFFF), rint(0, 0xFFFF), rint(1, 0xFFFF), rint(1, 0xFFFF))

    out = []
    with open(out_path, "w", encoding="ascii", newline="\n") as f:
        for _ in range(count):
            account = pick(p["accounts"])
            eni = pick(p["enis"])
            vpc = pick(p["vpcs"])
            subnet = pick(p["subnets"])
            region, az_prefix = pick(p["regions"])
            az = "%s%d" % (az_prefix, rint(1, 3))
            start = t0 + rint(0, 7 * 86400)
            end = start + rint(0, 600)
            roll = rnd()
            if roll < 0.03:
                status = "NODATA" if roll < 0.02 else "SKIPDATA"
                fields = ["5", account, eni] + ["-"] * 7 + [str(start), str(end), "-", status,
                          vpc, subnet, "-", "-", "-", "-", "-", region, az] + ["-"] * 6
                out.append(" ".join(fields))
            else:
                ipv6 = rnd() < 0.10
                local, remote = (v6(), v6()) if ipv6 else (v4_private(), v4_public())
                ingress = rnd() < 0.5
                src, dst = (remote, local) if ingress else (local, remote)
                proto = pick(protos)
                if proto in (6, 17):
                    if rnd() < 0.5:
                        sport, dport = rint(1024, 65535), pick(ports)
                    else:
                        sport, dport = pick(ports), rint(1024, 65535)
                else:
                    sport = dport = 0
                packets = rint(1, 8000)
                nbytes = packets * rint(40, 1500)
                action = "REJECT" if rnd() < 0.15 else "ACCEPT"
                instance = pick(p["instances"]) if rnd() < 0.8 else "-"
                flags = str(pick(tcp_flag_values)) if proto == 6 else "0"
                # packet-level addresses differ from the interface's behind a NAT.
                pkt_src = src if rnd() < 0.9 else v4_private()
                pkt_dst = dst
                sub_type, sub_id = "-", "-"
                if rnd() < 0.02:
                    sub_type = pick(["wavelength", "outpost", "localzone"])
                    sub_id = "%s-%s" % (sub_type[:3], "%08x" % rng.getrandbits(32))
                src_svc = pick(services) if (ingress and rnd() < 0.1) else "-"
                dst_svc = pick(services) if (not ingress and rnd() < 0.1) else "-"
                direction = "ingress" if ingress else "egress"
                path = pick(paths) if not ingress else "-"
                fields = [
                    "5", account, eni, src, dst, str(sport), str(dport), str(proto),
                    str(packets), str(nbytes), str(start), str(end), action, "OK",
                    vpc, subnet, instance, flags, "IPv6" if ipv6 else "IPv4",
                    pkt_src, pkt_dst, region, az, sub_type, sub_id, src_svc, dst_svc,
                    direction, path,
                ]
                out.append(" ".join(fields))
            if len(out) >= CHUNK:
                f.write("\n".join(out) + "\n")
                out.clear()
        if out:
            f.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
