//! The `aws_s3_sqs` source: long-polls an SQS queue for S3 object notifications,
//! reads each object named, normalizes its records and hands them to the sinks.
//!
//! At-least-once: a message is deleted only once every event of every object it
//! names has been accepted by every sink it feeds (or dead-lettered with its
//! reason). On any other outcome it is left in the queue and comes back after its
//! visibility timeout. While a message is worked on, its visibility timeout is
//! extended periodically.

pub mod notification;
pub mod object;
pub mod parquet;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::io::SyncIoBridge;

use crate::ack::AckRef;
use crate::config::S3SqsConfig;
use crate::dead_letter::DeadRecord;
use crate::event::Output;
use crate::metrics;
use crate::normalize::Normalizer;
use crate::shutdown::Signal;

use crate::decode::vpc_layout::Layout;
use notification::{Notification, ObjectRef};
use object::{ObjectContext, ObjectError, ObjectStats, SourceReader};

struct Counters {
    received: Arc<AtomicU64>,
    deleted: Arc<AtomicU64>,
    retained: Arc<AtomicU64>,
    extensions: Arc<AtomicU64>,
    objects: Arc<AtomicU64>,
    object_errors: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
    lag: Arc<AtomicI64>,
}

impl Counters {
    fn new(source: &str) -> Counters {
        let l = [("source", source)];
        Counters {
            received: metrics::counter("intake_sqs_messages_received_total", &l),
            deleted: metrics::counter("intake_sqs_messages_deleted_total", &l),
            retained: metrics::counter("intake_sqs_messages_retained_total", &l),
            extensions: metrics::counter("intake_sqs_visibility_extensions_total", &l),
            objects: metrics::counter("intake_s3_objects_total", &l),
            object_errors: metrics::counter("intake_s3_object_errors_total", &l),
            bytes: metrics::counter("intake_s3_bytes_total", &l),
            lag: metrics::gauge("intake_sqs_lag_seconds", &l),
        }
    }
}

struct Inner {
    name: Arc<str>,
    config: S3SqsConfig,
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    output: Output,
    normalizer: Normalizer,
    fields: Option<Layout>,
    key_pattern: Option<glob::Pattern>,
    abort: Signal,
    counters: Counters,
}

pub struct S3SqsSource {
    inner: Arc<Inner>,
    stop: Signal,
}

impl S3SqsSource {
    pub async fn new(
        name: Arc<str>,
        config: S3SqsConfig,
        output: Output,
        normalizer: Normalizer,
        stop: Signal,
        abort: Signal,
    ) -> anyhow::Result<S3SqsSource> {
        let sdk = crate::aws::sdk_config(
            &config.region,
            config.endpoint_url.as_deref(),
            &config.auth(),
        )
        .await;
        let path_style = config
            .force_path_style
            .unwrap_or(config.endpoint_url.is_some());
        let key_pattern = match &config.key_pattern {
            Some(p) => Some(glob::Pattern::new(p)?),
            None => None,
        };
        let fields = config.fields.as_deref().map(Layout::from_names);
        Ok(S3SqsSource {
            inner: Arc::new(Inner {
                counters: Counters::new(&name),
                name,
                sqs: crate::aws::sqs_client(&sdk),
                s3: crate::aws::s3_client(&sdk, path_style),
                config,
                output,
                normalizer,
                fields,
                key_pattern,
                abort,
            }),
            stop,
        })
    }

    /// Checks that the queue is reachable with the configured credentials.
    pub async fn check_online(&self) -> anyhow::Result<String> {
        let out = self
            .inner
            .sqs
            .get_queue_attributes()
            .queue_url(&self.inner.config.queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "queue {}: {}",
                    self.inner.config.queue_url,
                    aws_sdk_sqs::error::DisplayErrorContext(e)
                )
            })?;
        Ok(out
            .attributes
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .cloned()
            })
            .unwrap_or_default())
    }

    /// Receives and processes messages until `stop`; then lets in-flight messages
    /// finish until `abort`.
    pub async fn run(self) {
        let inner = self.inner;
        let stop = self.stop;
        let config = &inner.config;
        tracing::info!(source = %inner.name, queue = %config.queue_url, "polling SQS");
        let semaphore = Arc::new(Semaphore::new(config.concurrency));
        let mut tasks = JoinSet::new();
        let mut failures = 0u32;
        loop {
            while tasks.try_join_next().is_some() {}
            let permit = tokio::select! {
                p = semaphore.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                _ = stop.fired() => break,
            };
            let room = 1 + semaphore.available_permits() as i32;
            let request = inner
                .sqs
                .receive_message()
                .queue_url(&config.queue_url)
                .max_number_of_messages(config.batch_size.min(room))
                .wait_time_seconds(config.wait_time_secs)
                .visibility_timeout(config.visibility_timeout_secs)
                .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
                .send();
            let result = tokio::select! {
                r = request => r,
                _ = stop.fired() => break,
            };
            let messages = match result {
                Ok(out) => {
                    failures = 0;
                    out.messages.unwrap_or_default()
                }
                Err(e) => {
                    failures += 1;
                    let wait = Duration::from_millis(500 * (1 << failures.min(6)));
                    tracing::error!(source = %inner.name, "ReceiveMessage failed: {}; retrying in {wait:?}", aws_sdk_sqs::error::DisplayErrorContext(e));
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => continue,
                        _ = stop.fired() => break,
                    }
                }
            };
            let mut permit = Some(permit);
            for message in messages {
                let p = match permit.take() {
                    Some(p) => p,
                    None => match semaphore.clone().try_acquire_owned() {
                        Ok(p) => p,
                        // Cannot happen (only this loop takes permits); wait if it does.
                        Err(_) => match semaphore.clone().acquire_owned().await {
                            Ok(p) => p,
                            Err(_) => break,
                        },
                    },
                };
                let inner = inner.clone();
                tasks.spawn(async move {
                    handle_message(&inner, message).await;
                    drop(p);
                });
            }
        }
        if !tasks.is_empty() {
            tracing::info!(source = %inner.name, in_flight = tasks.len(), "stopped receiving; finishing in-flight messages");
        }
        while tasks.join_next().await.is_some() {}
        tracing::info!(source = %inner.name, "stopped");
    }
}

