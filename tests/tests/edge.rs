//! The network edge: a client that trickles its request head (slowloris),
//! reads a stream a few bytes a second, opens more connections than its
//! share or keeps sending after its request costs its own connections for a
//! bounded time, never other clients' service. Attackers connect from
//! 127.0.0.2, legitimate clients from 127.0.0.1: the server counts per
//! address.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dbdump_tests::edge::{
    connect_from, proc_status, sakila_pair, Certificate, OTHER_CLIENT, SAKILA_TABLES,
};
use dbdump_tests::*;

/// How an attacking connection behaves once connected.
#[derive(Clone, Copy)]
enum Style {
    /// Sends a request line, then one header line every 2 s, never the end.
    Slowloris,
    /// Sends a whole request, then reads 5 bytes a second; gives up after
    /// 20 s (or at once on a 503) and connects again.
    SlowReader,
}

/// `slots` connections from [`OTHER_CLIENT`], each reconnecting when the
/// server drops it, until stopped.
struct Attack {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<u64>,
}

impl Attack {
    fn start(port: u16, slots: usize, style: Style, request: String) -> Attack {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut conns: Vec<Option<(TcpStream, Instant, Instant)>> =
                (0..slots).map(|_| None).collect();
            let mut connects = 0;
            while !flag.load(Ordering::Relaxed) {
                let now = Instant::now();
                for slot in conns.iter_mut() {
                    match slot {
                        None => {
                            let Ok(mut s) = connect_from(OTHER_CLIENT, port) else {
                                continue;
                            };
                            connects += 1;
                            if s.write_all(request.as_bytes()).is_ok() {
                                *slot = Some((s, now, now));
                            }
                        }
                        Some((s, opened, next)) if now >= *next => {
                            let alive = match style {
                                Style::Slowloris => s.write_all(b"X-Trickle: 1\r\n").is_ok(),
                                Style::SlowReader => {
                                    now.duration_since(*opened) < Duration::from_secs(20)
                                        && read_slowly(s)
                                }
                            };
                            let period = match style {
                                Style::Slowloris => 2,
                                Style::SlowReader => 1,
                            };
                            *next = now + Duration::from_secs(period);
                            if !alive {
                                *slot = None;
                            }
                        }
                        Some(_) => {}
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            connects
        });
        Attack { stop, thread }
    }

    /// Closes every connection; returns how many were made.
    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("attack thread")
    }
}

/// Reads at most 5 bytes without waiting; false once the connection is
/// useless to the attacker (closed, or a 503 refusal).
fn read_slowly(s: &mut TcpStream) -> bool {
    let _ = s.set_read_timeout(Some(Duration::from_millis(1)));
    let mut buf = [0u8; 5];
    match s.read(&mut buf) {
        Ok(0) => false,
        Ok(_) => {
            buf != *b"HTTP/" || {
                // The status code is what follows: a refused attacker moves on.
                let mut code = [0u8; 7];
                let _ = s.read_exact(&mut code);
                !code.starts_with(b"1.1 503")
            }
        }
        Err(e) => matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        dbdump_shared::base64::encode(format!("{user}:{password}").as_bytes())
    )
}

/// The server's threads right now.
fn threads(server: &Server) -> u64 {
    proc_status(server.child.id(), "Threads")
}

