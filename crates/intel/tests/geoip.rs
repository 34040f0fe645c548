//! GeoIP/ASN enrichment over events of the real `aws-vpc-flow-logs` format, with small
//! databases written by `make_geo_dbs.py` (PyPI's mmdb-writer).

use std::path::Path;
use std::process::Command;

use intake_intel::geoip::GeoReload;
use intake_intel::{GeoIp, GeoIpConfig};
use serde_json::{Value, json};

fn make_dbs(dir: &Path, extra: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/make_geo_dbs.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(dir)
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("running python3 {}: {e}; the GeoIP tests need Python 3 and `pip install mmdb-writer`", script.display()));
    assert!(
        output.status.success(),
        "{} failed ({}): {}\nthe GeoIP tests need `pip install mmdb-writer`",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

fn open(dir: &Path) -> GeoIp {
    GeoIp::open(&GeoIpConfig {
        city: Some(dir.join("city.mmdb")),
        asn: Some(dir.join("asn.mmdb")),
    })
    .unwrap()
}

fn vpc(src: &str, dst: &str) -> Vec<u8> {
    let format = intake_formats::builtin("aws-vpc-flow-logs").unwrap();
    let line = format!(
        "2 123456789010 eni-0a1b2c3d4e5f60718 {src} {dst} 51000 443 6 10 900 1764892800 1764892860 ACCEPT OK"
    );
    let mut out = Vec::new();
    format
        .parse_message_json(&line, chrono::Utc::now(), &mut out)
        .unwrap();
    out
}

fn enrich(geo: &GeoIp, event: &[u8]) -> Option<Value> {
    let mut out = Vec::new();
    geo.enrich(event, &mut out)
        .unwrap()
        .then(|| serde_json::from_slice(&out).expect("enriched event is JSON"))
}

#[test]
fn public_addresses_gain_geo_and_as_and_nothing_else_changes() {
    let dir = tempfile::tempdir().unwrap();
    make_dbs(dir.path(), &[]);
    let geo = open(dir.path());

    let event = vpc("10.0.0.5", "81.2.69.77");
    let got = enrich(&geo, &event).expect("a known public destination");
    assert_eq!(
        got["destination"]["geo"],
        json!({
            "city_name": "Tarnvik", "continent_name": "Europe", "country_iso_code": "SE", "country_name": "Sweden",
            "region_iso_code": "SE-AB", "region_name": "Stockholm County", "location": {"lat": 59.3251, "lon": 18.0711}
        })
    );
    assert_eq!(
        got["destination"]["as"],
        json!({"number": 64512, "organization": {"name": "Nordic Example Transit"}})
    );
    let mut rest = got.clone();
    rest["destination"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| k != "geo" && k != "as");
    assert_eq!(
        rest,
        serde_json::from_slice::<Value>(&event).unwrap(),
        "only geo and as are added"
    );
    assert!(got["source"].get("geo").is_none(), "private source");

    // IPv6 source; the ASN database covers a wider range than the city one.
    let got = enrich(&geo, &vpc("2a02:cf40::9", "2a02:cf40:1::1")).unwrap();
    assert_eq!(got["source"]["geo"]["city_name"], "Fjellby");
    assert_eq!(got["destination"]["as"]["number"], 64513);
    let got = enrich(&geo, &vpc("81.2.70.1", "10.0.0.5")).unwrap();
    assert!(got["source"].get("geo").is_none());
    assert_eq!(got["source"]["as"]["number"], 64512);
    // A record without city or region gives only what it has.
    let got = enrich(&geo, &vpc("175.16.199.3", "10.0.0.5")).unwrap();
    assert_eq!(
        got["source"]["geo"],
        json!({"continent_name": "Asia", "country_iso_code": "CN", "country_name": "China"})
    );
}

#[test]
fn private_unknown_and_already_located_addresses_pass_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    make_dbs(dir.path(), &[]);
    let geo = open(dir.path());
    assert_eq!(enrich(&geo, &vpc("10.0.0.5", "192.168.3.3")), None);
    assert_eq!(
        enrich(&geo, &vpc("10.0.0.5", "8.8.4.4")),
        None,
        "not in the database"
    );
    let located = br#"{"source":{"ip":"81.2.69.1","geo":{"city_name":"Elsewhere"},"as":{"number":1}},"destination":{}}"#;
    assert_eq!(enrich(&geo, located), None);
    let unparsable = br#"{"source":{"ip":"not an ip"},"destination":{"ip":7}}"#;
    assert_eq!(enrich(&geo, unparsable), None);
    let mut out = Vec::new();
    assert!(
        geo.enrich(br#"{"source":{"ip":"81.2.69.1"}"#, &mut out)
            .is_err()
    );
}

#[test]
fn a_changed_database_is_reloaded_and_a_broken_one_keeps_the_previous() {
    let dir = tempfile::tempdir().unwrap();
    make_dbs(dir.path(), &[]);
    let geo = open(dir.path());
    let event = vpc("10.0.0.5", "81.2.69.77");
    assert_eq!(
        geo.reload_if_changed(),
        [GeoReload::Unchanged, GeoReload::Unchanged]
    );

    let next = tempfile::tempdir().unwrap();
    make_dbs(next.path(), &["--edition", "2"]);
    std::fs::rename(next.path().join("city.mmdb"), dir.path().join("city.mmdb")).unwrap();
    assert_eq!(
        geo.reload_if_changed(),
        [GeoReload::Reloaded, GeoReload::Unchanged]
    );
    assert_eq!(
        enrich(&geo, &event).unwrap()["destination"]["geo"]["city_name"],
        "Tarnvik 2"
    );

    std::fs::write(dir.path().join("city.mmdb"), b"not a MaxMind database").unwrap();
    let reload = geo.reload_if_changed();
    let GeoReload::Failed(error) = &reload[0] else {
        panic!("{reload:?}")
    };
    assert!(error.contains("city.mmdb"), "{error}");
    assert_eq!(
        enrich(&geo, &event).unwrap()["destination"]["geo"]["city_name"],
        "Tarnvik 2"
    );
    assert_eq!(
        (geo.metrics().reloads, geo.metrics().reload_failures),
        (1, 1)
    );
}

#[test]
fn opening_needs_a_readable_database() {
    let dir = tempfile::tempdir().unwrap();
    assert!(GeoIp::open(&GeoIpConfig::default()).is_err());
    let missing = dir.path().join("none.mmdb");
    let e = GeoIp::open(&GeoIpConfig {
        city: Some(missing),
        asn: None,
    })
    .err()
    .unwrap();
    assert!(e.contains("none.mmdb"), "{e}");
    assert!(toml::from_str::<GeoIpConfig>("city = \"a\"\ncountry = \"b\"").is_err());
}
