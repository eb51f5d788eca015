//! Both binaries' command lines: `--version`, `--help` (every flag of the
//! original tool, defaults, environment variables), usage errors (exit 2,
//! one `error:` line and the usage on stderr), configuration from the
//! environment with flags winning, and the exit codes when something the
//! binary needs is unreachable. Most tests need no database; the few that
//! do use the shared sandbox pair.
//!
//! One test binary (one pair of sandbox servers); in modules: `help`
//! (`--version`, `--help`), `usage_errors`; the shared helpers are in
//! `common`. The other tests follow here.

mod common;
mod help;
mod usage_errors;

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use dbdump_tests::*;

use common::*;

/// A process we started ourselves, killed when dropped; stderr goes to a file.
struct Background {
    child: Child,
    log: PathBuf,
}

impl Background {
    fn spawn(name: &str, args: &[&str], envs: &[(&str, &str)]) -> Background {
        let log = std::env::temp_dir().join(format!("{}.log", unique_name("dbdump_cli")));
        let file = File::create(&log).expect("create log");
        let child = command(name, args, envs)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn");
        Background { child, log }
    }

    fn log_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// Waits until `port` accepts connections (panics if the process exits
    /// first or 15 s pass).
    fn wait_listening(&mut self, port: u16) {
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!("exited ({status}) before listening:\n{}", self.log_text());
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "not listening after 15 s:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn databases(port: u16) -> serde_json::Value {
    let (code, head, body) = http_get(port, "/", &[]);
    assert_eq!(code, 200, "{head}\n{body}");
    serde_json::from_str::<serde_json::Value>(&body).expect("JSON")["databases"].clone()
}

// ---------------------------------------------------------------- environment

#[test]
fn server_runs_from_variables_alone() {
    let db = source_db("cli_env");
    let port = free_port();
    let (port_text, source_port) = (port.to_string(), pair().0.port.to_string());
    let mut server = Background::spawn(
        "dbd_server",
        &[],
        &[
            ("DBD_LISTEN_ADDRESS", "127.0.0.1"),
            ("DBD_LISTEN_PORT", &port_text),
            ("DBD_SOURCE_HOST", "127.0.0.1"),
            ("DBD_SOURCE_PORT", &source_port),
            ("DBD_SOURCE_USERNAME", "root"),
            ("DBD_SOURCE_DATABASES", &db),
            ("DBD_DEBUG", "1"),
        ],
    );
    server.wait_listening(port);
    assert_eq!(databases(port), serde_json::json!([db]));
    assert!(
        server.log_text().contains(" DEBUG "),
        "DBD_DEBUG=1 turns on debug:\n{}",
        server.log_text()
    );
}

#[test]
fn server_flags_win_over_variables() {
    let (a, b) = (source_db("cli_env_a"), source_db("cli_env_b"));
    let env_port = free_port().to_string();
    // The harness passes -P with a port of its own: that one must be used.
    let server = Server::start_with_env(
        &pair().0,
        &["--source-databases", &b],
        &[("DBD_LISTEN_PORT", &env_port), ("DBD_SOURCE_DATABASES", &a)],
    );
    assert_eq!(databases(server.port), serde_json::json!([b]));
    let env_port: u16 = env_port.parse().expect("port");
    assert!(
        TcpStream::connect(("127.0.0.1", env_port)).is_err(),
        "nothing listens on the variable's port"
    );
}

#[test]
fn source_database_is_accepted_for_source_databases() {
    let (a, _b) = (source_db("cli_alias_a"), source_db("cli_alias_b"));
    let server = Server::start(&pair().0, &["--source-database", &a]);
    assert_eq!(databases(server.port), serde_json::json!([a]));
}

#[test]
fn puller_takes_variables_and_flags_win() {
    let (src, dst) = pair();
    let db = source_db("cli_penv");
    copy_schema(src, &db, dst, &db);
    let server = Server::start(src, &[]);
    // DBD_TABLES is used (only `t` is synced); DBD_SOURCE_PORT loses to the
    // --source-port flag puller_command passes.
    let out = puller_command(server.port, dst, &db, &db, &[])
        .env("DBD_TABLES", "t")
        .env("DBD_SOURCE_PORT", free_port().to_string())
        .output()
        .expect("run dbd_puller");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_same(src, &db, dst, &db, &["t"]);
    assert_eq!(count(dst, &db, "u"), 0, "u is not in DBD_TABLES");
}

// ---------------------------------------------------------------- exit codes

#[test]
fn server_exits_1_when_the_source_database_is_unreachable() {
    let dead = free_port();
    let args = format!(
        "-a 127.0.0.1 -P {} --source-host 127.0.0.1 --source-port {dead} --source-username root",
        free_port()
    );
    let r = run("dbd_server", &args.split(' ').collect::<Vec<_>>(), &[]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(15), "took {:?}", r.elapsed);
    let errors: Vec<&str> = r.stderr.lines().filter(|l| l.contains(" ERROR ")).collect();
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(
        errors[0].contains("cannot connect to the source database")
            && errors[0].contains(&format!("127.0.0.1:{dead}")),
        "{}",
        errors[0]
    );
}

#[test]
fn server_exits_1_when_its_port_is_taken() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let args = format!(
        "-a 127.0.0.1 -P {port} --source-host 127.0.0.1 --source-port {} --source-username root",
        pair().0.port
    );
    let r = run("dbd_server", &args.split(' ').collect::<Vec<_>>(), &[]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stderr
            .contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{}",
        r.stderr
    );
}

#[test]
fn server_exits_0_on_sigterm() {
    let mut server = Server::start(&pair().0, &[]);
    assert_eq!(http_get(server.port, "/", &[]).0, 200);
    let status = server.stop();
    assert_eq!(status.code(), Some(0), "{}", server.log_text());
    assert!(
        server.log_text().contains(" INFO stopped"),
        "{}",
        server.log_text()
    );
}

#[test]
fn puller_exits_1_when_the_server_is_unreachable() {
    let p = puller_base();
    let port = &p[p.iter().position(|a| a == "--source-port").expect("port") + 1];
    let r = run("dbd_puller", &with(&p, &[]), &[]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(10), "took {:?}", r.elapsed);
    let errors: Vec<&str> = r.stderr.lines().filter(|l| l.contains(" ERROR ")).collect();
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(
        errors[0].contains("unreachable") && errors[0].contains(&format!("127.0.0.1:{port}")),
        "{}",
        errors[0]
    );
}

#[test]
fn puller_one_shot_exits_0_after_syncing() {
    let (src, dst) = pair();
    let db = source_db("cli_oneshot");
    copy_schema(src, &db, dst, &db);
    let server = Server::start(src, &[]);
    let first = puller(server.port, dst, &db, &db, &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stderr.contains("table `t`: 2 rows applied"),
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.contains("table `u`: 2 rows applied"),
        "{}",
        first.stderr
    );
    assert_same(src, &db, dst, &db, &["t", "u"]);
    // Nothing new: still success, nothing applied.
    let again = puller(server.port, dst, &db, &db, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("table `t`: 0 rows applied"),
        "{}",
        again.stderr
    );
}
