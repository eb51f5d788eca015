//! Faults, load and signals: the source database restarting (mid-stream,
//! and while the puller waits for it), the server dying, the network
//! stalling, the destination going away, many clients at once, a client
//! that stops reading, and SIGTERM/SIGINT. Nothing may crash, hang or lose
//! data; every test ends comparing the databases. One test binary, one file
//! per kind of fault; `relay` stands between two of the processes.

mod load;
mod network;
mod puller;
mod relay;
mod server;
mod source;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use dbdump_tests::*;

pub const WIDE: &str = "CREATE TABLE big (
    id INT PRIMARY KEY, a BIGINT NOT NULL, b VARCHAR(40) NOT NULL, c DECIMAL(12,2) NOT NULL,
    d DATETIME(3) NOT NULL, e DOUBLE NOT NULL,
    ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3), KEY (ts))";

/// A source with `rows` rows in `big` (timestamps in the past, so nothing
/// waits for the horizon), an empty copy in `dst`, and a server.
pub fn big_source(
    name: &str,
    dst: &Sandbox,
    rows: u32,
    server_args: &[&str],
) -> (Sandbox, String, String, Server) {
    let (src, db, copy) = big_database(name, dst, rows);
    let mut args = vec!["--source-databases", db.as_str()];
    args.extend_from_slice(server_args);
    let server = Server::start(&src, &args);
    (src, db, copy, server)
}

/// [`big_source`] without the server: the source, its database, the copy's.
pub fn big_database(name: &str, dst: &Sandbox, rows: u32) -> (Sandbox, String, String) {
    let src = Sandbox::start(name, None);
    let db = unique_name(name.replace('-', "_").as_str());
    let copy = format!("{db}_copy");
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0}; {WIDE};
         INSERT INTO big (id, a, b, c, d, e, ts)
           SELECT seq, seq * 7919, CONCAT('row ', seq), seq / 100, '2020-01-01' + INTERVAL seq SECOND,
                  seq / 3, '2020-01-01 00:00:00' + INTERVAL seq SECOND
           FROM seq_1_to_{rows};",
        ident(&db)
    ));
    copy_schema(&src, &db, dst, &copy);
    (src, db, copy)
}

pub fn signal(pid: u32, sig: &str) {
    let _ = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status();
}

/// What a child spawned with a piped stderr wrote there, once it exited.
pub fn stderr_of(child: &mut std::process::Child) -> String {
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    stderr
}

pub fn wait_exit(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        assert!(
            Instant::now() < deadline,
            "process did not exit in {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads a stream to its end without keeping it: (lines, last line).
pub fn stream_lines(port: u16, path: &str) -> (u16, u64, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    while line != "\r\n" && !line.is_empty() {
        line.clear();
        r.read_line(&mut line).expect("header");
    }
    let (mut n, mut last) = (0, String::new());
    loop {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return (status, n, last);
        }
        n += 1;
        std::mem::swap(&mut last, &mut line);
    }
}
