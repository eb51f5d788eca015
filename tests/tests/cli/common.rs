//! Helpers shared by the cli tests: running a binary to its end (killed
//! after 30 s), the required flags of each binary pointed at ports where
//! nothing listens, what a usage error must look like, a flag's variable
//! name, and a small source database.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dbdump_tests::*;

/// How a run of a binary ended (`code` is `None` when it had to be killed).
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// A binary without the caller's `DBD_*` variables (a developer's own
/// settings must not change what a test runs), with `envs` added.
pub fn command(name: &str, args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut cmd = clean_command(bin(name));
    cmd.args(args).envs(envs.iter().copied());
    cmd
}

/// Runs a binary to completion; killed after 30 s (a hang is a failure too).
pub fn run(name: &str, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut cmd = command(name, args, envs);
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {name}: {e}"));
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut text = String::new();
            pipe.map(|mut p| p.read_to_string(&mut text));
            text
        })
    }
    let (out, err) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        elapsed: started.elapsed(),
    }
}

/// Required server flags pointing at a port where nothing listens, so that
/// a command line accepted by mistake fails fast instead of serving.
pub fn server_base() -> Vec<String> {
    let line = format!(
        "-a 127.0.0.1 -P {} --source-host 127.0.0.1 --source-port {} --source-username root",
        free_port(),
        free_port()
    );
    line.split(' ').map(str::to_string).collect()
}

/// Required puller flags, server and destination both unreachable.
pub fn puller_base() -> Vec<String> {
    let line = format!(
        "--source-host 127.0.0.1 --source-port {} --source-database a --dest-host 127.0.0.1 \
         --dest-port {} --dest-username root --dest-database b --source-timeout 5",
        free_port(),
        free_port()
    );
    line.split(' ').map(str::to_string).collect()
}

/// `base` followed by `extra`, as `&str`s for [`run`].
pub fn with<'a>(base: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    base.iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
        .collect()
}

/// Exit code 2, nothing on stdout, the usage and exactly one
/// `<binary>: error: ...` line (containing `needle`) on stderr.
#[track_caller]
pub fn assert_usage_error(r: &Run, binary: &str, needle: &str) {
    assert_eq!(r.code, Some(2), "{r:?}");
    assert_eq!(r.stdout, "", "nothing on stdout");
    assert!(
        r.stderr.starts_with(&format!("usage: {binary} [-h]")),
        "usage first: {}",
        r.stderr
    );
    let errors: Vec<&str> = r.stderr.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line: {}", r.stderr);
    assert!(
        errors[0].starts_with(&format!("{binary}: error: ")),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains(needle),
        "error line should mention {needle:?}: {}",
        errors[0]
    );
}

/// `--listen-port` -> `DBD_LISTEN_PORT`.
pub fn env_name(long: &str) -> String {
    format!(
        "DBD_{}",
        long.trim_start_matches('-')
            .to_uppercase()
            .replace('-', "_")
    )
}

/// A source database with tables `t` and `u`, two old rows each.
pub fn source_db(prefix: &str) -> String {
    let db = unique_name(prefix);
    pair().0.exec(&format!(
        "CREATE DATABASE {0}; USE {0};
         CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10),
             ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
         CREATE TABLE u LIKE t;
         INSERT INTO t VALUES (1, 'one', '2020-01-01 00:00:00'), (2, 'two', '2020-01-02 00:00:00');
         INSERT INTO u SELECT * FROM t;",
        ident(&db)
    ));
    db
}
