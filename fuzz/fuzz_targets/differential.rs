//! Every planned built-in format on one line, through the flat executor and through
//! the interpreter: any difference (bytes written, accepted or rejected, the reason)
//! is a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| intake_fuzz::differential(data));
