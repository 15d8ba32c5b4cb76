//! Command-line types (clap); nothing else in the crate sees clap.

mod args;

pub use args::{
    AttestArgs, BuildArgs, Cli, Command, DiffArgs, HashArgs, KeygenArgs, NormalizeArgs,
    RebuildArgs, ReportArgs, SbomArgs, VerifyArgs,
};
