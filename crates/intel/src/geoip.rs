//! GeoIP and ASN enrichment from MaxMind-format databases (GeoLite2/GeoIP2, DB-IP and
//! IPinfo ship this format): `source` and `destination` gain ECS `geo` and `as` objects.
//!
//! Private, loopback, link-local, shared, documentation, multicast and reserved
//! addresses are never looked up. An object that already has `geo` (or `as`) keeps it.
//! A database is read once into memory and re-read when its file changes; a file that
//! fails to open keeps the previous database.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use maxminddb::Reader;
use rustc_hash::FxHashMap;
use serde::Deserialize;

use crate::indicator::canonical_ip;
use crate::json_scan::{
    PathSet, ScanError, Value, ValueKind, member_prefix, push_json_str, splice,
};

/// The `geoip` transform's settings (and `intake parse --geoip`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoIpConfig {
    /// A City (or Country) database: fills `geo.*`.
    #[serde(default)]
    pub city: Option<PathBuf>,
    /// An ASN database: fills `as.number` and `as.organization.name`.
    #[serde(default)]
    pub asn: Option<PathBuf>,
}

struct Database {
    path: PathBuf,
    reader: ArcSwap<Loaded>,
    stamp: Mutex<Option<(SystemTime, u64)>>,
}

impl Database {
    fn open(path: &PathBuf) -> Result<Database, String> {
        let stamp = stamp(path);
        let reader = Reader::open_readfile(path)
            .map_err(|e| format!("GeoIP database {}: {e}", path.display()))?;
        Ok(Database {
            path: path.clone(),
            reader: ArcSwap::from_pointee(Loaded::new(reader)),
            stamp: Mutex::new(stamp),
        })
    }
}

/// An open database and the members already written for its records. Many networks
/// share one record (every network of a city, of an AS), found at one data offset, so
/// the members are decoded and written once per record, not once per event.
struct Loaded {
    reader: Reader<Vec<u8>>,
    members: RwLock<FxHashMap<usize, Box<[u8]>>>,
}

/// Records remembered per database; past this, further records are decoded each time.
const MEMBERS_CACHED: usize = 200_000;

impl Loaded {
    fn new(reader: Reader<Vec<u8>>) -> Loaded {
        Loaded {
            reader,
            members: RwLock::new(FxHashMap::default()),
        }
    }

    /// Appends the members (`,"geo":{…}` or `,"as":{…}`) for `ip`, writing them with
    /// `write` the first time a record is met.
    fn append(
        &self,
        ip: IpAddr,
        out: &mut Vec<u8>,
        errors: &AtomicU64,
        write: impl Fn(
            &maxminddb::LookupResult<'_, Vec<u8>>,
            &mut Vec<u8>,
        ) -> Result<(), maxminddb::MaxMindDbError>,
    ) {
        let Ok(result) = self.reader.lookup(ip) else {
            errors.fetch_add(1, Relaxed);
            return;
        };
        let Some(offset) = result.offset() else {
            return;
        };
        if let Some(members) = self
            .members
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&offset)
        {
            out.extend_from_slice(members);
            return;
        }
        let mut members = Vec::new();
        if write(&result, &mut members).is_err() {
            errors.fetch_add(1, Relaxed);
            return;
        }
        out.extend_from_slice(&members);
        let mut cache = self.members.write().unwrap_or_else(|e| e.into_inner());
        if cache.len() < MEMBERS_CACHED {
            cache.insert(offset, members.into_boxed_slice());
        }
    }
}

fn stamp(path: &PathBuf) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

pub struct GeoIp {
    city: Option<Database>,
    asn: Option<Database>,
    paths: PathSet,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
    lookup_errors: AtomicU64,
}

/// What a reload did to one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeoReload {
    Unchanged,
    Reloaded,
    /// The previous database stays in use.
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeoMetrics {
    pub reloads: u64,
    pub reload_failures: u64,
    /// Records that could not be decoded (a corrupt database); the event passes without them.
    pub lookup_errors: u64,
}

const SOURCE: usize = 0;
const SOURCE_IP: usize = 1;
const SOURCE_GEO: usize = 2;
const SOURCE_AS: usize = 3;
const SIDES: usize = 4;
const PATHS: [&str; 8] = [
    "source",
    "source.ip",
    "source.geo",
    "source.as",
    "destination",
    "destination.ip",
    "destination.geo",
    "destination.as",
];

