//! The source database restarting: killed in the middle of a stream (the
//! cut stream fails, only whole batches stay, the next run completes once
//! it is back), and down for a moment when the puller asks (it waits, says
//! so, and the run completes).

use std::sync::atomic::Ordering;
use std::time::Duration;

use dbdump_tests::*;

use crate::relay::Relay;
use crate::{big_database, big_source, stderr_of, wait_exit};

#[test]
fn source_restart_mid_stream_then_the_next_run_completes() {
    let dst = &pair().1;
    let (src, db, copy) = big_database("restart-src", dst, 300_000);
    // The server reaches the source through a relay. Socket buffers (up to
    // 32 MB a side on Linux) can hold a whole key range, so a kill alone can
    // come after the source sent the last row of the stream being read: the
    // relay holds each stream after 2 MB, and is cut as the source dies, so
    // that the server is in the middle of a reply.
    let relay = Relay::start(src.port);
    let server = Server::start_reaching(relay.port, &["--source-databases", &db]);
    relay.stall_after.store(2_000_000, Ordering::SeqCst);
    let mut child = Reaped(
        puller_command(server.port, dst, &db, &copy, &[])
            .spawn()
            .expect("puller"),
    );
    wait_until("sync never started", Duration::from_secs(20), || {
        count(dst, &copy, "big") > 0
    });
    relay.cut();
    src.kill();
    let code = wait_exit(&mut child, Duration::from_secs(60));
    src.restart();
    relay.stall_after.store(u64::MAX, Ordering::SeqCst);
    assert_eq!(code, Some(1), "a cut stream is a failure");
    let landed = count(dst, &copy, "big");
    assert!(landed < 300_000, "the relay let the copy through");
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
fn a_source_down_for_a_moment_is_waited_for_and_the_run_completes() {
    let dst = &pair().1;
    let (src, db, copy, server) = big_source("blink-src", dst, 1000, &[]);
    src.stop();
    let mut child = Reaped(
        puller_command(server.port, dst, &db, &copy, &[])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("puller"),
    );
    // Each ask is a 503 (source database unavailable) that the puller
    // retries a second later; from the fifth on, it says so.
    wait_until(
        "the puller did not ask again",
        Duration::from_secs(30),
        || server.log_text().matches(" 503 ").count() >= 6,
    );
    src.restart();
    let code = wait_exit(&mut child, Duration::from_secs(60));
    let stderr = stderr_of(&mut child);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("answered 503 5 times in a row (source database unavailable"),
        "{stderr}"
    );
    dbdump_tests::messages::assert_in_words(&stderr);
    assert_same(&src, &db, dst, &copy, &["big"]);
}
