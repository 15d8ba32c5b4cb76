//! Writing to stdout without dying on a closed pipe.
//!
//! `print!` panics when stdout is a pipe whose reader went away
//! (`repro diff a b | head`). Output through [`out!`](crate::out) stops
//! quietly instead, and the command still ends with its own exit code
//! (the report files are written before anything is printed).

use std::io::Write as _;

/// Writes formatted text to stdout; a broken pipe is ignored.
pub fn write(args: std::fmt::Arguments<'_>) {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    if let Err(e) = lock.write_fmt(args).and_then(|()| lock.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("repro: cannot write to stdout: {e}");
        }
    }
}

/// `print!` that survives a closed pipe.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write(format_args!($($arg)*)) };
}

/// `println!` that survives a closed pipe.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::write(format_args!("{}\n", format_args!($($arg)*))) };
}
