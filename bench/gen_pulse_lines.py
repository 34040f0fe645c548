#!/usr/bin/env python3
"""Write Pulse Connect Secure / Ivanti WELF syslog events (key=value), one per line.

Usage: gen_pulse_lines.py COUNT OUTPUT_PATH [--seed N]

Two field layouts are mixed, as seen in the samples: the older one (type after
dstname, then op/arg/result/agent/duration) and the newer one (type before proto).
`ivs` is absent, `Root`, or `Default Network` (a value with a space). Message codes:
  AUT24803 AUT24804 (Host Checker passed/failed), AUT23457 (login failed),
  AUT20920 (not authenticated yet), AUT24604 (SSL negotiation failed),
  AUT31556 (unauthenticated request), LIC30499 (leased units),
  SYS20704 (SNMP trap), SYS31231 (executed request), SYS32083 (LMDB stats).
The output is UTF-8 (a few Host Checker reasons are in French).
Deterministic: the same seed and count give byte-identical output.
"""
import random
import sys

CHUNK = 8192


def parse_args(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    seed = 11
    if len(argv) >= 5 and argv[3] == "--seed":
        seed = int(argv[4])
    return int(argv[1]), argv[2], seed


def main() -> int:
    count, out_path, seed = parse_args(sys.argv)
    rng = random.Random(seed)
    rnd, rint, pick = rng.random, rng.randint, rng.choice

    def ip():
        return "%d.%d.%d.%d" % (rint(2, 223), rint(0, 255), rint(0, 255), rint(1, 254))

    def mac():
        return "-".join("%02x" % rint(0, 255) for _ in range(6))

    gateways = [(ip(), "PCS%02d-%s" % (i, pick(["PAR", "LYS", "FRA", "AMS"]))) for i in range(4)]
    people = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
    realms = ["Corp_Users", "Contractors", "Admins", "Example"]
    role_sets = ["Users_Role", "VDI_User_Role", "Users_Role,VDI_User_Role", "Sales", ""]
    policies = ["Corp Host Checker", "Antivirus Check", "Disk Encryption"]
    reasons = [
        "Rule-Antivirus_Check:Antivirus software required by the security policy is not installed.",
        "Rule-Antivirus_Check:Le logiciel antivirus indiqué dans les exigences de sécurité n'est pas installé.",
        "Rule-Firewall_Check:Firewall is disabled.",
    ]
    ssl_reasons = ["sslv3 alert bad certificate", "no shared cipher", "wrong version number", "unknown ca"]
    auth_servers = ["RSA (ACE Server)", "Corp LDAP", "RADIUS-MFA"]
    url_paths = ["/dana/js?prot=1&svc=4", "/dana-na/auth/url_default/welcome.cgi", "/cgi/pal?tm=26&key=%d",
                 "/dana-cached/hc/HostCheckerInstaller.osx", "/"]
    codes = (["AUT24803"] * 14 + ["AUT24804"] * 6 + ["AUT23457"] * 10 + ["AUT20920"] * 12 + ["AUT24604"] * 8
             + ["AUT31556"] * 12 + ["LIC30499"] * 6 + ["SYS20704"] * 4 + ["SYS31231"] * 6 + ["SYS32083"] * 4
             + ["AUT22673"] * 2)  # a code with no detail pattern
    t0 = (2023, 10, 17)

    def message(code, user, client):
        if code == "AUT24803":
            return "AUT24803: Host Checker policy '%s' passed on host '%s' address '%s' for user '%s'." % (
                pick(policies), client, mac(), user)
        if code == "AUT24804":
            return "AUT24804: Host Checker policy '%s' failed on host '%s' address '%s' for user '%s' reason '%s'." % (
                pick(policies), client, mac(), user, pick(reasons))
        if code == "AUT23457":
            return "AUT23457: Login failed using auth server %s.  Reason: Failed" % pick(auth_servers)
        if code == "AUT20920":
            return "AUT20920: Connection from IP %s not authenticated yet (URL=%s)" % (
                client, pick(url_paths).replace("%d", str(rint(10**9, 10**10 - 1))))
        if code == "AUT24604":
            return ("AUT24604: SSL negotiation failed while client at source IP '%s' was trying to connect to '%s'."
                    " Reason: '%s'" % (client, ip(), pick(ssl_reasons)))
        if code == "AUT31556":
            return "AUT31556: Unauthenticated request url %s came from IP %s." % (
                pick(url_paths).replace("%d", str(rint(10**9, 10**10 - 1))), client)
        if code == "LIC30499":
            n = rint(0, 16)
            return ("LIC30499: Leased %d units of 'Virtual CPUs' from %s - reserved: %d maximum: %d"
                    " incremental quantum: %d" % (n, client, n, rint(n, 32), rint(0, 4)))
        if code == "SYS20704":
            return ("SYS20704: Sending iveLogNearlyFull [ logFullPercent='%d' logName='event' ] SNMP trap to %s:162"
                    % (rint(80, 99), ip()))
        if code == "SYS31231":
            return "SYS31231: Successfully executed '%s'." % pick(["Post Settings Request", "Get Active Users"])
        if code == "SYS32083":
            return "SYS32083: LMDB shards usage stats shard: " + "".join(
                "%x:%d%%   " % (i, rint(0, 9)) for i in range(16))
        return "%s: Session timed out for %s/%s (session:%08x) due to inactivity." % (
            code, user, pick(realms), rng.getrandbits(32))

    out = []
    with open(out_path, "w", encoding="utf-8", newline="\n") as f:
        for _ in range(count):
            code = pick(codes)
            fw, vpn = pick(gateways)
            client = ip()
            system = code.startswith("SYS") or code in ("LIC30499", "AUT24604", "AUT20920", "AUT31556")
            if system:
                user, realm, roles = "System", "", ""
            else:
                user = pick(people)
                if rnd() < 0.1:
                    user = "CORP\\\\" + user
                realm, roles = pick(realms), pick(role_sets)
            sec = rint(0, 86399)
            ts = '"%04d-%02d-%02d %02d:%02d:%02d"' % (t0[0], t0[1], t0[2] + rint(0, 10), sec // 3600,
                                                      sec // 60 % 60, sec % 60)
            ivs = pick([None, "Root", "Default Network"])
            proto = "auth" if code.startswith("AUT") and not system else ""
            src = client if code != "SYS20704" else fw
            msg = message(code, user.split("\\")[-1], client)
            head = ["id=firewall", "time=" + ts, "pri=%d" % pick([6, 6, 6, 4, 0]), "fw=" + fw, "vpn=" + vpn]
            if ivs:
                head.append("ivs=" + ivs)
            head += ["user=" + user, 'realm="%s"' % realm, 'roles="%s"' % roles]
            if rnd() < 0.5:  # older layout
                tail = ["proto=" + proto, "src=" + src, "dst=", "dstname=", "type=vpn", "op=", 'arg=""',
                        "result=", "sent=", "rcvd=", 'agent=""', "duration=", 'msg="%s"' % msg]
            else:  # newer layout
                tail = ["type=mgmt", "proto=" + proto, "src=" + src, "dst=", "dstname=", "sent=", "rcvd=",
                        'msg="%s"' % msg]
            out.append(" ".join(head + tail))
            if len(out) >= CHUNK:
                f.write("\n".join(out) + "\n")
                out.clear()
        if out:
            f.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
