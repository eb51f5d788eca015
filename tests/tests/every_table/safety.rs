//! Digest-synced tables delete on the destination, so the rule of
//! `--deletes` holds for them: every delete follows from a complete,
//! consistent reading of the source. Writers insert, update, delete and
//! re-create rows while digest passes run back to back; a trigger on each
//! side logs deletes, and each destination delete must match an earlier
//! source delete. A cut-off digest answer deletes nothing, a cut-off first
//! copy leaves only rows of the source, and a puller killed with SIGKILL in
//! the middle of a pass loses nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mysql::prelude::Queryable;

use dbdump_tests::cutter::{Cut, Cutter};
use dbdump_tests::*;

/// `d` (no time column: synced by digests) with ids 1..=`rows`, and on each
/// side a keyless `gone` log its trigger fills on every delete.
fn setup(src: &Sandbox, dst: &Sandbox, prefix: &str, rows: u32) -> (String, String) {
    let db = unique_name(prefix);
    let copy = format!("{db}_copy");
    let trigger =
        "CREATE TRIGGER d_gone AFTER DELETE ON d FOR EACH ROW INSERT INTO gone VALUES (OLD.id, NOW(6))";
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0};
         CREATE TABLE d (id INT NOT NULL PRIMARY KEY, v INT NOT NULL, note VARCHAR(40));
         CREATE TABLE gone (id INT NOT NULL, at DATETIME(6) NOT NULL);
         {trigger};
         INSERT INTO d SELECT seq, seq, CONCAT('row ', seq) FROM seq_1_to_{rows};",
        ident(&db)
    ));
    copy_schema(src, &db, dst, &copy);
    dst.exec(&format!("USE {}; {trigger}", ident(&copy)));
    (db, copy)
}

/// Every key deleted on the destination was deleted on the source first.
fn assert_deletes_justified(src: &Sandbox, db: &str, dst: &Sandbox, copy: &str) -> usize {
    let gone = |s: &Sandbox, d: &str| -> Vec<(String, String)> {
        s.query_strings(&format!("SELECT id, at FROM {}.gone ORDER BY at", ident(d)))
            .into_iter()
            .map(|r| {
                (
                    r[0].clone().unwrap_or_default(),
                    r[1].clone().unwrap_or_default(),
                )
            })
            .collect()
    };
    let (on_source, on_dest) = (gone(src, db), gone(dst, copy));
    for (id, at) in &on_dest {
        let earlier = on_source.iter().any(|(s, when)| s == id && when < at);
        assert!(
            earlier,
            "row {id} was deleted on the destination at {at} but not on the source before"
        );
    }
    on_dest.len()
}

#[test]
fn digest_passes_under_concurrent_writes_never_delete_a_row_the_source_has() {
    // Own source: the writer would hold back the other tests' horizons.
    let src = &Sandbox::start("digest-race-source", None);
    let dst = &pair().1;
    let (db, copy) = setup(src, dst, "digestrace", 3000);
    let server = Server::start(src, &["--source-databases", &db]);
    pull_ok_on(&server, dst, &db, &copy);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, db) = (stop.clone(), db.clone());
        let port = src.port;
        std::thread::spawn(move || {
            let opts = mysql::OptsBuilder::new()
                .ip_or_hostname(Some("127.0.0.1"))
                .tcp_port(port)
                .user(Some("root"))
                .db_name(Some(db));
            let mut conn = mysql::Conn::new(opts).expect("writer connection");
            let (mut x, mut n) = (88172645463325252u64, 0u32);
            while !stop.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let id = x % 3200 + 1;
                let sql = match x % 4 {
                    0 => format!("DELETE FROM d WHERE id = {id}"),
                    1 => format!("UPDATE d SET v = v + 1, note = 'w{n}' WHERE id = {id}"),
                    // Re-creates deleted ids too: a key gone and back.
                    _ => format!(
                        "INSERT INTO d VALUES ({id}, {n}, 'new') ON DUPLICATE KEY UPDATE v = {n}"
                    ),
                };
                conn.query_drop(sql).expect("writer statement");
                n += 1;
            }
            n
        })
    };
    let args = [
        "-t",
        "d",
        "--poll-interval",
        "0.05",
        "--digest-interval",
        "0",
    ];
    let mut poller = spawn(
        puller_command(server.port, dst, &db, &copy, &args).stderr(std::process::Stdio::null()),
    );
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    let statements = writer.join().expect("writer");
    assert_eq!(poller.terminate(), Some(0));
    assert!(
        statements > 500,
        "too little happened: {statements} statements"
    );
    let deleted = assert_deletes_justified(src, &db, dst, &copy);
    assert!(deleted > 0, "no delete happened on the destination");
    pull_ok_on(&server, dst, &db, &copy);
    assert_same(src, &db, dst, &copy, &["d"]);
    assert_deletes_justified(src, &db, dst, &copy);
}

