//! The `stdin` source: one event per line of standard input, until its end.

use std::io::BufReader;

use crate::event::Output;
use crate::normalize::Normalizer;
use crate::shutdown::Signal;

pub fn run(output: Output, normalizer: Normalizer, stop: Signal) {
    let stdin = std::io::stdin();
    let mut reader = BufReader::with_capacity(64 * 1024, stdin.lock());
    match super::read_lines(&mut reader, &output, &normalizer, "stdin", 0, &stop, None) {
        Ok((n, _)) => tracing::info!(source = %output.source, lines = n, "end of standard input"),
        Err(e) => super::report(&output, "stdin", format!("cannot read standard input: {e}")),
    }
}