async fn handle_message(inner: &Inner, message: Message) {
    let counters = &inner.counters;
    metrics::add(&counters.received, 1);
    let id = message.message_id.clone().unwrap_or_default();
    let Some(receipt) = message.receipt_handle.clone() else {
        tracing::error!(source = %inner.name, message_id = %id, "message without receipt handle");
        return;
    };
    if let Some(sent) = message
        .attributes
        .as_ref()
        .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
        .and_then(|s| s.parse::<i64>().ok())
    {
        let lag = (chrono::Utc::now().timestamp_millis() - sent) / 1000;
        counters.lag.store(lag.max(0), Ordering::Relaxed);
    }
    let body = message.body.unwrap_or_default();

    let extender = tokio::spawn(extend_visibility(
        inner.sqs.clone(),
        inner.config.queue_url.clone(),
        receipt.clone(),
        inner.config.visibility_timeout_secs,
        counters.extensions.clone(),
        inner.name.clone(),
        id.clone(),
    ));
    let outcome = tokio::select! {
        r = process_message(inner, &id, &body) => r,
        _ = inner.abort.fired() => Err("abandoned at shutdown".to_string()),
    };
    extender.abort();
    match outcome {
        Ok(()) => {
            let r = inner
                .sqs
                .delete_message()
                .queue_url(&inner.config.queue_url)
                .receipt_handle(&receipt)
                .send()
                .await;
            match r {
                Ok(_) => {
                    metrics::add(&counters.deleted, 1);
                    tracing::debug!(source = %inner.name, message_id = %id, "message done and deleted");
                }
                Err(e) => {
                    tracing::error!(source = %inner.name, message_id = %id, "DeleteMessage failed (the message will come back): {}", aws_sdk_sqs::error::DisplayErrorContext(e))
                }
            }
        }
        Err(reason) => {
            metrics::add(&counters.retained, 1);
            tracing::warn!(source = %inner.name, message_id = %id, "message left in the queue for redelivery: {reason}");
        }
    }
}

async fn extend_visibility(
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    receipt: String,
    timeout: i32,
    extensions: Arc<AtomicU64>,
    source: Arc<str>,
    id: String,
) {
    let period = Duration::from_millis((timeout as u64 * 1000 / 2).max(500));
    loop {
        tokio::time::sleep(period).await;
        let r = sqs
            .change_message_visibility()
            .queue_url(&queue_url)
            .receipt_handle(&receipt)
            .visibility_timeout(timeout)
            .send()
            .await;
        match r {
            Ok(_) => {
                metrics::add(&extensions, 1);
                tracing::debug!(source = %source, message_id = %id, "visibility extended by {timeout}s");
            }
            Err(e) => {
                tracing::warn!(source = %source, message_id = %id, "ChangeMessageVisibility failed: {}", aws_sdk_sqs::error::DisplayErrorContext(e))
            }
        }
    }
}

impl Inner {
    fn wanted(&self, key: &str) -> bool {
        self.config
            .key_prefix
            .as_deref()
            .is_none_or(|p| key.starts_with(p))
            && self.key_pattern.as_ref().is_none_or(|p| p.matches(key))
    }

    async fn dead_letter_and_wait(&self, record: DeadRecord) -> Result<(), String> {
        let (root, waiter) = AckRef::new();
        self.output
            .dead_letter
            .send(&[record], &root)
            .await
            .map_err(|e| e.to_string())?;
        root.accept();
        if waiter.wait().await {
            Ok(())
        } else {
            Err("the dead letter sink did not accept the record".into())
        }
    }

