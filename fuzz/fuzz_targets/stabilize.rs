//! The rebuild comparison (`diffoscope_lite::stabilize::compare`, every
//! stabilizer allowed) on two artifacts from one input: it must never
//! panic, and "equivalent" must mean the modules and data files have the
//! same bytes on both sides.
//!
//! Input: as `compare`'s, a two-byte little-endian length of the first
//! artifact, its bytes, then the second. The promises are in
//! `diffoscope_lite::fuzzing::stabilize`, which the stable test
//! `diffoscope-lite/tests/fuzz_regressions.rs` runs the seeds through too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| diffoscope_lite::fuzzing::stabilize(data));
