//! Throughput of the built-in formats and of a few engine hot paths.
//!
//! `cargo bench -p intake-formats --bench formats [-- FILTER]`
//!
//! Groups:
//! - `format/<slug>/<sample>`: raw events already in memory → `Format::parse` →
//!   `write_json`, per event (throughput in elements = events). Samples are the lines
//!   in `benches/data/` (256 each, written by the `bench/gen_*.py` generators with
//!   `--seed 1`) and the format's own test cases.
//! - `micro/*`: a `dsv.parse-dsv` split of a v5 VPC record, the evaluation of a plain
//!   path template (`{{ flow.record.srcaddr }}`), and date autodetection of a 10-digit
//!   epoch (string and integer).
//!
//! These are measurements: nothing here asserts on time. An event the format rejects
//! is still measured (rejection is a normal outcome); the count of rejected events of
//! each sample is printed once so that a figure measured on rejections is visible.

use std::hint::black_box;

use chrono::TimeZone;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use intake_engine::datetime::{self, Timestamp};
use intake_engine::externals;
use intake_engine::json::write_json;
use intake_engine::template::{Env, Scope, Template};
use intake_engine::{Format, Map, Value};

const VPC_V2: &str = include_str!("data/vpc-v2.log");
const VPC_V5: &str = include_str!("data/vpc-v5.log");
const AZURE_NSG: &str = include_str!("data/azure-nsg.log");
const PULSE: &str = include_str!("data/pulse.log");

/// The generated samples of each built-in format.
const SAMPLES: &[(&str, &str, &str)] = &[
    ("aws-vpc-flow-logs", "vpc-v2", VPC_V2),
    ("aws-vpc-flow-logs", "vpc-v5", VPC_V5),
    ("aws-vpcflow-elastic", "vpc-v2", VPC_V2),
    ("azure-nsg-flow-logs", "azure-nsg", AZURE_NSG),
    ("pulse-connect-secure", "pulse", PULSE),
];

fn now() -> Timestamp {
    chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn message_map(line: &str) -> Map {
    let mut m = Map::with_capacity(1);
    m.insert("message", Value::from(line));
    m
}

/// Normalizes every input of `events` once, serializing the results into `out`.
fn run_all(format: &Format, events: &[Map], out: &mut Vec<u8>) -> usize {
    out.clear();
    let mut rejected = 0;
    for input in events {
        match format.parse(input.clone(), now()) {
            Ok(v) => {
                write_json(&v, out);
                out.push(b'\n');
            }
            Err(_) => rejected += 1,
        }
    }
    rejected
}

fn bench_one(c: &mut Criterion, slug: &str, sample: &str, format: &Format, events: Vec<Map>) {
    if events.is_empty() {
        return;
    }
    let mut out = Vec::with_capacity(1 << 20);
    let rejected = run_all(format, &events, &mut out);
    eprintln!(
        "format/{slug}/{sample}: {} events, {rejected} rejected, {} bytes of output",
        events.len(),
        out.len()
    );
    let mut group = c.benchmark_group(format!("format/{slug}"));
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function(sample, |b| {
        // The input map is moved into `parse`, so each batch gets fresh copies; the
        // copy is made outside the timed part.
        b.iter_batched_ref(
            || events.clone(),
            |batch| {
                out.clear();
                for input in batch.drain(..) {
                    if let Ok(v) = format.parse(input, now()) {
                        write_json(&v, &mut out);
                        out.push(b'\n');
                    }
                }
                black_box(out.len())
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn formats(c: &mut Criterion) {
    for info in intake_formats::list() {
        let slug = info.slug.as_str();
        let format = match intake_formats::builtin(slug) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("format/{slug}: cannot load: {e}");
                continue;
            }
        };
        for (s, sample, text) in SAMPLES {
            if *s == slug {
                bench_one(
                    c,
                    slug,
                    sample,
                    &format,
                    text.lines().map(message_map).collect(),
                );
            }
        }
        let cases = intake_formats::builtin_folder(slug)
            .map(|f| f.tests.into_iter().map(|t| t.input).collect())
            .unwrap_or_default();
        bench_one(c, slug, "test-cases", &format, cases);
    }
}

/// Names `flow` as slot 0 and nothing else.
struct FlowScope;

impl Scope for FlowScope {
    fn slot(&self, name: &str) -> Option<usize> {
        (name == "flow").then_some(0)
    }
}

const V5_COLUMNS: &[&str] = &[
    "version",
    "account_id",
    "interface_id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log_status",
    "vpc_id",
    "subnet_id",
    "instance_id",
    "tcp_flags",
    "type",
    "pkt_srcaddr",
    "pkt_dstaddr",
    "region",
    "az_id",
    "sublocation_type",
    "sublocation_id",
    "pkt_src_aws_service",
    "pkt_dst_aws_service",
    "flow_direction",
    "traffic_path",
];

fn micro(c: &mut Criterion) {
    let mut group = c.benchmark_group("micro");
    group.throughput(Throughput::Elements(1));

    // dsv: one v5 record split on spaces into 29 named columns.
    let mut props = Map::new();
    props.insert("delimiter", Value::from(" "));
    props.insert(
        "columnnames",
        Value::List(V5_COLUMNS.iter().map(|c| Value::from(*c)).collect()),
    );
    let mut warnings = Vec::new();
    match externals::compile("dsv.parse-dsv", &props, &FlowScope, &mut warnings) {
        Ok(dsv) => {
            let line = Value::from(VPC_V5.lines().next().unwrap_or_default());
            let slots: [Option<Value>; 0] = [];
            let env = Env::new(&slots, now());
            group.bench_function("dsv_split_v5_29_columns", |b| {
                b.iter(|| dsv.parse(black_box(&line), &env))
            });
        }
        Err(e) => eprintln!("micro/dsv: cannot compile: {e}"),
    }

    // Template: a plain path into a layer.
    match Template::compile("{{ flow.record.srcaddr }}", &FlowScope) {
        Ok(t) => {
            let mut record = Map::new();
            for (i, col) in V5_COLUMNS.iter().enumerate() {
                record.insert(*col, Value::from(format!("value-{i}")));
            }
            let mut layer = Map::new();
            layer.insert("record", Value::Map(record));
            let slots = [Some(Value::Map(layer))];
            let env = Env::new(&slots, now());
            match t.eval(&env) {
                Ok(Some(v)) => eprintln!("micro/template_plain_path: evaluates to {v:?}"),
                other => {
                    eprintln!("micro/template_plain_path: evaluates to {other:?} (not the field)")
                }
            }
            group.bench_function("template_plain_path", |b| {
                b.iter(|| t.eval(black_box(&env)))
            });
        }
        Err(e) => eprintln!("micro/template: cannot compile: {e}"),
    }

    // Dates: autodetection of epoch seconds, as text and as an integer.
    let text = Value::from("1599665193");
    let int = Value::Int(1599665193);
    group.bench_function("date_auto_epoch10_str", |b| {
        b.iter(|| datetime::parse_auto(black_box(&text), now()))
    });
    group.bench_function("date_auto_epoch10_int", |b| {
        b.iter(|| datetime::parse_auto(black_box(&int), now()))
    });
    group.finish();
}

criterion_group!(benches, formats, micro);
criterion_main!(benches);
