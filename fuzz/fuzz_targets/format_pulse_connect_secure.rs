//! The whole path of the built-in format `pulse-connect-secure`: a raw event → `Format::parse` → JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| intake_fuzz::format_parse("pulse-connect-secure", data));
