//! Many clients at once: the source's sessions stay within the pool, a
//! full pool and full request threads answer 503 with `Retry-After`, and
//! the server recovers once the clients are gone.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use dbdump_tests::*;

use crate::{big_source, stream_lines};

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
