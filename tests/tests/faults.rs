//! Faults, load and signals: the source database restarting mid-stream, the
//! server dying, the network stalling, the destination going away, many
//! clients at once, a client that stops reading, and SIGTERM/SIGINT. Nothing
//! may crash, hang or lose data; every test ends comparing the databases.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dbdump_tests::*;

const WIDE: &str = "CREATE TABLE big (
    id INT PRIMARY KEY, a BIGINT NOT NULL, b VARCHAR(40) NOT NULL, c DECIMAL(12,2) NOT NULL,
    d DATETIME(3) NOT NULL, e DOUBLE NOT NULL,
    ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3), KEY (ts))";

/// A source with `rows` rows in `big` (timestamps in the past, so nothing
/// waits for the horizon), an empty copy in `dst`, and a server.
fn big_source(
    name: &str,
    dst: &Sandbox,
    rows: u32,
    server_args: &[&str],
) -> (Sandbox, String, String, Server) {
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
    let mut args = vec!["--source-databases", db.as_str()];
    args.extend_from_slice(server_args);
    let server = Server::start(&src, &args);
    (src, db, copy, server)
}

fn signal(pid: u32, sig: &str) {
    let _ = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status();
}

fn wait_exit(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
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
fn stream_lines(port: u16, path: &str) -> (u16, u64, String) {
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

/// A TCP relay that can be told to stop forwarding (a stalled network)
/// after a number of bytes from the server.
struct Proxy {
    port: u16,
    stall_after: Arc<AtomicU64>,
}

impl Proxy {
    fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stall_after = Arc::new(AtomicU64::new(u64::MAX));
        let limit = stall_after.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let (mut c2, mut s2) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c2, &mut s2);
                });
                let limit = limit.clone();
                let (mut from, mut to) = (server, client);
                std::thread::spawn(move || {
                    let (mut buf, mut sent) = ([0u8; 16384], 0u64);
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        if sent + n as u64 > limit.load(Ordering::SeqCst) {
                            // Stall: keep both sockets open, forward nothing more.
                            std::thread::sleep(Duration::from_secs(3600));
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        sent += n as u64;
                    }
                });
            }
        });
        Proxy { port, stall_after }
    }
}

#[test]
fn source_restart_mid_stream_then_the_next_run_completes() {
    let dst = &pair().1;
    let (src, db, copy, server) = big_source("restart-src", dst, 300_000, &[]);
    // One stream at a time (two key ranges of 150,000 rows), so that the
    // crash comes while the server reads one, not between ranges.
    let mut child = Reaped(
        puller_command(server.port, dst, &db, &copy, &["--copy-streams", "1"])
            .spawn()
            .expect("puller"),
    );
    // Let it get going, then crash the source database under it.
    wait_until("sync never started", Duration::from_secs(20), || {
        count(dst, &copy, "big") > 0
    });
    src.kill();
    let code = wait_exit(&mut child, Duration::from_secs(60));
    src.restart();
    assert_eq!(code, Some(1), "a cut stream is a failure");
    let landed = count(dst, &copy, "big");
    assert!(
        landed < 300_000,
        "the crash came too late to prove anything"
    );
    assert_eq!(
        landed % 1000,
        0,
        "only complete batches are committed: {landed}"
    );
    // The server reconnects by itself.
    let run = puller(server.port, dst, &db, &copy, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(&src, &db, dst, &copy, &["big"]);
    assert!(
        server.log_text().contains("mid-stream"),
        "{}",
        server.log_text()
    );
    dbdump_tests::messages::assert_in_words(&server.log_text());
}

#[test]
fn server_killed_mid_stream_then_the_next_run_completes() {
    let dst = &pair().1;
    let (src, db, copy, mut server) = big_source("srvkill-src", dst, 200_000, &[]);
    let port = server.port;
    let mut child = Reaped(
        puller_command(port, dst, &db, &copy, &[])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("puller"),
    );
    wait_until("sync never started", Duration::from_secs(20), || {
        count(dst, &copy, "big") > 0
    });
    signal(server.child.id(), "-KILL");
    server.stop();
    let code = wait_exit(&mut child, Duration::from_secs(30));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("without a trailer") || stderr.contains("broke off"),
        "{stderr}"
    );
    let _server = Server::start_on(port, &src, &["--source-databases", &db], &[]);
    let run = puller(port, dst, &db, &copy, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(&src, &db, dst, &copy, &["big"]);
}

#[test]
fn a_stalled_network_times_out_and_loses_nothing() {
    let dst = &pair().1;
    let (src, db, copy, server) = big_source("stall-src", dst, 100_000, &[]);
    let proxy = Proxy::start(server.port);
    // Per connection: each key range of the first copy streams about 0.5 MB.
    proxy.stall_after.store(300_000, Ordering::SeqCst);
    let started = Instant::now();
    let run = puller(proxy.port, dst, &db, &copy, &["--source-timeout", "2"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the stall was noticed"
    );
    assert!(run.stderr.contains("broke off"), "{}", run.stderr);
    let run = puller(server.port, dst, &db, &copy, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(&src, &db, dst, &copy, &["big"]);
}

#[test]
fn polling_rides_out_the_destination_going_away() {
    let src = &pair().0;
    let dst = Sandbox::start("away-dst", None);
    let db = unique_name("away");
    let copy = format!("{db}_copy");
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0}; {WIDE};
         INSERT INTO big VALUES (1, 1, 'one', 1, '2020-01-01', 1, '2020-01-01 00:00:00');",
        ident(&db)
    ));
    copy_schema(src, &db, &dst, &copy);
    let server = Server::start(src, &["--source-databases", &db]);
    let mut child = Reaped(
        puller_command(server.port, &dst, &db, &copy, &["--poll-interval", "0.2"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("puller"),
    );
    let wait_rows = |n: u64| {
        wait_until("rows did not arrive", Duration::from_secs(30), || {
            count(&dst, &copy, "big") >= n
        });
    };
    wait_rows(1);
    dst.kill();
    src.exec(&format!(
        "INSERT INTO {}.big VALUES (2, 2, 'two', 2, '2020-01-02', 2, '2020-01-02 00:00:00')",
        ident(&db)
    ));
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        child.try_wait().expect("wait").is_none(),
        "polling must survive"
    );
    dst.restart();
    wait_rows(2);
    signal(child.id(), "-INT");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(10)), Some(0));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    assert!(
        stderr.contains("next attempt in"),
        "failures are logged with the backoff:\n{stderr}"
    );
    assert_same(src, &db, &dst, &copy, &["big"]);
}