    async fn get_object(
        &self,
        obj: &ObjectRef,
    ) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, ObjectError> {
        let mut keys = vec![obj.key.as_str()];
        if obj.raw_key != obj.key {
            keys.push(obj.raw_key.as_str());
        }
        let mut last = String::new();
        for key in keys {
            match self
                .s3
                .get_object()
                .bucket(&obj.bucket)
                .key(key)
                .send()
                .await
            {
                Ok(out) => return Ok(out),
                Err(e) => {
                    let missing = e.as_service_error().is_some_and(|s| s.is_no_such_key());
                    let text = sdk_error_text(&e);
                    if !missing {
                        return Err(ObjectError::Transient(format!(
                            "{}: GetObject failed: {text}",
                            obj.url()
                        )));
                    }
                    last = text;
                }
            }
        }
        Err(ObjectError::Permanent(format!(
            "{}: no such object ({last})",
            obj.url()
        )))
    }

    async fn process_object(
        &self,
        obj: &ObjectRef,
        message_id: &str,
        ack: AckRef,
    ) -> Result<ObjectStats, ObjectError> {
        let out = match self.get_object(obj).await {
            Ok(out) => out,
            Err(e) => {
                match &e {
                    ObjectError::Permanent(_) => ack.accept(),
                    ObjectError::Transient(_) => ack.reject(),
                }
                return Err(e);
            }
        };
        let reader = SourceReader::new(SyncIoBridge::new(out.body.into_async_read()));
        let bytes = reader.bytes.clone();
        let ctx = ObjectContext {
            url: obj.url(),
            message_id: message_id.to_string(),
            output: self.output.clone(),
            normalizer: self.normalizer.clone(),
            fields: self.fields.clone(),
            flow_logs: match &self.normalizer {
                crate::normalize::Normalizer::Engine(f) => {
                    crate::decode::vpc_layout::is_flow_log_format(f.slug())
                }
                crate::normalize::Normalizer::Raw => false,
            },
            ack,
            abort: self.abort.clone(),
        };
        let result = tokio::task::spawn_blocking(move || {
            let r = object::process(&ctx, reader);
            let ObjectContext { ack, .. } = ctx;
            match &r {
                Ok(_) | Err(ObjectError::Permanent(_)) => ack.accept(),
                Err(ObjectError::Transient(_)) => ack.reject(),
            }
            r
        })
        .await
        .map_err(|e| ObjectError::Transient(format!("{}: worker failed: {e}", obj.url())))?;
        metrics::add(&self.counters.bytes, bytes.load(Ordering::Relaxed));
        result
    }
}

/// A one-line description of an SDK error: the service's code and message when
/// there is one, else the full chain of causes.
fn sdk_error_text<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        Some(s) => format!(
            "{}: {}",
            s.code().unwrap_or("error"),
            s.message().unwrap_or("(no message)")
        ),
        None => aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
    }
}

/// `Ok` means the message can be deleted.
async fn process_message(inner: &Inner, id: &str, body: &str) -> Result<(), String> {
    let notification = match notification::parse(body) {
        Ok(n) => n,
        Err(reason) => {
            tracing::error!(source = %inner.name, message_id = %id, "{reason}; sent to the dead letter and deleted");
            return inner
                .dead_letter_and_wait(DeadRecord {
                    reason,
                    message: Some(body.to_string()),
                    origin: Some(inner.config.queue_url.clone()),
                    line: None,
                    sqs_message_id: Some(id.to_string()),
                })
                .await;
        }
    };
    let objects = match notification {
        Notification::Test { bucket } => {
            tracing::info!(source = %inner.name, message_id = %id, bucket = bucket.as_deref().unwrap_or(""), "s3:TestEvent acknowledged and skipped");
            return Ok(());
        }
        Notification::Ignored(why) => {
            tracing::info!(source = %inner.name, message_id = %id, "skipped: {why}");
            return Ok(());
        }
        Notification::Objects(objects) => objects,
    };
    let (root, waiter) = AckRef::new();
    for obj in &objects {
        if !inner.wanted(&obj.key) {
            tracing::debug!(source = %inner.name, message_id = %id, key = %obj.key, "skipped: key filtered out");
            continue;
        }
        match inner.process_object(obj, id, root.clone()).await {
            Ok(stats) => {
                metrics::add(&inner.counters.objects, 1);
                tracing::info!(source = %inner.name, message_id = %id, object = %obj.url(), events = stats.events, normalized = stats.normalized, dead_lettered = stats.dead, skipped = stats.skipped, "object read");
            }
            Err(ObjectError::Permanent(reason)) => {
                metrics::add(&inner.counters.object_errors, 1);
                tracing::error!(source = %inner.name, message_id = %id, object = %obj.url(), "cannot read object: {reason}");
                let record = DeadRecord {
                    reason,
                    message: None,
                    origin: Some(obj.url()),
                    line: None,
                    sqs_message_id: Some(id.to_string()),
                };
                if let Err(e) = inner.output.dead_letter.send(&[record], &root).await {
                    root.reject();
                    return Err(e.to_string());
                }
            }
            Err(ObjectError::Transient(reason)) => {
                metrics::add(&inner.counters.object_errors, 1);
                root.reject();
                return Err(reason);
            }
        }
    }
    root.accept();
    if waiter.wait().await {
        Ok(())
    } else {
        Err("a sink did not accept every event".into())
    }
}
