//! The puller's own faults: the destination going away under a polling
//! puller, an unreachable destination, and SIGTERM/SIGINT to a one-shot
//! run (which stops consistently).

use std::time::Duration;

use dbdump_tests::*;

use crate::{big_source, signal, stderr_of, wait_exit, WIDE};

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
    let stderr = stderr_of(&mut child);
    assert!(
        stderr.contains("next attempt in"),
        "failures are logged with the backoff:\n{stderr}"
    );
    assert_same(src, &db, &dst, &copy, &["big"]);
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