#[test]
fn sixteen_clients_at_once_stay_within_the_connection_bound() {
    let dst = &pair().1;
    let (src, db, _copy, server) = big_source("load-src", dst, 300_000, &[]);
    src.exec("FLUSH STATUS");
    let path = format!("/{db}/big/");
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let path = path.clone();
            let port = server.port;
            std::thread::spawn(move || {
                // Like the puller: on 503, wait and ask again.
                for _ in 0..120 {
                    let (status, lines, last) = stream_lines(port, &path);
                    if status != 503 {
                        return (status, lines, last);
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
                panic!("busy for two minutes");
            })
        })
        .collect();
    for c in clients {
        let (status, lines, last) = c.join().expect("client");
        assert_eq!(status, 200);
        assert_eq!(lines, 300_002, "header, rows, trailer");
        let trailer: serde_json::Value = serde_json::from_str(&last).expect("trailer is JSON");
        assert_eq!(trailer["trailer"]["rows"], 300_000);
    }
    let max_used: u64 = src.status("Max_used_connections");
    // 8 pooled connections, plus this test's own status queries.
    assert!(
        max_used <= 8 + 2,
        "source saw {max_used} connections at once"
    );
}

#[test]
fn a_client_that_stops_reading_does_not_pin_a_connection() {
    let dst = &pair().1;
    let (_src, db, _copy, server) = big_source(
        "stuck-src",
        dst,
        300_000,
        &["--source-max-connections", "1", "--listen-timeout", "2"],
    );
    let mut stuck = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    stuck.set_nodelay(true).expect("nodelay");
    write!(stuck, "GET /{db}/big/ HTTP/1.1\r\nHost: x\r\n\r\n").expect("request");
    // Never read. The server's writes stall, it gives up after 2 s, and the
    // only source connection becomes free again.
    std::thread::sleep(Duration::from_secs(1));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _, body) = http_get(server.port, &format!("/{db}/"), &[]);
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            Instant::now() < deadline,
            "the stalled client still holds the connection"
        );
    }
    drop(stuck);
}

#[test]
fn a_client_that_leaves_mid_stream_stops_the_source_query() {
    // Without cancelling, the driver reads the rest of the result set
    // before the connection can be used again: all 300k rows here.
    let dst = &pair().1;
    let (src, db, _copy, server) = big_source("leaver-src", dst, 300_000, &[]);
    let before = src.rows_read();
    let mut leaver = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    write!(leaver, "GET /{db}/big/ HTTP/1.1\r\nHost: x\r\n\r\n").expect("request");
    let mut first = [0u8; 65536];
    leaver.read_exact(&mut first).expect("the stream starts");
    drop(leaver);
    let path = format!("GET /{db}/big/ ");
    wait_until(
        "the abandoned request was not logged",
        Duration::from_secs(30),
        || server.log_text().contains(&path),
    );
    let read = src.rows_read() - before;
    eprintln!("rows read on the source for an abandoned 300k-row stream: {read}");
    assert!(
        read < 150_000,
        "the source read {read} rows for a client that left"
    );
    assert!(
        server.log_text().contains("source query cancelled"),
        "{}",
        server.log_text()
    );
    // The pool replaced the ended session: the server still streams.
    let (status, lines, _) = stream_lines(server.port, &format!("/{db}/big/"));
    assert_eq!((status, lines), (200, 300_002));
}

