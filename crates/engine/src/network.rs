//! Network helpers for templates: Community ID v1 flow hashing.
//!
//! API CONTRACT (owned by the externals work; used by the `community_id` filter).
//!
//! Community ID v1 (public spec, corelight/community-id-spec): SHA-1 over
//! seed (u16 BE) · src addr · dst addr · proto (u8) · 0u8 · [src port · dst port]
//! (u16 BE), endpoints ordered so the smaller (addr, port) comes first, then
//! `1:` + standard base64. Ports take part for TCP, UDP, SCTP and ICMP(v6) (where
//! they carry type and code); other protocols hash the addresses and protocol only,
//! as the spec says.

use std::net::IpAddr;

use base64::Engine as _;
use sha1::{Digest, Sha1};

const ICMP: u8 = 1;
const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMPV6: u8 = 58;
const SCTP: u8 = 132;

/// The Community ID v1 of a flow (`1:<base64 sha1>`), or `None` when the two
/// addresses are not of the same family. For ICMP/ICMPv6, `src_port` is the type
/// and `dst_port` the code.
pub fn community_id(
    src: IpAddr,
    dst: IpAddr,
    src_port: u16,
    dst_port: u16,
    protocol: u8,
    seed: u16,
) -> Option<String> {
    let (src_b, dst_b): (Vec<u8>, Vec<u8>) = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => (s.octets().to_vec(), d.octets().to_vec()),
        (IpAddr::V6(s), IpAddr::V6(d)) => (s.octets().to_vec(), d.octets().to_vec()),
        _ => return None,
    };
    let (ports, one_way) = match protocol {
        TCP | UDP | SCTP => (Some((src_port, dst_port)), false),
        ICMP | ICMPV6 => {
            let (sp, dp, one_way) = icmp_ports(protocol, src_port, dst_port);
            (Some((sp, dp)), one_way)
        }
        _ => (None, false),
    };
    let (sp, dp) = ports.unwrap_or((0, 0));
    // Order the endpoints unless the flow is a one-way ICMP message.
    let ordered = one_way || (src_b.as_slice(), sp) <= (dst_b.as_slice(), dp);
    let (a, b, pa, pb) = if ordered {
        (&src_b, &dst_b, sp, dp)
    } else {
        (&dst_b, &src_b, dp, sp)
    };
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(a);
    h.update(b);
    h.update([protocol, 0]);
    if ports.is_some() {
        h.update(pa.to_be_bytes());
        h.update(pb.to_be_bytes());
    }
    let digest = h.finalize();
    Some(format!(
        "1:{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    ))
}

/// ICMP type/code → (src port, dst port, one-way). Request/reply types map the
/// destination "port" to the counterpart type so both directions hash alike;
/// other types keep the code and are one-way.
fn icmp_ports(protocol: u8, icmp_type: u16, code: u16) -> (u16, u16, bool) {
    let counterpart = if protocol == ICMP {
        match icmp_type {
            8 => Some(0),
            0 => Some(8),
            13 => Some(14),
            14 => Some(13),
            15 => Some(16),
            16 => Some(15),
            10 => Some(9),
            9 => Some(10),
            17 => Some(18),
            18 => Some(17),
            _ => None,
        }
    } else {
        match icmp_type {
            128 => Some(129),
            129 => Some(128),
            133 => Some(134),
            134 => Some(133),
            135 => Some(136),
            136 => Some(135),
            130 => Some(131),
            131 => Some(130),
            139 => Some(140),
            140 => Some(139),
            144 => Some(145),
            145 => Some(144),
            146 => Some(147),
            147 => Some(146),
            _ => None,
        }
    };
    match counterpart {
        Some(c) => (icmp_type, c, false),
        None => (icmp_type, code, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn golden_ipv6_tcp_vector() {
        let id = community_id(
            ip("2001:db8:1234:a100:8d6e:3477:df66:f105"),
            ip("2001:db8:1234:a102:3304:8879:34cf:4071"),
            34892,
            22,
            6,
            0,
        );
        assert_eq!(id.as_deref(), Some("1:hXZclvxUJScaVf0xMIJR6yW6tBQ="));
    }

    #[test]
    fn direction_does_not_matter() {
        let a = community_id(ip("10.0.0.1"), ip("127.0.0.1"), 1234, 80, TCP, 0);
        let b = community_id(ip("127.0.0.1"), ip("10.0.0.1"), 80, 1234, TCP, 0);
        assert_eq!(a, b);
        let c = community_id(ip("10.0.0.1"), ip("127.0.0.1"), 1234, 80, TCP, 1);
        assert_ne!(a, c, "the seed takes part");
        let d = community_id(ip("10.0.0.1"), ip("127.0.0.1"), 1234, 80, UDP, 0);
        assert_ne!(a, d, "the protocol takes part");
    }

    #[test]
    fn icmp_request_and_reply_match_one_way_does_not_swap() {
        let req = community_id(ip("192.168.0.89"), ip("192.168.0.1"), 8, 0, ICMP, 0);
        let rep = community_id(ip("192.168.0.1"), ip("192.168.0.89"), 0, 0, ICMP, 0);
        assert_eq!(req, rep);
        let unreach_ab = community_id(ip("10.0.0.2"), ip("10.0.0.1"), 3, 1, ICMP, 0);
        let unreach_ba = community_id(ip("10.0.0.1"), ip("10.0.0.2"), 3, 1, ICMP, 0);
        assert_ne!(unreach_ab, unreach_ba);
    }

    #[test]
    fn portless_protocols_ignore_ports_and_mixed_families_fail() {
        let a = community_id(ip("10.0.0.1"), ip("10.0.0.2"), 1, 2, 47, 0);
        let b = community_id(ip("10.0.0.2"), ip("10.0.0.1"), 7, 9, 47, 0);
        assert_eq!(a, b);
        assert!(a.unwrap().starts_with("1:"));
        assert_eq!(community_id(ip("10.0.0.1"), ip("::1"), 1, 2, TCP, 0), None);
    }
}
