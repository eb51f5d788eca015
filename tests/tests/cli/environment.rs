//! Configuration from `DBD_*` environment variables: the server run from
//! variables alone, flags winning over variables in both binaries, and the
//! `--source-database` alias.

use std::fs::File;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use dbdump_tests::*;

use crate::common::*;

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