#[derive(Deserialize, Default)]
struct Names<'a> {
    #[serde(borrow, default)]
    en: Option<&'a str>,
}

#[derive(Deserialize, Default)]
struct Place<'a> {
    #[serde(borrow, default)]
    names: Names<'a>,
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize, Default)]
struct Location {
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
}

#[derive(Deserialize, Default)]
struct CityRecord<'a> {
    #[serde(borrow, default)]
    city: Place<'a>,
    #[serde(borrow, default)]
    continent: Place<'a>,
    #[serde(borrow, default)]
    country: Place<'a>,
    #[serde(default)]
    location: Location,
    #[serde(borrow, default)]
    subdivisions: Vec<Place<'a>>,
}

#[derive(Deserialize, Default)]
struct AsnRecord<'a> {
    #[serde(default)]
    autonomous_system_number: Option<u32>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
}

impl GeoIp {
    /// Opens the configured databases; at least one is required.
    pub fn open(config: &GeoIpConfig) -> Result<GeoIp, String> {
        if config.city.is_none() && config.asn.is_none() {
            return Err("geoip: no database (set city, asn or both)".into());
        }
        Ok(GeoIp {
            city: config.city.as_ref().map(Database::open).transpose()?,
            asn: config.asn.as_ref().map(Database::open).transpose()?,
            paths: PathSet::new(&PATHS),
            reloads: AtomicU64::new(0),
            reload_failures: AtomicU64::new(0),
            lookup_errors: AtomicU64::new(0),
        })
    }

    /// Re-opens each database whose file changed (modification time or length).
    pub fn reload_if_changed(&self) -> Vec<GeoReload> {
        [&self.city, &self.asn]
            .into_iter()
            .flatten()
            .map(|db| {
                let mut last = db.stamp.lock().unwrap_or_else(|e| e.into_inner());
                let now = stamp(&db.path);
                if now.is_some() && now == *last {
                    return GeoReload::Unchanged;
                }
                *last = now;
                match Reader::open_readfile(&db.path) {
                    Ok(reader) => {
                        db.reader.store(Arc::new(Loaded::new(reader)));
                        self.reloads.fetch_add(1, Relaxed);
                        GeoReload::Reloaded
                    }
                    Err(e) => {
                        self.reload_failures.fetch_add(1, Relaxed);
                        GeoReload::Failed(format!("GeoIP database {}: {e}", db.path.display()))
                    }
                }
            })
            .collect()
    }

    pub fn metrics(&self) -> GeoMetrics {
        GeoMetrics {
            reloads: self.reloads.load(Relaxed),
            reload_failures: self.reload_failures.load(Relaxed),
            lookup_errors: self.lookup_errors.load(Relaxed),
        }
    }

    /// Adds `geo`/`as` to `source` and `destination` of `event`. Returns `true` with the
    /// enriched event in `out` (cleared first) when anything was added; `false` leaves
    /// `out` untouched and the event passes as it is.
    pub fn enrich(&self, event: &[u8], out: &mut Vec<u8>) -> Result<bool, ScanError> {
        let mut found: [Option<Value>; 8] = [None; 8];
        self.paths
            .scan(event, &mut |path, value| found[path] = Some(value))?;
        let city = self.city.as_ref().map(|db| db.reader.load());
        let asn = self.asn.as_ref().map(|db| db.reader.load());
        let mut inserts: Vec<(usize, Vec<u8>)> = Vec::new();
        for side in [0, SIDES] {
            let (Some(object), Some(ip)) = (found[side + SOURCE], found[side + SOURCE_IP]) else {
                continue;
            };
            let Some(close) = object.object_close() else {
                continue;
            };
            let Some(ip) = ip_of(event, ip) else { continue };
            if !is_public(ip) {
                continue;
            }
            let mut members = Vec::new();
            if let Some(db) = &city
                && found[side + SOURCE_GEO].is_none()
            {
                db.append(ip, &mut members, &self.lookup_errors, city_members);
            }
            if let Some(db) = &asn
                && found[side + SOURCE_AS].is_none()
            {
                db.append(ip, &mut members, &self.lookup_errors, asn_members);
            }
            if !members.is_empty() {
                let mut bytes = member_prefix(event, close).to_vec();
                bytes.extend_from_slice(&members[1..]);
                inserts.push((close, bytes));
            }
        }
        if inserts.is_empty() {
            return Ok(false);
        }
        inserts.sort_by_key(|(at, _)| *at);
        let inserts: Vec<(usize, &[u8])> =
            inserts.iter().map(|(at, b)| (*at, b.as_slice())).collect();
        splice(event, &inserts, out);
        Ok(true)
    }
}

