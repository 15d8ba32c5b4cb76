//! Normalizing any input must never panic; what it refuses the digest
//! refuses, what it writes is a fixed point with the input's digest, and
//! it never launders damage. The promises are in
//! `diffoscope_lite::fuzzing::normalize`, which the stable test
//! `diffoscope-lite/tests/fuzz_regressions.rs` runs the seeds through too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| diffoscope_lite::fuzzing::normalize(data));
