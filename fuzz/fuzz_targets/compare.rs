//! Two artifacts from one input: comparing them must never panic, hang or
//! exceed the limits, and content that differs is never reported identical.
//!
//! Input: a two-byte little-endian length of the first artifact, its
//! bytes, then the second artifact (all the rest); see
//! `diffoscope_lite::fuzzing::compare`, which holds the promises (the
//! stable test `diffoscope-lite/tests/fuzz_regressions.rs` runs the seeds
//! through it too).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| diffoscope_lite::fuzzing::compare(data));