/// Log lines that mention `needle`.
fn log_lines(server: &Server, needle: &str) -> Vec<String> {
    server
        .log_text()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// Waits until the server holds no more threads than `baseline` (every
/// attacking connection let go). Generous: a slow reader is let go only
/// when a write of its has made no progress for the write timeout, after
/// Linux grew its socket buffers, and a loaded machine stretches that.
fn assert_nothing_held(server: &Server, baseline: u64) {
    wait_until(
        "connections were still held after the attack stopped",
        Duration::from_secs(30),
        || threads(server) <= baseline,
    );
}

#[test]
fn two_hundred_slowloris_connections_cannot_lock_out_a_puller() {
    let (src, dst) = pair();
    let (db, copy) = sakila_pair("edge_slowloris");
    let auth = basic("sync", "s3cret-edge");
    // Basic auth on, as in the report: the attacker has no credentials.
    let server = Server::start(
        src,
        &[
            "--source-databases",
            &db,
            "-u",
            "sync",
            "-p",
            "s3cret-edge",
            "--listen-head-timeout",
            "2",
        ],
    );
    let legit = || http_get(server.port, &format!("/{db}/"), &[("Authorization", &auth)]);
    assert_eq!(legit().0, 200);
    let baseline = threads(&server);

    let request_line = format!("GET /{db}/ HTTP/1.1\r\nHost: x\r\n");
    let attack = Attack::start(server.port, 200, Style::Slowloris, request_line);
    std::thread::sleep(Duration::from_millis(1500));
    let run = puller(
        server.port,
        dst,
        &db,
        &copy,
        &[
            "--source-username",
            "sync",
            "--source-password",
            "s3cret-edge",
        ],
    );
    assert_eq!(
        run.code,
        0,
        "{}\nserver log:\n{}",
        run.stderr,
        server.log_text()
    );
    // Past the head deadline the attack keeps reconnecting; the server
    // answers every legitimate request all along.
    let until = Instant::now() + Duration::from_secs(3);
    let mut answered = 0;
    while Instant::now() < until {
        let (status, head, body) = legit();
        assert_eq!(status, 200, "{head}\n{body}");
        answered += 1;
    }
    let connects = attack.stop();
    assert!(connects >= 200, "the attack made {connects} connections");
    assert!(answered > 10, "{answered}");
    assert_same(src, &db, dst, &copy, SAKILA_TABLES);

    assert_nothing_held(&server, baseline);
    let notices = log_lines(&server, "client 127.0.0.2:");
    assert_eq!(
        notices.len(),
        1,
        "one line a minute per client:\n{notices:#?}"
    );
    assert!(
        notices[0].contains("--listen-max-per-client"),
        "{}",
        notices[0]
    );
    assert!(
        log_lines(&server, "127.0.0.2:").len() == 1,
        "no per-connection lines for the attacker:\n{}",
        server.log_text()
    );
}

#[test]
fn slow_readers_cost_their_own_connections_until_the_write_timeout() {
    let (src, dst) = pair();
    let (db, copy) = sakila_pair("edge_slowread");
    // A table far bigger than the socket buffers: a slow reader's stream
    // blocks the server's writes long before it ends.
    let big = unique_name("edge_big");
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0};
         CREATE TABLE big (id INT PRIMARY KEY, pad VARCHAR(2000) NOT NULL,
           ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, KEY (ts));
         INSERT INTO big SELECT seq, REPEAT(CHAR(65 + seq % 26), 2000), '2020-01-01' + INTERVAL seq SECOND
           FROM seq_1_to_8000",
        ident(&big)
    ));
    let databases = format!("{db},{big}");
    let server = Server::start(
        src,
        &["--source-databases", &databases, "--listen-timeout", "2"],
    );
    let baseline = threads(&server);

    let request = format!("GET /{big}/big/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let attack = Attack::start(server.port, 50, Style::SlowReader, request);
    std::thread::sleep(Duration::from_millis(1500));
    let run = puller(server.port, dst, &db, &copy, &[]);
    assert_eq!(
        run.code,
        0,
        "{}\nserver log:\n{}",
        run.stderr,
        server.log_text()
    );
    for _ in 0..20 {
        let (status, head, body) = http_get(server.port, &format!("/{db}/film/"), &[]);
        assert_eq!(status, 200, "{head}\n{body}");
        assert!(body.contains("\"trailer\""), "a whole stream");
    }
    // The server gives up on a slow reader once a write makes no progress
    // for 2 s (Linux grows the socket buffers twice first: about 6 s),
    // long before the reader itself would (20 s).
    let cut = || {
        log_lines(&server, "127.0.0.2:")
            .into_iter()
            .filter(|l| l.contains(&format!("GET /{big}/big/ 200")))
            .collect::<Vec<_>>()
    };
    wait_until(
        "no slow reader was cut off by the write timeout",
        Duration::from_secs(30),
        || !cut().is_empty(),
    );
    let cut = cut();
    attack.stop();
    assert_same(src, &db, dst, &copy, SAKILA_TABLES);
    for line in &cut {
        let field = |name: &str| -> u64 {
            let value = line.split(' ').find_map(|f| f.strip_prefix(name));
            value
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {line}"))
        };
        assert!(
            field("ms=") < 15_000,
            "a slow reader kept its connection: {line}"
        );
        assert!(
            field("bytes=") < 8_000_000,
            "a slow reader got everything: {line}"
        );
    }
    assert_nothing_held(&server, baseline);
}

#[test]
fn a_client_over_its_share_gets_503_and_others_are_served() {
    let (src, _) = pair();
    let server = Server::start(
        src,
        &[
            "--listen-max-per-client",
            "3",
            "--listen-head-timeout",
            "60",
        ],
    );
    let idle: Vec<TcpStream> = (0..3)
        .map(|_| connect_from(OTHER_CLIENT, server.port).expect("connect from 127.0.0.2"))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let from_other = || {
        http_on(
            connect_from(OTHER_CLIENT, server.port).expect("connect"),
            request,
        )
    };
    let (status, head, body) = from_other();
    assert_eq!(status, 503, "{head}\n{body}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 1"),
        "{head}"
    );
    let error = &ndjson_lines(&body)[0];
    assert_eq!(error["status"], 503, "{body}");
    assert!(
        error["error"]
            .as_str()
            .unwrap_or("")
            .contains("too many connections from your address at once (3 at most)"),
        "{body}"
    );
    for _ in 0..20 {
        assert_eq!(from_other().0, 503);
    }
    // A client slower to send its request than the server to refuse it
    // still gets to send it and read the answer, not a reset.
    let mut late = connect_from(OTHER_CLIENT, server.port).expect("connect");
    std::thread::sleep(Duration::from_millis(200));
    late.write_all(request).expect("the request goes out");
    assert_eq!(http_on(late, b"").0, 503);
    // Another address is served meanwhile.
    assert_eq!(http_get(server.port, "/", &[]).0, 200);
    drop(idle);
    wait_until(
        "127.0.0.2 did not get its share back",
        Duration::from_secs(10),
        || from_other().0 == 200,
    );
    let notices = log_lines(&server, "client 127.0.0.2:");
    assert_eq!(notices.len(), 1, "{notices:#?}");
    assert!(
        notices[0].contains("1 connection(s) refused: more than 3 at once"),
        "{}",
        notices[0]
    );
}