/// A one-shot run of `d` alone that must succeed.
fn pull_ok_on(server: &Server, dst: &Sandbox, db: &str, copy: &str) -> PullerRun {
    let run = puller(server.port, dst, db, copy, &["-t", "d"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run
}

#[test]
fn a_cut_off_digest_deletes_nothing_and_a_cut_off_first_copy_holds_only_source_rows() {
    let (src, dst) = pair();
    let (db, copy) = setup(src, dst, "digestcut", 3000);
    let server = Server::start(src, &["--source-databases", &db, "--settle", "0"]);
    pull_ok_on(&server, dst, &db, &copy);
    src.exec(&format!(
        "USE {}; DELETE FROM d WHERE id % 100 = 0; UPDATE d SET v = 0 WHERE id % 77 = 0",
        ident(&db)
    ));
    for (nth, how) in [(0, Cut::NoTrailer), (0, Cut::Empty), (1, Cut::NoTrailer)] {
        for compress in ["--source-compress=no", "--source-compress=yes"] {
            let cutter = Cutter::start(server.port, "/digest", nth, how);
            let run = puller(cutter.port, dst, &db, &copy, &["-t", "d", compress]);
            assert_eq!(run.code, 1, "{how:?} {compress}: {}", run.stderr);
            assert_eq!(
                count(dst, &copy, "d"),
                3000,
                "{how:?} {compress}: nothing deleted"
            );
        }
    }
    pull_ok_on(&server, dst, &db, &copy);
    assert_same(src, &db, dst, &copy, &["d"]);

    // A first copy cut short keeps the rows that came, each as on the
    // source; the next run completes it by digests.
    dst.exec(&format!("DELETE FROM {}.d", ident(&copy)));
    dst.exec(&format!("DELETE FROM {}.gone", ident(&copy)));
    let cutter = Cutter::start(server.port, "/d/ ", 0, Cut::NoTrailer);
    let run = puller(
        cutter.port,
        dst,
        &db,
        &copy,
        &["-t", "d", "--source-compress=no"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("without a trailer"), "{}", run.stderr);
    let source: std::collections::HashSet<String> =
        dump(src, &db, "d").lines().map(str::to_string).collect();
    let copied = dump(dst, &copy, "d");
    assert!(!copied.is_empty(), "some rows came before the cut");
    let strays: Vec<&str> = copied.lines().filter(|l| !source.contains(*l)).collect();
    assert!(
        strays.is_empty(),
        "only rows as the source has them: {strays:?}"
    );
    pull_ok_on(&server, dst, &db, &copy);
    assert_same(src, &db, dst, &copy, &["d"]);
}

#[test]
fn a_puller_killed_in_the_middle_of_a_pass_loses_nothing() {
    let (src, dst) = pair();
    let (db, copy) = setup(src, dst, "digestkill", 60000);
    src.exec(&format!(
        "USE {}; CREATE TABLE big_log (n INT, v TEXT);
         INSERT INTO big_log SELECT seq, REPEAT('y', 50) FROM seq_1_to_60000;",
        ident(&db)
    ));
    copy_schema(src, &db, dst, &copy);
    dst.exec(&format!(
        "USE {}; CREATE TRIGGER d_gone AFTER DELETE ON d FOR EACH ROW INSERT INTO gone VALUES (OLD.id, NOW(6))",
        ident(&copy)
    ));
    let server = Server::start(src, &["--source-databases", &db, "--settle", "0"]);
    let tables = ["-t", "d,big_log"];
    // Killed during the first copies, and again during a comparison.
    for round in 0..3 {
        let mut child = spawn(
            puller_command(server.port, dst, &db, &copy, &tables)
                .stderr(std::process::Stdio::null()),
        );
        let limit = Duration::from_secs(30);
        wait_until("rows to arrive", limit, || {
            count(dst, &copy, "d") > 0 || round > 0
        });
        std::thread::sleep(Duration::from_millis(50 + 80 * round));
        let _ = child.kill();
        let _ = child.wait();
        // The keyless copy is all or nothing (before or after the change).
        let n = count(dst, &copy, "big_log");
        assert!(
            [0, 30000, 60000].contains(&n),
            "round {round}: big_log holds {n} rows"
        );
        if round == 1 {
            src.exec(&format!(
                "USE {}; DELETE FROM d WHERE id % 1000 = 0; UPDATE d SET v = -v WHERE id % 999 = 0;
                 DELETE FROM big_log WHERE n % 2 = 0;",
                ident(&db)
            ));
        }
    }
    let run = puller(server.port, dst, &db, &copy, &tables);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["d", "big_log"]);
    assert_deletes_justified(src, &db, dst, &copy);
}
