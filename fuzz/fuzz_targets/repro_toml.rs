//! `repro.toml` as a source tree carries it: any bytes in the file, read by
//! `BuildConfig::new` exactly as `repro build` reads it (nothing is built
//! or executed: the configuration is only loaded and validated).
//!
//! Promises: no panic; an error names the file (`repro.toml`), since
//! the options given here are all defaults and so cannot be at fault.
#![no_main]

use libfuzzer_sys::fuzz_target;
use repro::{BuildConfig, BuildOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, text)) = data.split_first() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temporary directory");
    let source = tmp.path().join("src");
    std::fs::create_dir(&source).expect("source directory");
    // A tiny fixture: one file for the source date to come from, and a
    // directory the file's ro_paths and fetch outputs may name.
    std::fs::write(source.join("build.sh"), "echo hi\n").expect("fixture");
    std::fs::create_dir(source.join("deps")).expect("fixture");
    std::fs::write(source.join("repro.toml"), text).expect("repro.toml");
    let opts = BuildOptions {
        source: Some(source),
        out: Some(tmp.path().join("out")),
        // With bit 0, the file may weaken the sandbox: the checks of its
        // values behind that gate run too.
        trust_config: flags & 1 == 1,
        ..BuildOptions::default()
    };
    if let Err(e) = BuildConfig::new(opts) {
        let msg = format!("{e:#}");
        assert!(
            msg.contains("repro.toml"),
            "the error does not name the file: {msg}"
        );
    }
});
