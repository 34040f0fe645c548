//! `dsv.parse-dsv` with a fuzzed delimiter, column count and record.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| intake_fuzz::dsv(data));
