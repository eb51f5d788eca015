//! Harness for the end-to-end tests in `tests/tests/*.rs`: real throwaway
//! MariaDB servers (`scripts/mariadb-sandbox`), the real `dbd_server` and
//! `dbd_puller` binaries. Re-exported here from files by role: `sandbox` (the
//! MariaDB servers and the shared [`pair`]), `sql` (names, quoting, rows as
//! text), `process` (child processes, finding the binaries), `server` (a
//! running dbd_server), `compare` (comparing databases) and `http` (poking at
//! HTTP). The rest is still below. Used by their paths
//! (`dbdump_tests::edge::Certificate`): `certs`, `edge`, `fixtures` and
//! `messages`.
//!
//! Helpers panic with a message instead of returning errors: a failing
//! helper means a failing test, and the message is the diagnosis.
//!
//! Sandboxes and server logs live in `target/test-sandboxes/*-<pid>-<n>`.
//! The shared [`pair`] sits in a static, which Rust never drops, and std has
//! no exit hook (nor is libc a dependency); so every sandbox gets a watchdog
//! shell that destroys it once the test process is gone, and [`pair`] also
//! sweeps away leftovers of dead processes (e.g. after a SIGKILL of all).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub mod certs;
mod compare;
pub mod edge;
pub mod fixtures;
mod http;
pub mod messages;
mod process;
mod sandbox;
mod server;
mod sql;

pub use compare::*;
pub use http::*;
pub use process::*;
pub use sandbox::*;
pub use server::*;
pub use sql::*;

/// `<pid>-<n>`: distinct names within and across test processes.
fn next_id() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}-{n}", std::process::id())
}

pub(crate) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .expect("tests crate has a parent")
        .to_path_buf()
}

/// Where sandboxes and server logs go; created on demand.
fn scratch_dir() -> PathBuf {
    let dir = workspace_root().join("target/test-sandboxes");
    std::fs::create_dir_all(&dir).expect("cannot create target/test-sandboxes");
    dir
}

/// How a one-shot `dbd_puller` run ended. Codes: 0 all tables synced, 1 some
/// table failed, 2 bad command line, 3 interrupted; -1 killed by a signal.
#[derive(Debug)]
pub struct PullerRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The number before `what` in `table`'s summary line of a puller run,
/// e.g. `rows applied`, `rows deleted`, `rows repaired`.
#[track_caller]
pub fn figure(run: &PullerRun, table: &str, what: &str) -> u64 {
    let marker = format!("table `{table}`: ");
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains(&marker))
        .unwrap_or_else(|| panic!("no summary for {table} in:\n{}", run.stderr));
    let before = line
        .split_once(&format!(" {what}"))
        .unwrap_or_else(|| panic!("no {what:?} in: {line}"))
        .0;
    before
        .rsplit([' ', ':'])
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number before {what:?} in: {line}"))
}

/// The `dbd_puller` command that [`puller`] runs, for tests that spawn,
/// signal or kill it themselves.
pub fn puller_command(
    port: u16,
    dst: &Sandbox,
    src_db: &str,
    dst_db: &str,
    extra: &[&str],
) -> Command {
    let fixed = format!(
        "--source-host 127.0.0.1 --source-port {port} --dest-host 127.0.0.1 --dest-port {} \
         --dest-username root",
        dst.port
    );
    let mut cmd = clean_command(bin("dbd_puller"));
    cmd.args(fixed.split(' '))
        .args(["--source-database", src_db, "--dest-database", dst_db])
        .args(extra);
    cmd
}

/// Runs `dbd_puller` against the server on `port` to completion; killed, and
/// the test failed, after 120 s.
pub fn puller(port: u16, dst: &Sandbox, src_db: &str, dst_db: &str, extra: &[&str]) -> PullerRun {
    let mut child = puller_command(port, dst, src_db, dst_db, extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot spawn dbd_puller");
    // Both pipes are drained on threads so a chatty puller never blocks.
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.map(|mut p| p.read_to_end(&mut bytes));
            lossy(&bytes)
        })
    }
    let (out, err) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let Some(status) = wait_for(&mut child, Duration::from_secs(120)) else {
        let _ = child.kill();
        let _ = child.wait();
        let stderr = err.join().unwrap_or_default();
        panic!("dbd_puller still running after 120 s; killed. stderr:\n{stderr}");
    };
    PullerRun {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// Runs `dbd_puller` from `server` into the shared [`pair`]'s destination
/// and asserts that it succeeded.
pub fn pull_ok(server: &Server, db: &str, copy: &str, extra: &[&str]) -> PullerRun {
    let run = puller(server.port, &pair().1, db, copy, extra);
    assert_eq!(run.code, 0, "puller failed:\n{}", run.stderr);
    run
}

/// The rows applied to `table`, from a puller's summary line
/// (`table `t`: N rows applied in …`).
pub fn rows_applied(run: &PullerRun, table: &str) -> u64 {
    let marker = format!("table `{table}`: ");
    run.stderr
        .lines()
        .find_map(|l| l.split_once(&marker).map(|(_, rest)| rest))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary for {table} in:\n{}", run.stderr))
}
