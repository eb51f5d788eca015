//! The network between the puller and the server: a stall times out and
//! loses nothing; a client that stops reading, or leaves mid-stream, frees
//! its source connection (the source query is cancelled).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use dbdump_tests::*;

use crate::relay::Relay;
use crate::{big_source, stream_lines};

#[test]
fn a_stalled_network_times_out_and_loses_nothing() {
    let dst = &pair().1;
    let (src, db, copy, server) = big_source("stall-src", dst, 100_000, &[]);
    let relay = Relay::start(server.port);
    // Per connection: each key range of the first copy streams about 0.5 MB.
    relay.stall_after.store(300_000, Ordering::SeqCst);
    let started = Instant::now();
    let run = puller(relay.port, dst, &db, &copy, &["--source-timeout", "2"]);
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
