//! The lookup structure of all loaded indicators, built once per (re)load and then only read.
//!
//! IPv4: a bitmap of /24 blocks that hold any indicator answers "no" for most addresses
//! with one memory read; behind it, exact addresses in a hash map and ranges in one hash
//! map per prefix length, probed longest first (longest-prefix order). IPv6: the same
//! without the bitmap. Domains: a hash map probed with the name and each of its parents.
//! Several indicators with one value (from several feeds or STIX objects) are chained.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;
use rustc_hash::FxHashMap;

use crate::indicator::{Family, Indicator, Meta, Observable};

const NONE: u32 = u32::MAX;

/// What an event value matched: the indicator's own value, and the first of the chained
/// indicators that carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hit<'a> {
    Ip(IpAddr),
    Cidr(IpNet),
    Domain(&'a str),
    Url(&'a str),
    Hash {
        algorithm: &'static str,
        value: &'a str,
    },
}

#[derive(Default)]
pub struct IndicatorSet {
    metas: Vec<Arc<Meta>>,
    /// The next indicator with the same value, or `NONE`.
    next: Vec<u32>,
    /// One bit per /16, then one bit per /24, set when the block holds any indicator.
    v4_regions: Vec<u64>,
    v4_blocks: Vec<u64>,
    v4_exact: FxHashMap<u32, u32>,
    /// Prefix length and masked network → first indicator, longest prefix first.
    v4_nets: Vec<(u8, FxHashMap<u32, u32>)>,
    v6_exact: FxHashMap<u128, u32>,
    v6_nets: Vec<(u8, FxHashMap<u128, u32>)>,
    domains: FxHashMap<Box<str>, u32>,
    urls: FxHashMap<Box<str>, u32>,
    hashes: FxHashMap<Box<str>, (&'static str, u32)>,
    counts: [u64; 5],
}

fn v4_mask(len: u8) -> u32 {
    if len == 0 { 0 } else { u32::MAX << (32 - len) }
}

fn v6_mask(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    }
}

fn hash_algorithm(name: &str) -> &'static str {
    [
        "md5", "sha1", "sha256", "sha384", "sha512", "ssdeep", "tlsh",
    ]
    .into_iter()
    .find(|a| *a == name)
    .unwrap_or("unknown")
}

impl IndicatorSet {
    pub fn build(indicators: impl IntoIterator<Item = Indicator>) -> IndicatorSet {
        let mut set = IndicatorSet::default();
        for indicator in indicators {
            set.insert(indicator);
        }
        set.finish();
        set
    }

    /// Adds one indicator; `finish` must follow the last one.
    pub fn insert(&mut self, Indicator { observable, meta }: Indicator) {
        let set = self;
        {
            let id = set.metas.len() as u32;
            set.counts[observable.family() as usize] += 1;
            set.metas.push(meta);
            let head = match observable {
                Observable::Ip(IpAddr::V4(ip)) => {
                    let ip = u32::from(ip);
                    mark_blocks(&mut set.v4_regions, &mut set.v4_blocks, ip, ip);
                    set.v4_exact.entry(ip).or_insert(NONE)
                }
                Observable::Ip(IpAddr::V6(ip)) => {
                    set.v6_exact.entry(u128::from(ip)).or_insert(NONE)
                }
                Observable::Cidr(IpNet::V4(net)) => {
                    let (first, last) = (u32::from(net.network()), u32::from(net.broadcast()));
                    mark_blocks(&mut set.v4_regions, &mut set.v4_blocks, first, last);
                    table(&mut set.v4_nets, net.prefix_len())
                        .entry(first)
                        .or_insert(NONE)
                }
                Observable::Cidr(IpNet::V6(net)) => table(&mut set.v6_nets, net.prefix_len())
                    .entry(u128::from(net.network()))
                    .or_insert(NONE),
                Observable::Domain(name) => set.domains.entry(name).or_insert(NONE),
                Observable::Url(url) => set.urls.entry(url).or_insert(NONE),
                Observable::Hash { algorithm, value } => {
                    &mut set
                        .hashes
                        .entry(value)
                        .or_insert((hash_algorithm(&algorithm), NONE))
                        .1
                }
            };
            set.next.push(*head);
            *head = id;
        }
    }

