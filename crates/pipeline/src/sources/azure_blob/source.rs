//! The polling loop: list, claim, read from the checkpoint, hand on, move the checkpoint.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use chrono::{NaiveDate, TimeZone, Utc};
use tokio_util::sync::CancellationToken;

use super::checkpoint::{Checkpoint, CheckpointStore, TAIL_BYTES, tail_of};
use super::client::{BlobClient, BlobItem, LeaseTaken};
use super::records::{self, Schema};
use super::{AzureBlobSourceConfig, CheckpointPlace};

pub use crate::sources::deliver::{Deliver, Incoming};

/// How long a lease is taken for, and how often it is renewed while a blob is read.
const LEASE_SECS: u32 = 60;
const RENEW_EVERY: Duration = Duration::from_secs(20);
/// Azure may still append to a blob a little after its hour: it is finished only after
/// this delay past the hour's end.
const FINISH_GRACE: chrono::Duration = chrono::Duration::minutes(15);

enum Store {
    Local(CheckpointStore),
    /// Checkpoints in the metadata of lock blobs; `seen` remembers, per blob, the size
    /// at which it was last found fully read, so an unchanged blob costs no request.
    Account {
        container: String,
        seen: HashMap<String, u64>,
    },
}

/// What one poll did (for logs and tests).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollStats {
    pub blobs_read: usize,
    pub events: usize,
    pub dead_letters: usize,
    /// Blobs skipped because another instance holds their lease.
    pub leased_elsewhere: usize,
}

pub struct AzureBlobSource {
    config: AzureBlobSourceConfig,
    client: BlobClient,
    targets: HashMap<&'static str, Arc<dyn Deliver>>,
    only: Option<Schema>,
    store: Store,
}

/// The outcome of reading one blob.
enum Read {
    Done,
    /// The pipeline did not accept a batch: the checkpoint stays, the blob is read again
    /// at the next poll.
    Refused,
}

impl AzureBlobSource {
    /// `targets` holds one delivery per format of [`AzureBlobSourceConfig::formats`].
    pub fn new(
        config: AzureBlobSourceConfig,
        targets: HashMap<String, Arc<dyn Deliver>>,
    ) -> anyhow::Result<Self> {
        config.validate()?;
        let mut by_format = HashMap::new();
        for f in config.formats() {
            let t = targets
                .get(f)
                .with_context(|| format!("no delivery given for format {f}"))?;
            by_format.insert(f, t.clone());
        }
        let only = match config.format.as_str() {
            records::NSG_FORMAT => Some(Schema::Nsg),
            records::VNET_FORMAT => Some(Schema::Vnet),
            _ => None,
        };
        let store = match config.checkpoint_place() {
            CheckpointPlace::Local(dir) => Store::Local(CheckpointStore::open(&dir)?),
            CheckpointPlace::Account { container } => Store::Account {
                container,
                seen: HashMap::new(),
            },
        };
        Ok(AzureBlobSource {
            client: config.client()?,
            config,
            targets: by_format,
            only,
            store,
        })
    }

