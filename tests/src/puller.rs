//! Running `dbd_puller`: its command line ([`puller_command`], of another
//! build: [`puller_command_of`]), a one-shot run to its end ([`puller`],
//! [`run_puller`], [`pull_ok`]) and the figures in its
//! per-table summary lines ([`figure`], [`rows_applied`]).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{bin, clean_command, lossy, pair, wait_for, Sandbox, Server};

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
    puller_command_of(&bin("dbd_puller"), port, dst, src_db, dst_db, extra)
}

/// [`puller_command`] for another build of `dbd_puller` (`binary`), such
/// as the static release one.
pub fn puller_command_of(
    binary: &Path,
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
    let mut cmd = clean_command(binary.to_path_buf());
    cmd.args(fixed.split(' '))
        .args(["--source-database", src_db, "--dest-database", dst_db])
        .args(extra);
    cmd
}

/// Runs `dbd_puller` against the server on `port` to completion; killed, and
/// the test failed, after 120 s.
pub fn puller(port: u16, dst: &Sandbox, src_db: &str, dst_db: &str, extra: &[&str]) -> PullerRun {
    run_puller(puller_command(port, dst, src_db, dst_db, extra))
}

/// Runs a [`puller_command`] to completion, as [`puller`] does.
pub fn run_puller(mut cmd: Command) -> PullerRun {
    let mut child = cmd
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
    // Other lines of the table (a first copy's) say no rows applied.
    run.stderr
        .lines()
        .filter_map(|l| l.split_once(&marker).map(|(_, rest)| rest))
        .find(|rest| rest.contains(" rows applied in "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary for {table} in:\n{}", run.stderr))
}