    /// Orders the range tables longest prefix first.
    pub fn finish(&mut self) {
        self.v4_nets.sort_by_key(|t| std::cmp::Reverse(t.0));
        self.v6_nets.sort_by_key(|t| std::cmp::Reverse(t.0));
    }

    pub fn len(&self) -> usize {
        self.metas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.metas.is_empty()
    }

    pub fn count(&self, family: Family) -> u64 {
        self.counts[family as usize]
    }

    pub fn has(&self, family: Family) -> bool {
        self.count(family) > 0
    }

    /// The indicators chained from `first`.
    pub fn chain(&self, first: u32) -> impl Iterator<Item = (u32, &Arc<Meta>)> {
        std::iter::successors(Some(first).filter(|i| *i != NONE), |i| {
            Some(self.next[*i as usize]).filter(|n| *n != NONE)
        })
        .map(|i| (i, &self.metas[i as usize]))
    }

    /// Whether the /24 block of `ip` holds any indicator: the cheap first test.
    #[inline]
    pub fn may_hold_v4(&self, ip: u32) -> bool {
        let region = (ip >> 16) as usize;
        let block = (ip >> 8) as usize;
        self.v4_regions
            .get(region / 64)
            .is_some_and(|word| word & (1 << (region % 64)) != 0)
            && self
                .v4_blocks
                .get(block / 64)
                .is_some_and(|word| word & (1 << (block % 64)) != 0)
    }

