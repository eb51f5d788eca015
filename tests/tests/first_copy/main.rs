//! First copies in key order: an empty destination table read by a
//! timestamp or synced by digests is copied in key ranges, several at once
//! (`--copy-streams`), all under one horizon, its comment marked while the
//! copy runs so that a killed puller resumes each range after the rows it
//! holds. Shown against real MariaDB servers: composite, string and binary
//! keys under concurrent writes, a table without a time column, kill -9
//! during copies, a transaction committed late, deletes during a copy, a
//! destination that cannot be marked, a non-empty destination that gets no
//! first copy, and several tables at once (killed too, and created by
//! `--create-tables`), each finished as its own ranges end. One test
//! binary (one pair of MariaDB servers), one file per capability; `gate`
//! holds the copy's streams still so that every test knows the copy is
//! under way, without timing.

mod deletes;
mod digests;
mod gate;
mod kills;
mod late_commits;
mod no_copy;
mod ordered;
mod tables;
mod unmarked;

use std::collections::HashSet;
use std::io::Read;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

use dbdump_tests::*;

/// How a marked comment begins (puller/src/apply/marker.rs).
pub const MARK: &str = "dbdump:first-copy ";

/// A `dbd_puller` running in the background, its stderr collected.
pub struct Running {
    child: Reaped,
    stderr: Option<JoinHandle<String>>,
}

impl Running {
    /// Starts `dbd_puller` against the server (or gate) on `port`.
    pub fn start(port: u16, dst: &Sandbox, db: &str, copy: &str, args: &[&str]) -> Running {
        Running::spawn(&mut puller_command(port, dst, db, copy, args))
    }

    /// Starts a prepared command (e.g. with another destination account).
    pub fn spawn(cmd: &mut std::process::Command) -> Running {
        let mut child = spawn(cmd.stdout(Stdio::null()).stderr(Stdio::piped()));
        let pipe = child.stderr.take();
        let stderr = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.map(|mut p| p.read_to_end(&mut bytes));
            String::from_utf8_lossy(&bytes).into_owned()
        });
        Running {
            child,
            stderr: Some(stderr),
        }
    }

    /// Waits for it to end (at most 120 s): its exit code and stderr.
    pub fn wait(mut self) -> PullerRun {
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for dbd_puller") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("dbd_puller still running after 120 s:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        PullerRun {
            code: status.code().unwrap_or(-1),
            stdout: String::new(),
            stderr: self.stderr(),
        }
    }

    /// SIGKILL, like a crash: what it logged until then.
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait for dbd_puller");
        assert_eq!(status.code(), None, "dbd_puller ended before the kill");
        self.stderr()
    }

    /// SIGTERM, as a service manager stops a polling puller: its exit
    /// code and stderr.
    pub fn terminate(mut self) -> PullerRun {
        let code = self.child.terminate().unwrap_or(-1);
        PullerRun {
            code,
            stdout: String::new(),
            stderr: self.stderr(),
        }
    }

    fn stderr(&mut self) -> String {
        self.stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

/// The summary line of `table` in a run (not its other lines, such as
/// the one telling that a first copy is resumed).
#[track_caller]
pub fn summary(run: &PullerRun, table: &str) -> String {
    let marker = format!("table `{table}`: ");
    run.stderr
        .lines()
        .find(|l| l.contains(&marker) && l.contains(" rows applied in "))
        .unwrap_or_else(|| panic!("no summary for {table} in:\n{}", run.stderr))
        .to_string()
}

/// The rows applied to `table`, from its summary line.
#[track_caller]
pub fn applied(run: &PullerRun, table: &str) -> u64 {
    let line = summary(run, table);
    line.split_once(&format!("table `{table}`: "))
        .map_or("", |(_, rest)| rest)
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no rows applied in: {line}"))
}

/// How many key ranges the summary says the first copy went in, and
/// whether it was resumed; `None` without a first copy by key ranges.
#[track_caller]
pub fn first_copy_ranges(run: &PullerRun, table: &str) -> Option<(u32, bool)> {
    let line = summary(run, table);
    let rest = line.split_once("; first copy in ")?.1;
    let (n, rest) = rest.split_once(" key range")?;
    let rest = rest.strip_prefix('s').unwrap_or(rest);
    let n = n
        .parse()
        .unwrap_or_else(|_| panic!("no number of ranges in: {line}"));
    Some((n, rest.starts_with(", resumed")))
}

/// The comment of `database.table`.
pub fn comment(db: &Sandbox, database: &str, table: &str) -> String {
    db.scalar(&format!(
        "SELECT TABLE_COMMENT FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}",
        literal(database),
        literal(table)
    ))
    .unwrap_or_default()
}

/// Every row's key of `database.table` in key order, each as the SQL
/// condition that `key` (an expression over the row) spells it as, e.g.
/// `CONCAT('id = ', id)`.
pub fn keys(db: &Sandbox, database: &str, table: &str, key: &str) -> Vec<String> {
    let sql = format!(
        "SELECT {key} FROM {} ORDER BY 1",
        qualified(database, table)
    );
    db.query_strings(&sql)
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect()
}

/// Keys of `database.table` (as [`keys`] spells them) as a set.
pub fn key_set(db: &Sandbox, database: &str, table: &str, key: &str) -> HashSet<String> {
    keys(db, database, table, key).into_iter().collect()
}

/// A writer on the source running the statements `next(x, n)` gives
/// (`x` pseudo-random, `n` the statement's number) until `stop`; returns
/// how many it ran.
pub fn start_writer(
    src: &'static Sandbox,
    db: &str,
    stop: Arc<AtomicBool>,
    next: impl Fn(u64, u32) -> String + Send + 'static,
) -> JoinHandle<u32> {
    let db = db.to_string();
    std::thread::spawn(move || {
        let mut conn = src.conn();
        conn.query_drop(format!("USE {}", ident(&db)))
            .expect("USE the database");
        let (mut x, mut n) = (0x2545_f491_4f6c_dd1du64, 0u32);
        while !stop.load(Ordering::Relaxed) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let sql = next(x, n);
            conn.query_drop(&sql)
                .unwrap_or_else(|e| panic!("writer: {e}\n{sql}"));
            n += 1;
        }
        n
    })
}

