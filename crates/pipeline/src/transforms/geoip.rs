//! The `geoip` transform: `source`/`destination` `geo.*` and `as.*` from MaxMind-format
//! databases (`intake-intel`), for public addresses only; a database file that
//! changes is read again (a broken replacement keeps the previous one).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use intake_intel::geoip::GeoReload;
use intake_intel::{GeoIp, GeoIpConfig};

use crate::component::{Transform, TransformConfig};
use crate::event::EncodedBatch;

#[derive(Debug, serde::Deserialize)]
#[serde(transparent)]
pub struct GeoIpTransformConfig(pub GeoIpConfig);

impl TransformConfig for GeoIpTransformConfig {
    fn validate(&self) -> anyhow::Result<()> {
        if self.0.city.is_none() && self.0.asn.is_none() {
            anyhow::bail!("give `city`, `asn` or both (database paths)");
        }
        Ok(())
    }

    fn build(&self, name: &str) -> anyhow::Result<Box<dyn Transform>> {
        Ok(Box::new(GeoIpTransform {
            name: name.to_string(),
            geo: GeoIp::open(&self.0).map_err(anyhow::Error::msg)?,
            last_reload_check: Instant::now(),
            malformed_reported: 0,
        }))
    }
}

pub struct GeoIpTransform {
    name: String,
    geo: GeoIp,
    last_reload_check: Instant,
    malformed_reported: u64,
}

impl Transform for GeoIpTransform {
    fn transform(
        &mut self,
        batch: Arc<EncodedBatch>,
        _named: &mut BTreeMap<&'static str, EncodedBatch>,
    ) -> Arc<EncodedBatch> {
        let geo = &self.geo;
        // A malformed event passes unchanged; the database counts it (see `tick`).
        super::rewrite_lines(batch, |event, out| geo.enrich(event, out).unwrap_or(false))
    }

    fn tick(&mut self, _named: &mut BTreeMap<&'static str, EncodedBatch>) {
        let malformed = self.geo.metrics().malformed_events;
        if malformed > self.malformed_reported {
            tracing::warn!(transform = %self.name, events = malformed - self.malformed_reported, "events that are not JSON objects passed without geo fields");
            metrics::counter!("intake_geoip_malformed_events_total", "transform" => self.name.clone())
                .increment(malformed - self.malformed_reported);
            self.malformed_reported = malformed;
        }
        if self.last_reload_check.elapsed() < Duration::from_secs(5) {
            return;
        }
        self.last_reload_check = Instant::now();
        for r in self.geo.reload_if_changed() {
            match r {
                GeoReload::Reloaded => {
                    tracing::info!(transform = %self.name, "GeoIP database reloaded")
                }
                GeoReload::Failed(e) => {
                    tracing::error!(transform = %self.name, "GeoIP database not reloaded (the previous one stays): {e}")
                }
                GeoReload::Unchanged => {}
            }
        }
    }
}
