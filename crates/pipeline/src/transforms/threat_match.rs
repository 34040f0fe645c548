//! The `threat_match` transform: every event's observables looked up in
//! threat-intelligence feeds (`intake-intel`); a matched event gains
//! `threat.enrichments[]`, and the rules it raises become alerts on the `alerts`
//! output, one per (rule, observable) per aggregation window.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use intake_intel::{
    AlertAggregator, MatchOutcome, ReloadOutcome, ThreatMatchConfig, ThreatMatcher,
};
use metrics::{counter, gauge};

use crate::component::{Transform, TransformConfig};
use crate::event::EncodedBatch;

/// The configuration is intake-intel's own (feeds, rules, reload, window).
#[derive(Debug, serde::Deserialize)]
#[serde(transparent)]
pub struct ThreatMatchTransformConfig(pub ThreatMatchConfig);

impl TransformConfig for ThreatMatchTransformConfig {
    fn validate(&self) -> anyhow::Result<()> {
        if self.0.feeds.is_empty() {
            anyhow::bail!("feeds: empty");
        }
        Ok(())
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["alerts"]
    }

    fn build(&self, name: &str) -> anyhow::Result<Box<dyn Transform>> {
        Ok(Box::new(ThreatMatch::load(name, &self.0)?))
    }
}

pub struct ThreatMatch {
    name: String,
    matcher: ThreatMatcher,
    alerts: AlertAggregator,
    last_reload_check: Instant,
    reported: BTreeMap<String, u64>,
}

impl ThreatMatch {
    pub fn load(name: &str, config: &ThreatMatchConfig) -> anyhow::Result<ThreatMatch> {
        let matcher = ThreatMatcher::load(config, intake_intel::unix_now())
            .map_err(|e| anyhow::anyhow!("feeds: {e}"))?;
        let t = ThreatMatch {
            name: name.to_string(),
            matcher,
            alerts: AlertAggregator::new(config.aggregation_window_secs),
            last_reload_check: Instant::now(),
            reported: BTreeMap::new(),
        };
        t.report_loaded();
        Ok(t)
    }

    fn report_loaded(&self) {
        for feed in self.matcher.metrics().feeds {
            for (kind, n) in &feed.loaded {
                tracing::info!(transform = %self.name, feed = %feed.name, kind, indicators = n, "indicators loaded");
                gauge!("intake_cti_indicators", "transform" => self.name.clone(), "feed" => feed.name.clone(), "type" => kind.to_string())
                    .set(*n as f64);
            }
        }
    }

    fn push_alerts(alerts: Vec<Vec<u8>>, named: &mut BTreeMap<&'static str, EncodedBatch>) {
        if alerts.is_empty() {
            return;
        }
        let out = named.entry("alerts").or_default();
        for a in alerts {
            out.ndjson.extend_from_slice(&a);
            out.ndjson.push(b'\n');
            out.count += 1;
        }
    }
}

impl Transform for ThreatMatch {
    fn transform(
        &mut self,
        batch: Arc<EncodedBatch>,
        named: &mut BTreeMap<&'static str, EncodedBatch>,
    ) -> Arc<EncodedBatch> {
        let now = intake_intel::unix_now();
        let mut alerts = Vec::new();
        let matcher = &self.matcher;
        let aggregator = &self.alerts;
        let out = super::rewrite_lines(batch, |event, enriched| {
            match matcher.enrich(event, now, enriched) {
                Ok(MatchOutcome::Enriched { hits, .. }) => {
                    aggregator.observe(&hits, enriched, now, &mut alerts);
                    true
                }
                Ok(MatchOutcome::NoMatch) => false,
                // Counted by the matcher; the event passes unchanged.
                Err(_) => false,
            }
        });
        Self::push_alerts(alerts, named);
        out
    }

    fn tick(&mut self, named: &mut BTreeMap<&'static str, EncodedBatch>) {
        let now = intake_intel::unix_now();
        let mut alerts = Vec::new();
        self.alerts.flush_expired(now, &mut alerts);
        Self::push_alerts(alerts, named);
        if self.last_reload_check.elapsed() >= Duration::from_secs(5) {
            self.last_reload_check = Instant::now();
            for outcome in self.matcher.reload_if_changed(now) {
                match outcome {
                    ReloadOutcome::Reloaded { indicators } => {
                        tracing::info!(transform = %self.name, indicators, "feed reloaded")
                    }
                    ReloadOutcome::Failed { error } => {
                        tracing::error!(transform = %self.name, "feed not reloaded (the previous indicators stay): {error}");
                        counter!("intake_cti_reload_failures_total", "transform" => self.name.clone()).increment(1);
                    }
                    ReloadOutcome::Unchanged => {}
                }
            }
            self.report_loaded();
        }
        for (rule, n) in self.matcher.metrics().rule_matches {
            let before = self.reported.insert(rule.clone(), n).unwrap_or(0);
            if n > before {
                counter!("intake_cti_matches_total", "transform" => self.name.clone(), "rule" => rule)
                    .increment(n - before);
            }
        }
    }

    fn finish(&mut self, named: &mut BTreeMap<&'static str, EncodedBatch>) {
        let mut alerts = Vec::new();
        self.alerts.flush_all(&mut alerts);
        Self::push_alerts(alerts, named);
    }
}