/// Appends `,"geo":{…}` when the database knows the address.
fn city_members(
    result: &maxminddb::LookupResult<'_, Vec<u8>>,
    out: &mut Vec<u8>,
) -> Result<(), maxminddb::MaxMindDbError> {
    let Some(record) = result.decode::<CityRecord>()? else {
        return Ok(());
    };
    let mut geo = Vec::with_capacity(256);
    let mut field = |name: &str, value: Option<&str>| {
        if let Some(value) = value {
            geo.push(b',');
            push_json_str(&mut geo, name);
            geo.push(b':');
            push_json_str(&mut geo, value);
        }
    };
    field("city_name", record.city.names.en);
    field("continent_name", record.continent.names.en);
    field("country_iso_code", record.country.iso_code);
    field("country_name", record.country.names.en);
    let region = record.subdivisions.first();
    let region_code = match (record.country.iso_code, region.and_then(|r| r.iso_code)) {
        (Some(country), Some(region)) => Some(format!("{country}-{region}")),
        _ => None,
    };
    field("region_iso_code", region_code.as_deref());
    field("region_name", region.and_then(|r| r.names.en));
    if let (Some(lat), Some(lon)) = (record.location.latitude, record.location.longitude) {
        geo.extend_from_slice(b",\"location\":{\"lat\":");
        geo.extend_from_slice(ryu_like(lat).as_bytes());
        geo.extend_from_slice(b",\"lon\":");
        geo.extend_from_slice(ryu_like(lon).as_bytes());
        geo.push(b'}');
    }
    if geo.is_empty() {
        return Ok(());
    }
    out.extend_from_slice(b",\"geo\":{");
    out.extend_from_slice(&geo[1..]);
    out.push(b'}');
    Ok(())
}

/// Appends `,"as":{…}` when the database knows the address.
fn asn_members(
    result: &maxminddb::LookupResult<'_, Vec<u8>>,
    out: &mut Vec<u8>,
) -> Result<(), maxminddb::MaxMindDbError> {
    let Some(record) = result.decode::<AsnRecord>()? else {
        return Ok(());
    };
    let mut members = Vec::with_capacity(96);
    if let Some(number) = record.autonomous_system_number {
        members.extend_from_slice(b",\"number\":");
        members.extend_from_slice(number.to_string().as_bytes());
    }
    if let Some(name) = record.autonomous_system_organization {
        members.extend_from_slice(b",\"organization\":{\"name\":");
        push_json_str(&mut members, name);
        members.push(b'}');
    }
    if members.is_empty() {
        return Ok(());
    }
    out.extend_from_slice(b",\"as\":{");
    out.extend_from_slice(&members[1..]);
    out.push(b'}');
    Ok(())
}

/// A coordinate as JSON: finite numbers only (a NaN from a corrupt record becomes 0).
fn ryu_like(value: f64) -> String {
    let value = if value.is_finite() { value } else { 0.0 };
    serde_json::Number::from_f64(value).map_or_else(|| "0".into(), |n| n.to_string())
}

fn ip_of(event: &[u8], value: Value) -> Option<IpAddr> {
    if value.kind == (ValueKind::String { escaped: false })
        && let Some(v4) = crate::matcher::parse_v4(&event[value.start + 1..value.end - 1])
    {
        return Some(IpAddr::V4(v4.into()));
    }
    if !matches!(value.kind, ValueKind::String { .. }) {
        return None;
    }
    value.as_str(event)?.parse::<IpAddr>().ok().map(canonical_ip)
}

/// Whether an address is globally routed, so worth a lookup.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        || (first & 0xe000) != 0x2000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_looked_up() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "0.1.2.3",
            "255.255.255.255",
            "::1",
            "fd00::1",
            "fe80::1",
            "2001:db8::1",
            "ff02::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "81.2.69.142",
            "8.8.8.8",
            "100.128.0.1",
            "2a02:cf40::1",
            "2600:1f18::1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
