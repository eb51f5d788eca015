//! Tables without any key are copied whole when their digest differs, in
//! one transaction: a reader of the destination sees the old rows or the
//! new ones, never an empty or half table; a cut-off copy changes nothing;
//! a table over `--max-whole-rows` is refused with a line that says why.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mysql::prelude::Queryable;

use dbdump_tests::cutter::{Cut, Cutter};
use dbdump_tests::*;

const LOG: &str = "CREATE TABLE log (at DATETIME NOT NULL, level VARCHAR(10), message TEXT);
INSERT INTO log SELECT '2024-01-01' + INTERVAL (seq % 500) MINUTE, IF(seq % 9, 'info', 'warn'),
  CONCAT('line ', seq % 1500) FROM seq_1_to_20000;";

#[test]
fn a_keyless_table_is_replaced_whole_and_a_reader_sees_old_or_new() {
    let (src, dst) = pair();
    let (db, copy, server) = setup_pair("wholelog", LOG);
    let run = pull_ok(&server, &db, &copy, &[]);
    assert_eq!(figure(&run, "log", "rows copied"), 20000, "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["log"]);
    let run = pull_ok(&server, &db, &copy, &[]);
    assert!(
        run.stderr.contains("digests equal (20000 rows)"),
        "{}",
        run.stderr
    );

    // Duplicates count: one more copy of an existing line differs.
    src.exec(&format!(
        "USE {}; INSERT INTO log SELECT * FROM log LIMIT 1; DELETE FROM log WHERE message = 'line 7';",
        ident(&db)
    ));
    let want = count(src, &db, "log");
    // A reader counts the destination's rows while the copy replaces them.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, copy) = (stop.clone(), copy.clone());
        std::thread::spawn(move || {
            let mut conn = pair().1.conn();
            let query = format!("SELECT COUNT(*) FROM {}.log", ident(&copy));
            let mut seen = std::collections::BTreeSet::new();
            while !stop.load(Ordering::Relaxed) {
                let n: Option<u64> = conn.query_first(&query).expect("reader");
                seen.insert(n.unwrap_or(0));
            }
            seen
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    let run = pull_ok(&server, &db, &copy, &[]);
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let seen = reader.join().expect("reader");
    assert_eq!(figure(&run, "log", "rows copied"), want, "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["log"]);
    assert!(
        seen.iter().all(|n| *n == 20000 || *n == want),
        "the reader saw {seen:?}, not only the old (20000) and the new ({want}) rows"
    );
}

#[test]
fn a_cut_off_copy_changes_nothing_and_a_big_table_is_refused_in_words() {
    let (src, dst) = pair();
    let (db, copy, server) = setup_pair("wholecut", LOG);
    pull_ok(&server, &db, &copy, &[]);
    src.exec(&format!(
        "DELETE FROM {}.log WHERE message LIKE 'line 1%'",
        ident(&db)
    ));
    let before = checksum(dst, &copy, "log");
    // The copy's stream (not its digest) cut short, plain and compressed.
    for how in [Cut::NoTrailer, Cut::Empty] {
        for compress in ["--source-compress=no", "--source-compress=yes"] {
            let cutter = Cutter::start(server.port, "/log/ ", 0, how);
            let run = puller(cutter.port, dst, &db, &copy, &[compress]);
            assert_eq!(run.code, 1, "{how:?} {compress}: {}", run.stderr);
            assert!(run.stderr.contains("table `log` failed"), "{}", run.stderr);
            assert_eq!(
                checksum(dst, &copy, "log"),
                before,
                "{how:?}: nothing changed"
            );
            assert_eq!(count(dst, &copy, "log"), 20000);
        }
    }
    // Over the limit: refused, saying so; nothing changes.
    let run = puller(server.port, dst, &db, &copy, &["--max-whole-rows", "1000"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("has no key and")
            && run.stderr.contains("more than --max-whole-rows 1000")
            && run.stderr.contains("give it a primary key"),
        "{}",
        run.stderr
    );
    assert_eq!(checksum(dst, &copy, "log"), before);
    pull_ok(&server, &db, &copy, &[]);
    assert_same(src, &db, dst, &copy, &["log"]);
}
