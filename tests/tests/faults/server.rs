//! dbd_server dying mid-stream (the cut stream fails, the next run
//! completes) and stopping on SIGTERM (open streams end without a trailer).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::Duration;

use dbdump_tests::*;

use crate::relay::Relay;
use crate::{big_source, signal, stderr_of, wait_exit};

#[test]
fn server_killed_mid_stream_then_the_next_run_completes() {
    let dst = &pair().1;
    let (src, db, copy, server) = big_source("srvkill-src", dst, 200_000, &[]);
    // Through a relay that holds each stream after 1 MB and is cut as the
    // server dies: socket buffers could otherwise hold whole ranges, which
    // would then end complete.
    let relay = Relay::start(server.port);
    relay.stall_after.store(1_000_000, Ordering::SeqCst);
    let mut child = Reaped(
        puller_command(relay.port, dst, &db, &copy, &[])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("puller"),
    );
    wait_until("sync never started", Duration::from_secs(20), || {
        count(dst, &copy, "big") > 0
    });
    signal(server.child.id(), "-KILL");
    relay.cut();
    drop(server);
    let code = wait_exit(&mut child, Duration::from_secs(30));
    let stderr = stderr_of(&mut child);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("without a trailer") || stderr.contains("broke off"),
        "{stderr}"
    );
    let server = Server::start(&src, &["--source-databases", &db]);
    let run = puller(server.port, dst, &db, &copy, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(&src, &db, dst, &copy, &["big"]);
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