    /// Polls until `cancel` fires. A failed poll is logged and retried at the next one.
    pub async fn run(mut self, cancel: CancellationToken) {
        let every = Duration::from_secs(self.config.poll_interval_secs);
        loop {
            match self.poll_once(&cancel).await {
                Ok(s) if s.events > 0 || s.dead_letters > 0 => {
                    tracing::info!(
                        account = self.client.account(),
                        blobs = s.blobs_read,
                        events = s.events,
                        dead_letters = s.dead_letters,
                        "azure blob poll"
                    )
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(account = self.client.account(), "azure blob poll: {e:#}")
                }
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }

    /// One pass over every container.
    pub async fn poll_once(&mut self, cancel: &CancellationToken) -> anyhow::Result<PollStats> {
        let mut stats = PollStats::default();
        if let Store::Account { container, .. } = &self.store {
            self.client.create_container(container).await?;
        }
        for container in self.config.containers.clone() {
            let mut blobs = self.client.list(&container, &self.config.prefix).await?;
            blobs.sort_by(|a, b| a.name.cmp(&b.name));
            for item in blobs {
                if cancel.is_cancelled() {
                    return Ok(stats);
                }
                if let Err(e) = self.blob(&container, &item, cancel, &mut stats).await {
                    tracing::error!("{container}/{}: {e:#}", item.name);
                }
            }
        }
        Ok(stats)
    }

    async fn blob(
        &mut self,
        container: &str,
        item: &BlobItem,
        cancel: &CancellationToken,
        stats: &mut PollStats,
    ) -> anyhow::Result<()> {
        let key = format!("{container}/{}", item.name);
        match &mut self.store {
            Store::Local(store) => {
                let cp = store.get(&key).cloned().unwrap_or_default();
                if unchanged(&cp, item) {
                    return Ok(());
                }
                self.read(container, item, &key, cp, None, cancel, stats)
                    .await?;
            }
            Store::Account {
                container: lock_container,
                seen,
            } => {
                if seen.get(&key) == Some(&item.size) {
                    return Ok(());
                }
                let lock_container = lock_container.clone();
                self.client.ensure_blob(&lock_container, &key).await?;
                let lease = match self
                    .client
                    .acquire_lease(&lock_container, &key, LEASE_SECS)
                    .await
                {
                    Ok(l) => l,
                    Err(e) if e.is::<LeaseTaken>() => {
                        stats.leased_elsewhere += 1;
                        return Ok(());
                    }
                    Err(e) => return Err(e),
                };
                let renewing = CancellationToken::new();
                let renewer = {
                    let client = self.client.clone();
                    let (c, k, l) = (lock_container.clone(), key.clone(), lease.clone());
                    let stop = renewing.clone();
                    tokio::spawn(async move {
                        loop {
                            tokio::select! {
                                () = stop.cancelled() => return,
                                () = tokio::time::sleep(RENEW_EVERY) => {}
                            }
                            if let Err(e) = client.lease_action(&c, &k, &l, "renew").await {
                                tracing::warn!("renewing the lease of {k}: {e:#}");
                            }
                        }
                    })
                };
                let result = async {
                    let meta = self
                        .client
                        .metadata(&lock_container, &key)
                        .await?
                        .unwrap_or_default();
                    let cp = checkpoint_from_meta(&meta)
                        .with_context(|| format!("the checkpoint of {key} in {lock_container}"))?;
                    if unchanged(&cp, item) {
                        return Ok(Read::Done);
                    }
                    self.read(
                        container,
                        item,
                        &key,
                        cp,
                        Some((&lock_container, &lease)),
                        cancel,
                        stats,
                    )
                    .await
                }
                .await;
                renewing.cancel();
                let _ = renewer.await;
                if let Err(e) = self
                    .client
                    .lease_action(&lock_container, &key, &lease, "release")
                    .await
                {
                    // The lease expires by itself within a minute.
                    tracing::warn!("releasing the lease of {key}: {e:#}");
                }
                if let (Ok(Read::Done), Store::Account { seen, .. }) = (&result, &mut self.store) {
                    seen.insert(key, item.size);
                }
                result?;
            }
        }
        Ok(())
    }

    /// Reads a blob from its checkpoint to its current end and hands the records on.
    #[allow(clippy::too_many_arguments)]
    async fn read(
        &mut self,
        container: &str,
        item: &BlobItem,
        key: &str,
        mut cp: Checkpoint,
        lease: Option<(&str, &str)>,
        cancel: &CancellationToken,
        stats: &mut PollStats,
    ) -> anyhow::Result<Read> {
        let origin = format!("azure://{}/{key}", self.client.account());
        let read = loop {
            let tail_len = (TAIL_BYTES as u64).min(cp.offset);
            let at = cp.offset - tail_len;
            let read = self.client.read_from(container, &item.name, at).await?;
            let rewritten = match &read {
                None => cp.offset > 0,
                Some(r) => {
                    r.total < cp.offset
                        || r.bytes.len() < tail_len as usize
                        || tail_of(&r.bytes[..tail_len as usize]) != cp.tail
                }
            };
            if rewritten {
                tracing::warn!(
                    "{key}: the blob was rewritten (it no longer holds what was read up to byte {}); reading it again from the start",
                    cp.offset
                );
                cp = Checkpoint::default();
                continue;
            }
            match read {
                Some(r) => break (r, tail_len as usize),
                None => return Ok(Read::Done),
            }
        };
        let (read, tail_len) = read;
        stats.blobs_read += 1;
        let body = &read.bytes[tail_len..];
        let base = cp.offset;
        let place = records::At::of(base, &read.bytes[..tail_len]);
        let scan = match records::scan(body, place) {
            Ok(s) => s,
            Err(e) => {
                // The rest of what was read cannot be split into records: it goes to the
                // dead letter as is, and the blob is resumed after it.
                let reason = format!("{origin}: byte {}: {e}", base + e.offset as u64);
                let target = self.any_target();
                if !target
                    .dead_letter(&origin, reason, body[e.offset..].to_vec())
                    .await
                {
                    return Ok(Read::Refused);
                }
                stats.dead_letters += 1;
                cp.offset = base + body.len() as u64;
                cp.tail = tail_of(&read.bytes);
                cp.size = read.total;
                self.save(key, &cp, lease).await?;
                return Ok(Read::Done);
            }
        };
        let mut batch = Batch::default();
        let mut batch_end = 0usize;
        for range in &scan.records {
            let record = &body[range.clone()];
            match records::split(record, self.only) {
                Ok(split) => {
                    let events = batch.events.entry(split.schema.format()).or_default();
                    batch.count += split.messages.len();
                    events.extend(split.messages.into_iter().map(|message| Incoming {
                        message,
                        fields: None,
                        defaults: None,
                    }));
                }
                Err(e) => batch.dead.push((
                    format!(
                        "{origin}: record at byte {}: {e}",
                        base + range.start as u64
                    ),
                    record.to_vec(),
                )),
            }
            batch_end = range.end;
            if batch.count >= self.config.batch_events {
                if !self.flush(&origin, std::mem::take(&mut batch), stats).await {
                    return Ok(Read::Refused);
                }
                cp.offset = base + batch_end as u64;
                cp.tail = tail_of(&read.bytes[..tail_len + batch_end]);
                self.save(key, &cp, lease).await?;
                if cancel.is_cancelled() {
                    return Ok(Read::Done);
                }
            }
        }
        if !self.flush(&origin, batch, stats).await {
            return Ok(Read::Refused);
        }
        // With no record yet, the header alone is done with.
        let end = scan.consumed.max(batch_end);
        cp.offset = base + end as u64;
        cp.tail = tail_of(&read.bytes[..tail_len + end]);
        // Only now is everything up to the blob's size handed on (a kill before this
        // leaves the old size, so the blob is read again from the checkpoint).
        cp.size = read.total;
        if scan.closed && hour_over(&item.name) && base + body.len() as u64 >= read.total {
            cp.finished = true;
        }
        self.save(key, &cp, lease).await?;
        Ok(Read::Done)
    }

    fn any_target(&self) -> Arc<dyn Deliver> {
        self.targets
            .values()
            .next()
            .expect("at least one format")
            .clone()
    }

    /// Hands a batch on; `true` once everything in it was accepted.
    async fn flush(&self, origin: &str, batch: Batch, stats: &mut PollStats) -> bool {
        for (format, events) in batch.events {
            if events.is_empty() {
                continue;
            }
            let n = events.len();
            if !self.targets[format].deliver(origin, events).await {
                return false;
            }
            stats.events += n;
        }
        for (reason, raw) in batch.dead {
            tracing::warn!("{reason}");
            if !self.any_target().dead_letter(origin, reason, raw).await {
                return false;
            }
            stats.dead_letters += 1;
        }
        true
    }

    async fn save(
        &mut self,
        key: &str,
        cp: &Checkpoint,
        lease: Option<(&str, &str)>,
    ) -> anyhow::Result<()> {
        match (&mut self.store, lease) {
            (Store::Local(store), _) => store.set(key, cp.clone()),
            (Store::Account { .. }, Some((container, lease))) => {
                let mut meta = BTreeMap::new();
                meta.insert("offset".to_string(), cp.offset.to_string());
                meta.insert("tail".to_string(), cp.tail.clone());
                meta.insert("size".to_string(), cp.size.to_string());
                meta.insert("finished".to_string(), cp.finished.to_string());
                self.client.set_metadata(container, key, lease, &meta).await
            }
            (Store::Account { .. }, None) => bail!("a checkpoint in the account needs the lease"),
        }
    }
}

/// Events of one batch per format, and the records that gave none.
#[derive(Default)]
struct Batch {
    events: BTreeMap<&'static str, Vec<Incoming>>,
    dead: Vec<(String, Vec<u8>)>,
    count: usize,
}

fn checkpoint_from_meta(meta: &BTreeMap<String, String>) -> anyhow::Result<Checkpoint> {
    let Some(offset) = meta.get("offset") else {
        return Ok(Checkpoint::default());
    };
    Ok(Checkpoint {
        offset: offset
            .parse()
            .map_err(|_| anyhow!("offset {offset:?} is not a number"))?,
        tail: meta.get("tail").cloned().unwrap_or_default(),
        size: meta
            .get("size")
            .and_then(|s| s.parse().ok())
            .unwrap_or_default(),
        finished: meta.get("finished").is_some_and(|f| f == "true"),
    })
}

/// Nothing to read: the blob is finished, or it has not changed since it was read and
/// its hour is still open (once the hour is over, one more read may finish it).
fn unchanged(cp: &Checkpoint, item: &BlobItem) -> bool {
    cp.finished || (cp.size == item.size && item.size > 0 && !hour_over(&item.name))
}

/// The start of the hour a flow log blob covers, from the `y=/m=/d=/h=` segments of
/// its name.
pub fn blob_hour(name: &str) -> Option<chrono::DateTime<Utc>> {
    let (mut y, mut mo, mut d, mut h) = (None, None, None, None);
    for seg in name.split('/') {
        let Some((k, v)) = seg.split_once('=') else {
            continue;
        };
        match k {
            "y" => y = v.parse::<i32>().ok(),
            // The first `m=` is the month, the one after `h=` the minute.
            "m" if mo.is_none() => mo = v.parse::<u32>().ok(),
            "d" => d = v.parse::<u32>().ok(),
            "h" => h = v.parse::<u32>().ok(),
            _ => {}
        }
    }
    let date = NaiveDate::from_ymd_opt(y?, mo?, d?)?;
    Some(Utc.from_utc_datetime(&date.and_hms_opt(h?, 0, 0)?))
}

/// The blob's hour (and the grace after it) is over: Azure writes no more to it.
fn hour_over(name: &str) -> bool {
    blob_hour(name)
        .is_some_and(|start| Utc::now() >= start + chrono::Duration::hours(1) + FINISH_GRACE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hour_comes_from_the_name() {
        let name = "resourceId=/SUBSCRIPTIONS/S/RESOURCEGROUPS/G/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/N/y=2026/m=03/d=02/h=14/m=00/macAddress=00224880A1B2/PT1H.json";
        assert_eq!(
            blob_hour(name).unwrap().to_rfc3339(),
            "2026-03-02T14:00:00+00:00"
        );
        assert!(hour_over(name));
        assert_eq!(blob_hour("flowlogs/PT1H.json"), None);
        assert!(!hour_over("flowlogs/PT1H.json"));
        let now = Utc::now();
        let current = format!(
            "x/y={}/m={}/d={}/h={}/m=00/PT1H.json",
            now.format("%Y"),
            now.format("%m"),
            now.format("%d"),
            now.format("%H")
        );
        assert!(!hour_over(&current));
    }

    #[test]
    fn a_checkpoint_in_metadata_is_read_back_or_refused() {
        let mut m = BTreeMap::new();
        assert_eq!(checkpoint_from_meta(&m).unwrap(), Checkpoint::default());
        m.insert("offset".into(), "120".into());
        m.insert("tail".into(), "7d".into());
        m.insert("finished".into(), "true".into());
        let cp = checkpoint_from_meta(&m).unwrap();
        assert_eq!(
            (cp.offset, cp.tail.as_str(), cp.finished),
            (120, "7d", true)
        );
        m.insert("offset".into(), "x".into());
        assert!(checkpoint_from_meta(&m).is_err());
    }
}
