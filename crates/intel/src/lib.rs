//! Detection and enrichment of normalized events, working on their serialized JSON:
//! threat-intelligence matching with alerts (`threat_match`), and GeoIP/ASN (`geoip`).
//! No async; files are read at load and reload only.

pub mod alerts;
pub mod feed;
pub mod geoip;
pub mod index;
pub mod indicator;
pub mod json_scan;
pub mod matcher;
pub mod stix;

pub use alerts::AlertAggregator;
pub use feed::{FeedFormat, FeedSpec};
pub use geoip::{GeoIp, GeoIpConfig};
pub use matcher::{
    MatchOutcome, ReloadOutcome, RuleHit, RuleSpec, Severity, ThreatMatchConfig, ThreatMatcher,
    ThreatMetrics, unix_now,
};