#[test]
fn the_thread_cap_still_holds_against_many_addresses() {
    let (src, _) = pair();
    // 32 request threads, 2 per address.
    let server = Server::start(
        src,
        &[
            "--source-max-connections",
            "1",
            "--listen-head-timeout",
            "60",
        ],
    );
    let idle: Vec<TcpStream> = (10..30u8)
        .flat_map(|last| [last, last])
        .map(|last| connect_from(Ipv4Addr::new(127, 0, 0, last), server.port).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let (status, head, body) = http_get(server.port, "/", &[]);
    assert_eq!(status, 503, "{head}\n{body}\n{}", server.log_text());
    assert!(body.contains("too many clients"), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused at once"
    );
    drop(idle);
    wait_until(
        "the server did not recover",
        Duration::from_secs(10),
        || http_get(server.port, "/", &[]).0 == 200,
    );
    assert_eq!(
        log_lines(&server, "server busy:").len(),
        1,
        "{}",
        server.log_text()
    );
}

/// Reads until the server closes; `(bytes, how long it took)`.
fn read_until_closed(mut s: impl Read, started: Instant) -> (Vec<u8>, Duration) {
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    (raw, started.elapsed())
}

/// Writes a header line every 300 ms until the connection breaks.
fn trickle(mut s: impl Write + Send + 'static) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for _ in 0..50 {
            if s.write_all(b"X-Slow: 1\r\n")
                .and_then(|_| s.flush())
                .is_err()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    })
}

fn assert_408(raw: &[u8], took: Duration) {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    assert!(head.starts_with("HTTP/1.1 408 "), "{text}");
    let error = &ndjson_lines(body)[0];
    assert_eq!(error["status"], 408, "{body}");
    assert!(
        error["error"].as_str().unwrap_or("").contains("within 1 s"),
        "{body}"
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[test]
fn a_request_head_that_never_ends_gets_408_at_the_deadline() {
    let (src, _) = pair();
    let server = Server::start(src, &["--listen-head-timeout", "1"]);
    let baseline = threads(&server);
    // Trickling a header line every 300 ms: each read succeeds in time,
    // the whole head does not.
    let s = connect_from(OTHER_CLIENT, server.port).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let started = Instant::now();
    let writer = trickle(s.try_clone().expect("clone"));
    let (raw, took) = read_until_closed(&s, started);
    assert_408(&raw, took);
    drop(s);
    writer.join().expect("trickle");
    // Saying nothing at all ends the same way.
    let s = connect_from(OTHER_CLIENT, server.port).expect("connect");
    let (raw, took) = read_until_closed(s, Instant::now());
    assert_408(&raw, took);

    assert_nothing_held(&server, baseline);
    let notices = log_lines(&server, "client 127.0.0.2:");
    assert_eq!(notices.len(), 1, "{notices:#?}");
    assert!(
        notices[0].contains("no complete request head within 1 s"),
        "{}",
        notices[0]
    );
    assert_eq!(log_lines(&server, "127.0.0.2:").len(), 1, "no access lines");
    assert_eq!(http_get(server.port, "/", &[]).0, 200);
}

#[test]
fn over_https_the_deadline_covers_the_handshake_and_the_head() {
    let (src, _) = pair();
    let cert = Certificate::new();
    let server = cert.server(src, &["--listen-head-timeout", "1"]);
    // No handshake at all: closed, with nothing to answer on.
    let s = connect_from(OTHER_CLIENT, server.port).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let (raw, took) = read_until_closed(&s, Instant::now());
    assert!(raw.is_empty(), "{raw:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
    // A handshake, then a head that never ends: 408 over TLS.
    let tcp = connect_from(OTHER_CLIENT, server.port).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let started = Instant::now();
    let mut tls = rustls::StreamOwned::new(cert.client(), tcp);
    tls.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .expect("handshake and request line");
    let (raw, took) = read_until_closed(&mut tls, started);
    assert_408(&raw, took);
    assert_eq!(
        log_lines(&server, "client 127.0.0.2:").len(),
        1,
        "{}",
        server.log_text()
    );
}

#[test]
fn a_client_that_keeps_sending_after_its_request_is_let_go() {
    let (src, _) = pair();
    let server = Server::start(src, &[]);
    let baseline = threads(&server);
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");
    // A body nobody asked for, forever: the server answers, waits a moment
    // for the client to close, and drops the connection.
    let writer = std::thread::spawn(move || {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if s.write_all(b"more body ").is_err() {
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        started.elapsed()
    });
    let took = writer.join().expect("writer");
    assert!(took < Duration::from_secs(5), "held for {took:?}");
    assert_nothing_held(&server, baseline);
}
