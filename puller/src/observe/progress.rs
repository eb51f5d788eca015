//! Progress of one long table sync, so that a slow sync can be told from a
//! hung one: rows so far, rate, the source's estimate of the total, percent
//! and time left. On a terminal, one line updated in place from
//! [`TTY_AFTER`] on (or `--progress-interval`, if shorter); otherwise (a
//! journal, a file) a log line every `--progress-interval` (10 s). A sync
//! shorter than that shows nothing.
//!
//! Progress lines never start with "table `t`: ", which is the summary
//! line's (scripts and tests parse it).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use dbdump_shared::info;

/// When a terminal starts showing a sync's progress, and how often it is
/// redrawn.
const TTY_AFTER: Duration = Duration::from_secs(2);
const TTY_EVERY: Duration = Duration::from_millis(500);

static INTERVAL_MS: AtomicU64 = AtomicU64::new(10_000);

/// Sets `--progress-interval`.
pub fn set_interval(every: Duration) {
    INTERVAL_MS.store(every.as_millis().max(1) as u64, Ordering::Relaxed);
}

fn interval() -> Duration {
    Duration::from_millis(INTERVAL_MS.load(Ordering::Relaxed))
}

fn on_terminal() -> bool {
    static TTY: OnceLock<bool> = OnceLock::new();
    *TTY.get_or_init(|| std::io::stderr().is_terminal())
}

/// The progress of one table's stream into the destination.
pub struct Progress<'a> {
    table: &'a str,
    /// The source's estimate of the rows this sync moves.
    estimate: Option<u64>,
    started: Instant,
    next: Instant,
    tty: bool,
    /// A terminal line is showing (and must be cleared at the end).
    drawn: bool,
}

impl<'a> Progress<'a> {
    pub fn start(table: &'a str, estimate: Option<u64>) -> Progress<'a> {
        let started = Instant::now();
        let tty = on_terminal();
        Progress {
            table,
            estimate,
            started,
            next: started
                + if tty {
                    TTY_AFTER.min(interval())
                } else {
                    interval()
                },
            tty,
            drawn: false,
        }
    }

    /// Called with the rows applied so far, after each batch.
    pub fn update(&mut self, rows: u64) {
        let now = Instant::now();
        if now < self.next {
            return;
        }
        let line = describe(self.table, rows, now - self.started, self.estimate);
        if self.tty {
            // \r and "erase to the end of the line": the line is redrawn in place.
            let _ = write!(std::io::stderr().lock(), "\r{line}\x1b[K");
            self.drawn = true;
            self.next = now + TTY_EVERY;
        } else {
            info!("{line}");
            self.next = now + interval();
        }
    }
}

impl Drop for Progress<'_> {
    fn drop(&mut self) {
        if self.drawn {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
        }
    }
}

/// `progress `t`: 1200000 of about 5000000 rows (24.0 %) in 12 s, 100000
/// rows/s, about 38 s left`.
pub fn describe(table: &str, rows: u64, elapsed: Duration, estimate: Option<u64>) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { rows as f64 / secs } else { 0.0 };
    let took = words(secs);
    match estimate {
        Some(total) if total >= rows && total > 0 => {
            let percent = 100.0 * rows as f64 / total as f64;
            let left = if rate > 0.0 {
                format!(", about {} left", words((total - rows) as f64 / rate))
            } else {
                String::new()
            };
            format!(
                "progress `{table}`: {rows} of about {total} rows ({percent:.1} %) in {took}, {rate:.0} rows/s{left}"
            )
        }
        Some(total) => format!(
            "progress `{table}`: {rows} rows (the source estimated {total}) in {took}, {rate:.0} rows/s"
        ),
        None => format!("progress `{table}`: {rows} rows in {took}, {rate:.0} rows/s"),
    }
}

/// A duration for people: `38 s`, `12 min`, `3.4 h`.
fn words(secs: f64) -> String {
    if secs < 100.0 {
        format!("{secs:.0} s")
    } else if secs < 6000.0 {
        format!("{:.0} min", secs / 60.0)
    } else {
        format!("{:.1} h", secs / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_say_rows_rate_percent_and_time_left() {
        let line = describe("t", 1_200_000, Duration::from_secs(12), Some(5_000_000));
        assert_eq!(
            line,
            "progress `t`: 1200000 of about 5000000 rows (24.0 %) in 12 s, 100000 rows/s, about 38 s left"
        );
        let line = describe("t", 600, Duration::from_secs(7200), Some(1200));
        assert!(line.ends_with("about 2.0 h left"), "{line}");
        let line = describe("t", 11, Duration::from_secs(1), Some(10));
        assert_eq!(
            line,
            "progress `t`: 11 rows (the source estimated 10) in 1 s, 11 rows/s"
        );
        assert_eq!(
            describe("t", 5, Duration::from_secs(150), None),
            "progress `t`: 5 rows in 2 min, 0 rows/s"
        );
        assert!(!line.contains("table `t`: "), "never the summary's prefix");
    }

    #[test]
    fn a_short_sync_shows_nothing() {
        let mut p = Progress::start("t", Some(10));
        p.update(10);
        assert!(!p.drawn);
        assert!(p.next > Instant::now());
    }
}