/// Every `step`-th of `keys`, split into those `copied` holds and the rest.
pub fn sample(
    keys: &[String],
    step: usize,
    copied: &HashSet<String>,
) -> (Vec<String>, Vec<String>) {
    keys.iter()
        .step_by(step)
        .cloned()
        .partition(|k| copied.contains(k))
}

/// Waits until `database.table` holds at least `n` rows (60 s at most).
pub fn wait_rows(db: &Sandbox, database: &str, table: &str, n: u64) {
    wait_until(
        &format!("{n} rows in {database}.{table}"),
        Duration::from_secs(60),
        || count(db, database, table) >= n,
    );
}

/// What `table` is complete to after a run, as its summary says (UTC).
#[track_caller]
pub fn complete_to(run: &PullerRun, table: &str) -> String {
    let line = summary(run, table);
    line.split_once("complete to ")
        .and_then(|(_, rest)| rest.split_once(" UTC"))
        .map(|(at, _)| at.to_string())
        .unwrap_or_else(|| panic!("no freshness in: {line}"))
}

/// One-shot runs of `table` (with `args`) until one is complete to a time
/// after every write the source had committed when this was called: the
/// horizon trails the source's open transactions (to the second, so other
/// tests' writers on the shared source hold it back a little), and a run
/// is complete only up to it. Returns the last run.
pub fn pull_until_complete(
    server: &Server,
    db: &str,
    copy: &str,
    table: &str,
    args: &[&str],
) -> PullerRun {
    let (src, _) = pair();
    let now = src
        .scalar("SELECT UTC_TIMESTAMP(6)")
        .expect("the source's clock");
    let mut all = vec!["-t", table];
    all.extend_from_slice(args);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let run = pull_ok(server, db, copy, &all);
        // Lexical order is time order here ("…:25" < "…:25.1" < "…:26").
        if complete_to(&run, table) > now {
            return run;
        }
        assert!(
            Instant::now() < deadline,
            "{table} not complete to {now} after 30 s:\n{}",
            run.stderr
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Asserts that `table` has the same definition on both sides (`SHOW
/// CREATE TABLE`: columns, indexes in their order, comment).
#[track_caller]
pub fn assert_same_definition(src: &Sandbox, db: &str, dst: &Sandbox, copy: &str, table: &str) {
    let show = |s: &Sandbox, d: &str| {
        let rows = s.query_strings(&format!("SHOW CREATE TABLE {}", qualified(d, table)));
        rows.into_iter()
            .next()
            .and_then(|r| r.into_iter().nth(1).flatten())
            .unwrap_or_default()
    };
    assert_eq!(show(src, db), show(dst, copy), "definitions of {table}");
}
