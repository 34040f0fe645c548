//! What intake tells about itself: each internal event is a type whose `emit` both
//! logs (at the level it deserves) and counts, so that a log line and its metric
//! can never disagree. Every metric name is here, with its description.

use metrics::{counter, gauge, histogram};

/// Registers the descriptions shown by `GET /metrics`.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "intake_events_in_total",
        "Raw events handed on by a source."
    );
    describe_counter!(
        "intake_bytes_in_total",
        "Bytes of raw events handed on by a source."
    );
    describe_counter!(
        "intake_events_normalized_total",
        "Events normalized by a source's format."
    );
    describe_counter!(
        "intake_events_interpreted_fallback_total",
        "Events the flat executor handed to the interpreter, per format."
    );
    describe_counter!(
        "intake_events_dead_lettered_total",
        "Events and records sent to the dead letter, with their reason."
    );
    describe_counter!("intake_events_out_total", "Events accepted by a sink.");
    describe_counter!("intake_sink_retries_total", "Requests a sink retried.");
    describe_counter!(
        "intake_sink_errors_total",
        "Batches a sink failed to deliver (not acknowledged)."
    );
    describe_counter!(
        "intake_sink_rejected_total",
        "Events a sink's destination refused for good (sent to the dead letter)."
    );
    describe_histogram!(
        "intake_sink_request_seconds",
        "Time of one sink request or write, until accepted."
    );
    describe_histogram!(
        "intake_end_to_end_seconds",
        "Time from a batch's receipt by a source to its acceptance by every sink."
    );
    describe_counter!(
        "intake_batches_unacknowledged_total",
        "Batches not accepted by every sink (their upstream unit is not acknowledged)."
    );
    describe_counter!(
        "intake_sqs_messages_received_total",
        "SQS messages received."
    );
    describe_counter!(
        "intake_sqs_messages_deleted_total",
        "SQS messages deleted after every event they named was delivered."
    );
    describe_counter!(
        "intake_sqs_messages_retained_total",
        "SQS messages left in the queue for redelivery after a failure."
    );
    describe_counter!(
        "intake_sqs_visibility_extensions_total",
        "Visibility timeout extensions of in-flight SQS messages."
    );
    describe_gauge!(
        "intake_sqs_lag_seconds",
        "Age of the last SQS message received, at reception."
    );
    describe_counter!("intake_s3_objects_total", "S3 objects read to the end.");
    describe_counter!(
        "intake_s3_object_errors_total",
        "S3 objects that could not be read (missing, corrupt, access denied)."
    );
    describe_counter!(
        "intake_s3_bytes_total",
        "Bytes read from S3 (as stored, before decompression)."
    );
}

/// A source handed raw events on.
pub struct EventsReceived<'a> {
    pub source: &'a str,
    pub count: usize,
    pub bytes: usize,
}

impl EventsReceived<'_> {
    pub fn emit(self) {
        tracing::trace!(source = self.source, count = self.count, "events received");
        counter!("intake_events_in_total", "source" => self.source.to_string())
            .increment(self.count as u64);
        counter!("intake_bytes_in_total", "source" => self.source.to_string())
            .increment(self.bytes as u64);
    }
}

/// A batch was normalized.
pub struct EventsNormalized<'a> {
    pub source: &'a str,
    pub format: &'a str,
    pub count: usize,
    pub fell_back: u64,
}

impl EventsNormalized<'_> {
    pub fn emit(self) {
        counter!("intake_events_normalized_total", "source" => self.source.to_string())
            .increment(self.count as u64);
        if self.fell_back > 0 {
            tracing::trace!(
                format = self.format,
                count = self.fell_back,
                "events interpreted"
            );
            counter!("intake_events_interpreted_fallback_total", "format" => self.format.to_string())
                .increment(self.fell_back);
        }
    }
}

/// Records went to the dead letter (each is logged there when no sink takes them).
pub struct DeadLettered<'a> {
    pub source: &'a str,
    pub count: usize,
}

impl DeadLettered<'_> {
    pub fn emit(self) {
        tracing::debug!(source = self.source, count = self.count, "dead-lettered");
        counter!("intake_events_dead_lettered_total", "source" => self.source.to_string())
            .increment(self.count as u64);
    }
}

/// Every claim on a batch was settled.
pub struct BatchSettled<'a> {
    pub source: &'a str,
    pub accepted: bool,
    pub seconds: f64,
}

impl BatchSettled<'_> {
    pub fn emit(self) {
        if self.accepted {
            histogram!("intake_end_to_end_seconds", "source" => self.source.to_string())
                .record(self.seconds);
        } else {
            tracing::debug!(
                source = self.source,
                "a batch was not accepted by every sink"
            );
            counter!("intake_batches_unacknowledged_total", "source" => self.source.to_string())
                .increment(1);
        }
    }
}

/// A sink delivered a batch.
pub struct SinkDelivered<'a> {
    pub sink: &'a str,
    pub events: usize,
    pub bytes: usize,
    pub seconds: f64,
}

impl SinkDelivered<'_> {
    pub fn emit(self) {
        tracing::trace!(
            sink = self.sink,
            events = self.events,
            bytes = self.bytes,
            "delivered"
        );
        counter!("intake_events_out_total", "sink" => self.sink.to_string())
            .increment(self.events as u64);
        histogram!("intake_sink_request_seconds", "sink" => self.sink.to_string())
            .record(self.seconds);
    }
}

/// A sink will try a request again.
pub struct SinkRetry<'a> {
    pub sink: &'a str,
    pub attempt: u32,
    pub reason: &'a str,
    pub wait: std::time::Duration,
}

impl SinkRetry<'_> {
    pub fn emit(self) {
        tracing::warn!(
            sink = self.sink,
            attempt = self.attempt,
            "delivery failed: {}; retrying in {:?}",
            self.reason,
            self.wait
        );
        counter!("intake_sink_retries_total", "sink" => self.sink.to_string()).increment(1);
    }
}

/// A sink gave up on a batch: it is not acknowledged (the source redelivers it).
pub struct SinkFailed<'a> {
    pub sink: &'a str,
    pub events: usize,
    pub reason: &'a str,
}

impl SinkFailed<'_> {
    pub fn emit(self) {
        tracing::error!(
            sink = self.sink,
            events = self.events,
            "batch not delivered: {}; not acknowledged",
            self.reason
        );
        counter!("intake_sink_errors_total", "sink" => self.sink.to_string()).increment(1);
    }
}

/// A sink's destination refused events for good: they go to the dead letter.
pub struct SinkRejected<'a> {
    pub sink: &'a str,
    pub events: usize,
    pub reason: &'a str,
}

impl SinkRejected<'_> {
    pub fn emit(self) {
        tracing::error!(
            sink = self.sink,
            events = self.events,
            "refused for good: {}; sent to the dead letter",
            self.reason
        );
        counter!("intake_sink_rejected_total", "sink" => self.sink.to_string())
            .increment(self.events as u64);
    }
}

/// Counters of the S3/SQS source, by name.
pub fn s3_count(name: &'static str, source: &str, n: u64) {
    counter!(name, "source" => source.to_string()).increment(n);
}

pub fn sqs_lag(source: &str, seconds: i64) {
    gauge!("intake_sqs_lag_seconds", "source" => source.to_string()).set(seconds as f64);
}
