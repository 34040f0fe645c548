//! `Template::compile` + `eval` on the input as template source.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| intake_fuzz::template(data));