#[test]
fn sigterm_ends_open_streams_and_stops_the_server() {
    let dst = &pair().1;
    let (_src, db, _copy, mut server) = big_source("term-src", dst, 200_000, &[]);
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    write!(s, "GET /{db}/big/ HTTP/1.1\r\nHost: x\r\n\r\n").expect("request");
    let mut r = BufReader::new(s);
    let mut line = String::new();
    for _ in 0..20 {
        line.clear();
        r.read_line(&mut line).expect("some of the stream");
    }
    signal(server.child.id(), "-TERM");
    // Keep reading: the stream must end (without a trailer) and the server exit.
    let mut rest = String::new();
    let _ = r.read_to_string(&mut rest);
    assert!(
        !rest.contains("\"trailer\""),
        "an interrupted stream has no trailer"
    );
    assert!(rest.trim_end().ends_with('}'), "it ends with an error line");
    // It exits by itself (a second SIGTERM would kill it outright).
    let code = wait_exit(&mut server.child, Duration::from_secs(20));
    assert_eq!(code, Some(0), "{}", server.log_text());
    assert!(server.log_text().contains("stopped"));
}

#[test]
fn sigterm_and_sigint_stop_a_one_shot_puller_consistently() {
    let dst = &pair().1;
    let (src, db, copy, server) = big_source("pterm-src", dst, 300_000, &[]);
    for sig in ["-TERM", "-INT"] {
        // An empty destination each time, so there is a long sync to stop.
        dst.exec(&format!("TRUNCATE TABLE {}.big", ident(&copy)));
        let mut child = Reaped(
            puller_command(server.port, dst, &db, &copy, &[])
                .spawn()
                .expect("puller"),
        );
        wait_until("sync never started", Duration::from_secs(20), || {
            count(dst, &copy, "big") > 0
        });
        signal(child.id(), sig);
        let code = wait_exit(&mut child, Duration::from_secs(30));
        // 3: interrupted, consistent; 0: it happened to finish first.
        assert!(matches!(code, Some(3) | Some(0)), "{sig}: exit {code:?}");
    }
    let run = puller(server.port, dst, &db, &copy, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(&src, &db, dst, &copy, &["big"]);
}

#[test]
fn a_full_pool_answers_503_with_retry_after() {
    let dst = &pair().1;
    let (_src, db, _copy, server) =
        big_source("busy-src", dst, 300_000, &["--source-max-connections", "1"]);
    // A client that takes the only connection and reads nothing (the
    // default 60 s client timeout keeps it).
    let mut hog = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    write!(hog, "GET /{db}/big/ HTTP/1.1\r\nHost: x\r\n\r\n").expect("request");
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let (status, head, body) = http_get(server.port, "/", &[]);
    assert_eq!(status, 503, "{head}\n{body}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 1"),
        "{head}"
    );
    assert!(body.contains("busy"), "{body}");
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "it waited briefly first"
    );
    drop(hog);
    // Once the hog is gone the connection comes back.
    wait_until(
        "the connection never came back",
        Duration::from_secs(30),
        || http_get(server.port, "/", &[]).0 == 200,
    );
}

#[test]
fn too_many_clients_get_503_at_once_and_the_server_recovers() {
    let (src, _) = pair();
    let server = Server::start(
        src,
        &["--source-max-connections", "1", "--listen-timeout", "60"],
    );
    // 32 request threads at most (4 per connection, at least 32): fill them
    // with clients that say nothing. More than 32, since a slot may still
    // be taken for a moment by the harness's readiness probe; the extra
    // ones are refused.
    let connect = |n: usize| -> Vec<TcpStream> {
        (0..n)
            .map(|_| TcpStream::connect(("127.0.0.1", server.port)).expect("connect"))
            .collect()
    };
    let idle = connect(40);
    std::thread::sleep(Duration::from_millis(300));
    // A second round takes a slot the probe may have freed meanwhile.
    let more = connect(8);
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let (status, head, body) = http_get(server.port, "/", &[]);
    assert_eq!(
        status,
        503,
        "{head}\n{body}\nserver log:\n{}",
        server.log_text()
    );
    assert!(head.to_ascii_lowercase().contains("retry-after"), "{head}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused at once"
    );
    drop((idle, more));
    wait_until(
        "the server did not recover",
        Duration::from_secs(15),
        || http_get(server.port, "/", &[]).0 == 200,
    );
}

#[test]
fn one_shot_exits_1_when_the_destination_is_unreachable() {
    let (src, dst) = pair();
    let db = unique_name("nodest");
    src.exec(&format!("CREATE DATABASE {0}; USE {0}; {WIDE}", ident(&db)));
    let server = Server::start(src, &["--source-databases", &db]);
    let out = puller_command(server.port, dst, &db, &db, &[])
        .args(["--dest-port", &free_port().to_string()])
        .output()
        .expect("puller runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot connect to the destination database"),
        "{stderr}"
    );
}
