//! Command-line types (clap); nothing else in the crate sees clap.

mod args;

pub use args::{BuildArgs, Cli, Command, HashArgs, KeygenArgs};
