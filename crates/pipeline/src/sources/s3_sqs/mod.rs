//! The `aws_s3_sqs` source: long-polls an SQS queue for S3 object notifications,
//! reads each object named, normalizes its records and hands them to the sinks.
//!
//! At-least-once: a message is deleted only once every event of every object it
//! names has been accepted by every sink it feeds (or dead-lettered with its
//! reason). On any other outcome it is left in the queue and comes back after its
//! visibility timeout. While a message is worked on, its visibility timeout is
//! extended periodically.

pub mod layout;
pub mod notification;
pub mod object;
pub mod parquet;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::io::SyncIoBridge;
use tokio_util::sync::CancellationToken;

use crate::ack::AckRef;
use crate::component::{
    Source, SourceBuild, SourceCommon, SourceConfig, SourceContext, SourceOutput,
};
use crate::dead_letter::DeadRecord;
use crate::internal_events::{s3_count, sqs_lag};

use crate::sources::StreamStats;
use layout::Layout;
use notification::{Notification, ObjectRef};
use object::{ObjectContext, ObjectError, SourceReader};

/// Authentication and endpoint settings shared by the AWS clients.
#[derive(Debug, Clone, Default)]
pub struct AwsAuth {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub role_arn: Option<String>,
    pub web_identity_token_file: Option<PathBuf>,
    pub role_session_name: Option<String>,
}

#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3SqsConfig {
    pub queue_url: String,
    pub region: String,
    /// Any S3/SQS/STS-compatible endpoint (moto, LocalStack, MinIO + ElasticMQ…).
    pub endpoint_url: Option<String>,
    /// Path-style S3 addressing; defaults to true when `endpoint_url` is set.
    pub force_path_style: Option<bool>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub role_arn: Option<String>,
    pub web_identity_token_file: Option<PathBuf>,
    pub role_session_name: Option<String>,
    /// Messages per ReceiveMessage call, 1 to 10.
    #[serde(default = "default_batch_size")]
    pub batch_size: i32,
    /// Long-poll wait, 0 to 20 seconds.
    #[serde(default = "default_wait_time")]
    pub wait_time_secs: i32,
    /// Messages processed at the same time.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Visibility timeout asked for on receive, and renewed while a message is worked on.
    #[serde(default = "default_visibility")]
    pub visibility_timeout_secs: i32,
    /// Only objects whose key starts with this prefix.
    pub key_prefix: Option<String>,
    /// Only objects whose key matches this glob pattern (`*` matches `/` too).
    pub key_pattern: Option<String>,
    /// Field names of headerless text objects (CloudWatch/Firehose exports).
    pub fields: Option<Vec<String>>,
}

/// Secrets are never shown (`intake validate`, logs, errors).
impl std::fmt::Debug for S3SqsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3SqsConfig")
            .field("queue_url", &self.queue_url)
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("role_arn", &self.role_arn)
            .finish_non_exhaustive()
    }
}

fn default_batch_size() -> i32 {
    10
}
fn default_wait_time() -> i32 {
    20
}
fn default_concurrency() -> usize {
    4
}
fn default_visibility() -> i32 {
    300
}

impl S3SqsConfig {
    pub fn auth(&self) -> AwsAuth {
        AwsAuth {
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            session_token: self.session_token.clone(),
            role_arn: self.role_arn.clone(),
            web_identity_token_file: self.web_identity_token_file.clone(),
            role_session_name: self.role_session_name.clone(),
        }
    }

    async fn clients(&self) -> anyhow::Result<Clients> {
        let sdk =
            crate::aws::sdk_config(&self.region, self.endpoint_url.as_deref(), &self.auth()).await;
        let path_style = self.force_path_style.unwrap_or(self.endpoint_url.is_some());
        Ok(Clients {
            sqs: crate::aws::sqs_client(&sdk),
            s3: crate::aws::s3_client(&sdk, path_style),
        })
    }
}

struct Clients {
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
}

#[async_trait]
impl SourceConfig for S3SqsConfig {
    fn validate(&self, _common: &SourceCommon) -> anyhow::Result<()> {
        use anyhow::bail;
        if !(1..=10).contains(&self.batch_size) {
            bail!("batch_size: must be 1 to 10");
        }
        if !(0..=20).contains(&self.wait_time_secs) {
            bail!("wait_time_secs: must be 0 to 20");
        }
        if self.concurrency == 0 {
            bail!("concurrency: must be at least 1");
        }
        if !(1..=43_200).contains(&self.visibility_timeout_secs) {
            bail!("visibility_timeout_secs: must be 1 to 43200");
        }
        if self.queue_url.is_empty() {
            bail!("queue_url: empty");
        }
        if self.region.is_empty() {
            bail!("region: empty");
        }
        match (&self.access_key_id, &self.secret_access_key) {
            (Some(_), None) | (None, Some(_)) => {
                bail!("access_key_id and secret_access_key go together")
            }
            (Some(_), Some(_)) if self.role_arn.is_some() => {
                bail!("give either static keys or role_arn, not both")
            }
            _ => {}
        }
        if self.web_identity_token_file.is_some() && self.role_arn.is_none() {
            bail!("web_identity_token_file needs role_arn");
        }
        if self.role_arn.is_some() && self.web_identity_token_file.is_none() {
            bail!("role_arn needs web_identity_token_file (OIDC web identity)");
        }
        if let Some(p) = &self.key_pattern {
            glob::Pattern::new(p).map_err(|e| anyhow::anyhow!("key_pattern: {e}"))?;
        }
        if let Some(f) = &self.fields
            && f.is_empty()
        {
            bail!("fields: empty");
        }
        Ok(())
    }

