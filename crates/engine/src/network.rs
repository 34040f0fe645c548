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

use crate::value::Value;

const ICMP: u8 = 1;
const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMPV6: u8 = 58;
const SCTP: u8 = 132;

/// A port as the `community_id` filter reads its arguments: an integer, a whole
/// float or text of digits (surrounding whitespace allowed).
pub fn port_of(v: &Value) -> Option<u16> {
    match v {
        Value::Int(i) => u16::try_from(*i).ok(),
        Value::Float(f) if f.fract() == 0.0 && (0.0..=65535.0).contains(f) => Some(*f as u16),
        Value::Str(s) => port_of_text(s),
        _ => None,
    }
}

/// [`port_of`] on text.
pub fn port_of_text(text: &str) -> Option<u16> {
    text.trim().parse().ok()
}

/// A protocol as the `community_id` filter reads it: a number, or a name in any case.
pub fn protocol_of(v: &Value) -> Option<u8> {
    match v {
        Value::Str(s) => protocol_of_text(s),
        Value::Int(i) => u8::try_from(*i).ok(),
        Value::Float(f) if f.fract() == 0.0 && (0.0..=255.0).contains(f) => Some(*f as u8),
        _ => None,
    }
}

/// [`protocol_of`] on text.
pub fn protocol_of_text(text: &str) -> Option<u8> {
    let t = text.trim();
    let named = [
        ("icmp", ICMP),
        ("tcp", TCP),
        ("udp", UDP),
        ("icmpv6", ICMPV6),
        ("ipv6-icmp", ICMPV6),
        ("sctp", SCTP),
    ];
    // Numbers first: the common case, and no name is one.
    t.parse().ok().or_else(|| {
        named
            .iter()
            .find(|(name, _)| t.eq_ignore_ascii_case(name))
            .map(|&(_, number)| number)
    })
}

/// The longest flow hashed: two IPv6 addresses, seed, protocol, pad and ports.
const MOST: usize = 2 + 16 + 16 + 2 + 4;

/// A Community ID (`1:` and 28 characters of base64), kept inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CommunityId([u8; 30]);

impl CommunityId {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The ID's bytes: `1:` and base64 characters, which need no escape in JSON
    /// and make no Python literal.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::Deref for CommunityId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for CommunityId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
) -> Option<CommunityId> {
    let (v4, v6);
    let (src_b, dst_b): (&[u8], &[u8]) = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            v4 = (s.octets(), d.octets());
            (&v4.0, &v4.1)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            v6 = (s.octets(), d.octets());
            (&v6.0, &v6.1)
        }
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
    let ordered = one_way || (src_b, sp) <= (dst_b, dp);
    let (a, b, pa, pb) = if ordered {
        (src_b, dst_b, sp, dp)
    } else {
        (dst_b, src_b, dp, sp)
    };
    // The hashed bytes in one buffer: a single call, no allocation.
    let mut input = [0u8; MOST];
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        input[n..n + bytes.len()].copy_from_slice(bytes);
        n += bytes.len();
    };
    put(&seed.to_be_bytes());
    put(a);
    put(b);
    put(&[protocol, 0]);
    if ports.is_some() {
        put(&pa.to_be_bytes());
        put(&pb.to_be_bytes());
    }
    let digest = Sha1::digest(&input[..n]);
    let mut id = [0u8; 30];
    id[..2].copy_from_slice(b"1:");
    // 20 bytes are always 28 characters of padded base64.
    base64::engine::general_purpose::STANDARD
        .encode_slice(digest, &mut id[2..])
        .ok()?;
    Some(CommunityId(id))
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
    fn golden_ipv4_tcp_vector_as_text() {
        let id = community_id(
            ip("128.232.110.120"),
            ip("66.35.250.204"),
            34855,
            80,
            TCP,
            0,
        );
        let id = id.unwrap();
        assert_eq!(id.as_str(), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
        assert_eq!(id.as_bytes(), id.as_str().as_bytes());
    }

    #[test]
    fn arguments_read_as_the_filter_reads_them() {
        assert_eq!(protocol_of_text("6"), Some(TCP));
        assert_eq!(protocol_of_text(" 017 "), Some(UDP));
        assert_eq!(protocol_of_text("TCP"), Some(TCP));
        assert_eq!(protocol_of_text("IPv6-ICMP"), Some(ICMPV6));
        assert_eq!(protocol_of_text("icmpv6"), Some(ICMPV6));
        assert_eq!(protocol_of_text("Sctp"), Some(SCTP));
        for bad in ["", "-", "256", "-1", "tcp6", "٦", "6.0"] {
            assert_eq!(protocol_of_text(bad), None, "{bad:?}");
        }
        assert_eq!(protocol_of(&Value::Int(47)), Some(47));
        assert_eq!(protocol_of(&Value::Int(256)), None);
        assert_eq!(protocol_of(&Value::Float(17.0)), Some(UDP));
        assert_eq!(protocol_of(&Value::Bool(true)), None);
        assert_eq!(port_of_text(" +443\t"), Some(443));
        for bad in ["", "-", "65536", "-1", "1e3", "0x10"] {
            assert_eq!(port_of_text(bad), None, "{bad:?}");
        }
        assert_eq!(port_of(&Value::Int(65535)), Some(65535));
        assert_eq!(port_of(&Value::Int(-1)), None);
        assert_eq!(port_of(&Value::Float(80.0)), Some(80));
        assert_eq!(port_of(&Value::Float(80.5)), None);
        assert_eq!(port_of(&Value::from("22")), Some(22));
        assert_eq!(port_of(&Value::Null), None);
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
