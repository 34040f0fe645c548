//! date autodetection, epochs, zones and strptime formats.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| intake_fuzz::date(data));
