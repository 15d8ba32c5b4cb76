//! What a user watching a long build sees while a run is going.
//!
//! On a terminal: one live line per run (which run, elapsed time, the last
//! line of its log), cleared when it ends. With `-v`: the log itself,
//! streamed. Otherwise (CI logs): a line when a run starts and one when it
//! ends with its duration, and while a run goes on a line every few minutes
//! saying it is alive (and since when it has been silent). Build output is
//! escaped before it reaches the terminal: a log may hold any bytes.

use std::io::{IsTerminal as _, Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often a run that goes on is reported without a terminal.
const ALIVE_EVERY: Duration = Duration::from_secs(300);
/// Bytes of new log read per tick at most (the rest waits for the next).
const READ_PER_TICK: usize = 256 * 1024;

/// How progress is shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// A live line on a terminal.
    Terminal,
    /// The log streamed to stderr (`-v`).
    Stream,
    /// Plain lines (not a terminal; what a library caller gets unless it
    /// asks for more).
    #[default]
    Lines,
}

impl Mode {
    /// The mode for this process: `-v` streams; a terminal on stderr gets
    /// the live line.
    pub fn detect(verbose: bool) -> Self {
        if verbose {
            Mode::Stream
        } else if std::io::stderr().is_terminal() {
            Mode::Terminal
        } else {
            Mode::Lines
        }
    }
}

/// Watches one run's log while it goes on.
pub struct RunWatch {
    mode: Mode,
    label: String,
    log: PathBuf,
    offset: u64,
    /// The unfinished last line of what was read so far.
    partial: Vec<u8>,
    last_line: String,
    bar: Option<indicatif::ProgressBar>,
    next_alive: Duration,
    last_growth: Duration,
}

impl RunWatch {
    /// Starts watching the run `label` whose output goes to `log`.
    pub fn start(mode: Mode, label: &str, log: &Path, shown_dir: &Path) -> Self {
        let bar = (mode == Mode::Terminal).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} repro: {prefix} {elapsed} {wide_msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.set_prefix(label.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        if bar.is_none() {
            eprintln!("repro: {label}: {}", shown_dir.display());
        }
        Self {
            mode,
            label: label.to_string(),
            log: log.to_path_buf(),
            offset: 0,
            partial: Vec::new(),
            last_line: String::new(),
            bar,
            next_alive: ALIVE_EVERY,
            last_growth: Duration::ZERO,
        }
    }

    /// Called about every [`sandbox::TICK`] while the run goes on.
    pub fn tick(&mut self, elapsed: Duration) {
        if self.read_new() {
            self.last_growth = elapsed;
        }
        match self.mode {
            Mode::Terminal => {
                if let Some(bar) = &self.bar {
                    bar.set_message(self.last_line.clone());
                }
            }
            Mode::Stream => {}
            Mode::Lines => {
                if elapsed >= self.next_alive {
                    self.next_alive += ALIVE_EVERY;
                    let silent = elapsed.saturating_sub(self.last_growth);
                    let quiet = if silent >= ALIVE_EVERY {
                        format!("; no output for {}", human(silent))
                    } else {
                        String::new()
                    };
                    eprintln!(
                        "repro: {}: still running after {}{quiet}; last log line: {}",
                        self.label,
                        human(elapsed),
                        self.last_line
                    );
                }
            }
        }
    }

    /// Ends the watch: the live line is cleared and one line says how the
    /// run ended and how long it took.
    pub fn finish(mut self, how: &str, elapsed: Duration) {
        self.read_new();
        if self.mode == Mode::Stream && !self.partial.is_empty() {
            let rest = std::mem::take(&mut self.partial);
            eprintln!("  | {}", printable(&String::from_utf8_lossy(&rest)));
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        eprintln!(
            "repro: {}: {how} in {:.1}s",
            self.label,
            elapsed.as_secs_f64()
        );
    }

    /// Ends the watch of a run that could not start: the live line goes.
    pub fn abandon(mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// Reads what the log gained since the last call; true if it grew.
    fn read_new(&mut self) -> bool {
        let Ok(mut f) = std::fs::File::open(&self.log) else {
            return false;
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return false;
        }
        let mut buf = Vec::new();
        let Ok(n) = f.take(READ_PER_TICK as u64).read_to_end(&mut buf) else {
            return false;
        };
        if n == 0 {
            return false;
        }
        self.offset += n as u64;
        self.partial.extend_from_slice(&buf);
        // Complete lines: stream them, remember the last one.
        while let Some(pos) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=pos).collect();
            let text = printable(String::from_utf8_lossy(&line[..line.len() - 1]).trim_end());
            if self.mode == Mode::Stream {
                eprintln!("  | {text}");
            }
            if !text.trim().is_empty() {
                self.last_line = text;
            }
        }
        // A long line without a newline yet still shows its start.
        if self.partial.len() > 4096 {
            let text = printable(&String::from_utf8_lossy(&self.partial[..4096]));
            if self.mode == Mode::Stream {
                eprintln!("  | {text}");
            }
            self.last_line = text;
            self.partial.clear();
        }
        true
    }
}

/// `text` with control characters (escape sequences, carriage returns,
/// bells) shown as `\u{1b}`-style escapes, so build output cannot drive
/// the user's terminal.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\t' && c != '\n' {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// `1h02m`, `5m00s`, `42s`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_reach_the_terminal_as_text() {
        assert_eq!(
            printable("ok\x1b]0;pwned\x07 done\r"),
            "ok\\u{1b}]0;pwned\\u{7} done\\u{d}"
        );
        assert_eq!(printable("tab\tand ünïcode"), "tab\tand ünïcode");
    }

    #[test]
    fn the_watch_follows_the_log_line_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        std::fs::write(&log, "").unwrap();
        let mut w = RunWatch::start(Mode::Lines, "run 1/2", &log, Path::new("/build/src"));
        w.tick(Duration::from_secs(1));
        assert_eq!(w.last_line, "");
        std::fs::write(&log, "compiling a\ncompiling b\npart").unwrap();
        w.tick(Duration::from_secs(2));
        assert_eq!(w.last_line, "compiling b");
        assert_eq!(w.partial, b"part");
        std::fs::write(&log, "compiling a\ncompiling b\npartial \x1b[31mred\n").unwrap();
        w.tick(Duration::from_secs(3));
        assert_eq!(w.last_line, "partial \\u{1b}[31mred");
        assert_eq!(w.last_growth, Duration::from_secs(3));
    }

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(human(Duration::from_secs(42)), "42s");
        assert_eq!(human(Duration::from_secs(300)), "5m00s");
        assert_eq!(human(Duration::from_secs(3720)), "1h02m");
    }
}