    async fn build(&self, cx: &SourceBuild) -> anyhow::Result<Box<dyn Source>> {
        let key_pattern = match &self.key_pattern {
            Some(p) => Some(glob::Pattern::new(p)?),
            None => None,
        };
        let clients = self.clients().await?;
        Ok(Box::new(S3SqsSource {
            config: self.clone(),
            clients,
            fields: self.fields.as_deref().map(Layout::from_names),
            key_pattern,
            max_event_bytes: cx.common.max_event_bytes,
        }))
    }

    async fn healthcheck(&self, _cx: &SourceBuild) -> anyhow::Result<Option<String>> {
        let clients = self.clients().await?;
        let arn = tokio::time::timeout(
            Duration::from_secs(30),
            check_queue(&clients.sqs, &self.queue_url),
        )
        .await
        .map_err(|_| anyhow::anyhow!("timed out reaching the queue"))??;
        Ok(Some(format!("queue reachable ({arn})")))
    }
}

struct S3SqsSource {
    config: S3SqsConfig,
    clients: Clients,
    fields: Option<Layout>,
    key_pattern: Option<glob::Pattern>,
    max_event_bytes: usize,
}

struct Inner {
    name: Arc<str>,
    config: S3SqsConfig,
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    output: SourceOutput,
    fields: Option<Layout>,
    key_pattern: Option<glob::Pattern>,
    max_event_bytes: usize,
    abort: CancellationToken,
}

/// Checks that the queue is reachable with the configured credentials.
async fn check_queue(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> anyhow::Result<String> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "queue {queue_url}: {}",
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

#[async_trait]
impl Source for S3SqsSource {
    /// Receives and processes messages until `stop`; then lets in-flight messages
    /// finish until `abort`.
    async fn run(self: Box<Self>, cx: SourceContext) -> anyhow::Result<()> {
        let inner = Arc::new(Inner {
            name: cx.name.clone(),
            config: self.config,
            sqs: self.clients.sqs,
            s3: self.clients.s3,
            output: cx.output,
            fields: self.fields,
            key_pattern: self.key_pattern,
            max_event_bytes: self.max_event_bytes,
            abort: cx.abort,
        });
        run(inner, cx.stop).await;
        Ok(())
    }
}

/// Receives and processes messages until `stop`; then lets in-flight messages
/// finish until `abort`.
async fn run(inner: Arc<Inner>, stop: CancellationToken) {
    let config = &inner.config;
    tracing::info!(source = %inner.name, queue = %config.queue_url, "polling SQS");
    let semaphore = Arc::new(Semaphore::new(config.concurrency));
    let mut tasks = JoinSet::new();
    let mut failures = 0u32;
    loop {
        while tasks.try_join_next().is_some() {}
        let permit = tokio::select! {
            p = semaphore.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = stop.cancelled() => break,
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
            _ = stop.cancelled() => break,
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
                    _ = stop.cancelled() => break,
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

async fn handle_message(inner: &Inner, message: Message) {
    s3_count("intake_sqs_messages_received_total", &inner.name, 1);
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
        sqs_lag(&inner.name, lag.max(0));
    }
    let body = message.body.unwrap_or_default();

    let extender = tokio::spawn(extend_visibility(
        inner.sqs.clone(),
        inner.config.queue_url.clone(),
        receipt.clone(),
        inner.config.visibility_timeout_secs,
        inner.name.clone(),
        id.clone(),
    ));
    let outcome = tokio::select! {
        r = process_message(inner, &id, &body) => r,
        _ = inner.abort.cancelled() => Err("abandoned at shutdown".to_string()),
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
                    s3_count("intake_sqs_messages_deleted_total", &inner.name, 1);
                    tracing::debug!(source = %inner.name, message_id = %id, "message done and deleted");
                }
                Err(e) => {
                    tracing::error!(source = %inner.name, message_id = %id, "DeleteMessage failed (the message will come back): {}", aws_sdk_sqs::error::DisplayErrorContext(e))
                }
            }
        }
        Err(reason) => {
            s3_count("intake_sqs_messages_retained_total", &inner.name, 1);
            tracing::warn!(source = %inner.name, message_id = %id, "message left in the queue for redelivery: {reason}");
        }
    }
}

async fn extend_visibility(
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    receipt: String,
    timeout: i32,
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
                s3_count("intake_sqs_visibility_extensions_total", &source, 1);
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
            .dead_letter(&[record], &root)
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
    ) -> Result<StreamStats, ObjectError> {
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
            fields: self.fields.clone(),
            max_event_bytes: self.max_event_bytes,
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
        s3_count(
            "intake_s3_bytes_total",
            &self.name,
            bytes.load(std::sync::atomic::Ordering::Relaxed),
        );
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
                    raw: Some(body.as_bytes().to_vec()),
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
                s3_count("intake_s3_objects_total", &inner.name, 1);
                tracing::info!(source = %inner.name, message_id = %id, object = %obj.url(), lines = stats.lines, bytes = stats.bytes, "object read");
            }
            Err(ObjectError::Permanent(reason)) => {
                s3_count("intake_s3_object_errors_total", &inner.name, 1);
                tracing::error!(source = %inner.name, message_id = %id, object = %obj.url(), "cannot read object: {reason}");
                let record = DeadRecord {
                    reason,
                    raw: None,
                    origin: Some(obj.url()),
                    line: None,
                    sqs_message_id: Some(id.to_string()),
                };
                if let Err(e) = inner.output.dead_letter(&[record], &root).await {
                    root.reject();
                    return Err(e.to_string());
                }
            }
            Err(ObjectError::Transient(reason)) => {
                s3_count("intake_s3_object_errors_total", &inner.name, 1);
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
