//! `kv.parse-kv` with fuzzed separators and text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| intake_fuzz::kv(data));
