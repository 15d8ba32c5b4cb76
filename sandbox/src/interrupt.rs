//! SIGINT and SIGTERM as a flag the caller polls, so an interrupted build
//! can stop its sandbox, remove its temporary files and say what happened.
//!
//! [`catch`] installs a handler that only records the signal; nothing is
//! done inside the handler (almost nothing is safe there: no allocation,
//! no locks, no file I/O). The caller asks [`pending`] between steps and
//! returns `ControlFlow::Break` from [`run_observed`](crate::run_observed)'s
//! tick, which kills the run's process tree within one [`TICK`](crate::TICK).
//! A second signal has the default effect (the process ends at once).

use nix::sys::signal::Signal;

use crate::{sys, Error, Result};

/// A caught SIGINT or SIGTERM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupt {
    signo: i32,
}

impl Interrupt {
    /// `SIGINT`, `SIGTERM`.
    pub fn name(&self) -> &'static str {
        Signal::try_from(self.signo).map_or("a signal", Signal::as_str)
    }

    /// The shell's exit code for a process ended by this signal (128 + n):
    /// 130 for SIGINT, 143 for SIGTERM.
    pub fn exit_code(&self) -> u8 {
        u8::try_from(128 + self.signo).unwrap_or(u8::MAX)
    }
}

impl std::fmt::Display for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by {}", self.name())
    }
}

impl std::error::Error for Interrupt {}

/// Starts catching SIGINT and SIGTERM for the rest of the process.
pub fn catch() -> Result<()> {
    sys::catch_interrupts(&[Signal::SIGINT, Signal::SIGTERM]).map_err(|(signal, errno)| {
        Error::Sys {
            call: format!("sigaction({signal})"),
            errno,
        }
    })
}

/// The first SIGINT/SIGTERM caught since [`catch`], if any.
pub fn pending() -> Option<Interrupt> {
    sys::interrupted().map(|signo| Interrupt { signo })
}

/// `Err(interrupt)` once a signal was caught: `?` between steps.
pub fn check() -> std::result::Result<(), Interrupt> {
    pending().map_or(Ok(()), Err)
}