    /// Every indicator covering `ip`: the exact address first, then ranges longest first.
    pub fn lookup_ip(&self, ip: IpAddr, found: &mut impl FnMut(Hit<'_>, u32)) {
        match ip {
            IpAddr::V4(v4) => {
                let ip = u32::from(v4);
                if !self.may_hold_v4(ip) {
                    return;
                }
                if let Some(first) = self.v4_exact.get(&ip) {
                    found(Hit::Ip(IpAddr::V4(v4)), *first);
                }
                for (len, table) in &self.v4_nets {
                    let network = ip & v4_mask(*len);
                    if let Some(first) = table.get(&network) {
                        let net = ipnet::Ipv4Net::new(Ipv4Addr::from(network), *len)
                            .expect("prefix length of a v4 table");
                        found(Hit::Cidr(IpNet::V4(net)), *first);
                    }
                }
            }
            IpAddr::V6(v6) => {
                let ip = u128::from(v6);
                if let Some(first) = self.v6_exact.get(&ip) {
                    found(Hit::Ip(IpAddr::V6(v6)), *first);
                }
                for (len, table) in &self.v6_nets {
                    let network = ip & v6_mask(*len);
                    if let Some(first) = table.get(&network) {
                        let net = ipnet::Ipv6Net::new(Ipv6Addr::from(network), *len)
                            .expect("prefix length of a v6 table");
                        found(Hit::Cidr(IpNet::V6(net)), *first);
                    }
                }
            }
        }
    }

    /// Every indicator on the normalized `name` or one of its parents, the name first.
    pub fn lookup_domain<'n>(&self, name: &'n str, found: &mut impl FnMut(Hit<'n>, u32)) {
        let mut rest = name;
        loop {
            if let Some(first) = self.domains.get(rest) {
                found(Hit::Domain(rest), *first);
            }
            match rest.find('.') {
                Some(dot) => rest = &rest[dot + 1..],
                None => return,
            }
        }
    }

    pub fn lookup_url<'n>(&self, url: &'n str, found: &mut impl FnMut(Hit<'n>, u32)) {
        if let Some(first) = self.urls.get(url) {
            found(Hit::Url(url), *first);
        }
    }

    pub fn lookup_hash<'n>(&self, hex: &'n str, found: &mut impl FnMut(Hit<'n>, u32)) {
        if let Some((algorithm, first)) = self.hashes.get(hex) {
            found(
                Hit::Hash {
                    algorithm,
                    value: hex,
                },
                *first,
            );
        }
    }
}

fn table<K>(tables: &mut Vec<(u8, FxHashMap<K, u32>)>, len: u8) -> &mut FxHashMap<K, u32> {
    let at = match tables.iter().position(|(l, _)| *l == len) {
        Some(at) => at,
        None => {
            tables.push((len, FxHashMap::default()));
            tables.len() - 1
        }
    };
    &mut tables[at].1
}

fn mark_blocks(regions: &mut Vec<u64>, blocks: &mut Vec<u64>, first: u32, last: u32) {
    if blocks.is_empty() {
        regions.resize(1 << 10, 0);
        blocks.resize(1 << 18, 0);
    }
    for region in (first >> 16)..=(last >> 16) {
        regions[region as usize / 64] |= 1 << (region % 64);
    }
    for block in (first >> 8)..=(last >> 8) {
        blocks[block as usize / 64] |= 1 << (block % 64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(values: &[&str]) -> IndicatorSet {
        let meta = Arc::new(Meta::default());
        IndicatorSet::build(values.iter().map(|v| Indicator {
            observable: crate::indicator::parse_ip_or_cidr(v).unwrap_or_else(|| {
                Observable::Domain(crate::indicator::normalize_domain(v).unwrap())
            }),
            meta: meta.clone(),
        }))
    }

    fn ip_hits(set: &IndicatorSet, ip: &str) -> Vec<String> {
        let mut out = Vec::new();
        set.lookup_ip(ip.parse().unwrap(), &mut |hit, first| {
            let n = set.chain(first).count();
            out.push(match hit {
                Hit::Ip(ip) => format!("{ip} x{n}"),
                Hit::Cidr(net) => format!("{net} x{n}"),
                _ => unreachable!(),
            });
        });
        out
    }

    #[test]
    fn ipv4_exact_and_every_covering_range_longest_first() {
        let s = set(&[
            "10.0.0.0/8",
            "10.1.0.0/16",
            "10.1.2.3",
            "10.1.2.3",
            "10.1.2.0/24",
            "192.0.2.0/31",
        ]);
        assert_eq!(
            ip_hits(&s, "10.1.2.3"),
            [
                "10.1.2.3 x2",
                "10.1.2.0/24 x1",
                "10.1.0.0/16 x1",
                "10.0.0.0/8 x1"
            ]
        );
        assert_eq!(ip_hits(&s, "10.200.0.1"), ["10.0.0.0/8 x1"]);
        assert_eq!(ip_hits(&s, "192.0.2.1"), ["192.0.2.0/31 x1"]);
        assert!(ip_hits(&s, "192.0.2.2").is_empty());
        assert!(ip_hits(&s, "11.0.0.1").is_empty());
    }

    #[test]
    fn ipv6_exact_and_ranges() {
        let s = set(&["2001:db8::/32", "2001:db8:1::/48", "2001:db8:1::7", "::/0"]);
        assert_eq!(
            ip_hits(&s, "2001:db8:1:0:0:0:0:7"),
            [
                "2001:db8:1::7 x1",
                "2001:db8:1::/48 x1",
                "2001:db8::/32 x1",
                "::/0 x1"
            ]
        );
        assert_eq!(ip_hits(&s, "2001:db9::1"), ["::/0 x1"]);
        // The IPv6 default route does not cover IPv4.
        assert!(ip_hits(&s, "192.0.2.1").is_empty());
    }

    #[test]
    fn domains_match_themselves_and_their_subdomains_only() {
        let s = set(&["evil.example", "b.evil.example"]);
        let hits = |name: &str| {
            let mut out = Vec::new();
            s.lookup_domain(name, &mut |hit, _| out.push(format!("{hit:?}")));
            out
        };
        assert_eq!(
            hits("a.b.evil.example"),
            ["Domain(\"b.evil.example\")", "Domain(\"evil.example\")"]
        );
        assert_eq!(hits("evil.example"), ["Domain(\"evil.example\")"]);
        assert!(hits("notevil.example").is_empty());
        assert!(hits("example").is_empty());
    }
}
