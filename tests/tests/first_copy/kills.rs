//! A first copy killed with SIGKILL, again and again, resumes where it
//! stopped. Five runs are killed at different moments of one copy: before
//! any row, with each range part way, with a range done, right when the
//! streams stand still or a little later while their last rows are being
//! written; the source changes between kills. Each kill leaves the mark in
//! the table's comment and every row the earlier runs copied; each run
//! after a kill says it resumes; the run that completes the copy goes on
//! after the rows the destination holds instead of starting over, puts the
//! table's own comment and its secondary indexes back, and the destination
//! ends equal to the source. A run killed while it ends the copy (the
//! ALTER TABLE that builds the indexes and takes the mark off) leaves the
//! mark, and the next run ends the copy again. The same with string keys,
//! whose boundaries come back from the mark and are compared in the
//! table's collation.

use std::collections::HashSet;
use std::time::Duration;

use mysql::prelude::Queryable;

use dbdump_tests::*;

use crate::gate::Gate;
use crate::{
    applied, assert_same_definition, comment, first_copy_ranges, key_set, pull_until_complete,
    summary, wait_rows, Running, MARK,
};

const OWN: &str = "orders of the shop — it's ours";
const ARGS: [&str; 4] = ["--copy-streams", "2", "--source-compress=no", "-t"];

/// One run of `table` killed once the gate holds its copy still and the
/// destination has `rows` rows, after `wait` more ms: what it logged.
/// `free` range streams pass whole, the others `allowance` bytes. Checks
/// that the mark stays and that every row of `held` does too; returns the
/// keys (by `key`) held now.
#[allow(clippy::too_many_arguments)]
fn kill_during_copy(
    server: &Server,
    db: &str,
    copy: &str,
    table: &str,
    key: &str,
    (free, allowance, rows, wait): (u32, u64, u64, u64),
    held: &HashSet<String>,
) -> (String, HashSet<String>) {
    let dst = &pair().1;
    let gate = Gate::start(server.port, free, allowance);
    let mut args = ARGS.to_vec();
    args.push(table);
    let puller = Running::start(gate.port, dst, db, copy, &args);
    gate.wait_still();
    wait_rows(dst, copy, table, rows);
    std::thread::sleep(Duration::from_millis(wait));
    let stderr = puller.kill();
    gate.release();
    let marked = comment(dst, copy, table);
    assert!(marked.starts_with(MARK), "the mark stays: {marked:?}");
    let now = key_set(dst, copy, table, key);
    let lost: Vec<&String> = held.difference(&now).take(5).collect();
    assert!(
        lost.is_empty(),
        "rows an earlier run copied are gone: {lost:?}"
    );
    (stderr, now)
}

/// The run that completes the copy, through an open gate.
fn complete(server: &Server, db: &str, copy: &str, table: &str) -> PullerRun {
    let gate = Gate::open(server.port);
    let mut args = ARGS.to_vec();
    args.push(table);
    let run = Running::start(gate.port, &pair().1, db, copy, &args).wait();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("resuming its first copy in 4 ranges"),
        "{}",
        run.stderr
    );
    assert_eq!(
        first_copy_ranges(&run, table),
        Some((4, true)),
        "{}",
        summary(&run, table)
    );
    run
}

#[test]
fn a_first_copy_killed_five_times_resumes_each_range_and_ends_equal() {
    let (src, dst) = pair();
    let ddl = format!(
        "CREATE TABLE orders (id INT NOT NULL PRIMARY KEY, customer INT NOT NULL,
           note VARCHAR(60) NOT NULL,
           ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
           KEY by_customer (customer, note(10)), KEY (ts)) COMMENT {};
         SET time_zone = '+00:00';
         INSERT INTO orders SELECT seq, seq % 1000, CONCAT('order ', seq, ' of the shop'),
           '2024-01-01' + INTERVAL seq SECOND FROM seq_1_to_40000;",
        literal(OWN)
    );
    let (db, copy, server) = setup_pair("fc_kills", &ddl);
    assert_eq!(comment(dst, &copy, "orders"), OWN);
    // (range streams passed whole, bytes of the others, rows to wait for,
    // ms before the kill)
    let kills = [
        (0, 0, 0, 0),
        (0, 100_000, 0, 0),
        (0, 200_000, 0, 60),
        (1, 50_000, 0, 150),
        (0, 150_000, 3000, 300),
    ];
    let mut held = HashSet::new();
    for (i, &moment) in kills.iter().enumerate() {
        let (stderr, now) = kill_during_copy(&server, &db, &copy, "orders", "id", moment, &held);
        let resuming = stderr.contains("resuming its first copy in 4 ranges");
        assert_eq!(resuming, i > 0, "kill {i}: {stderr}");
        assert!(now.len() < 40_000, "kill {i}: the copy is not done");
        held = now;
        // The source changes between kills: rows already copied, rows still
        // to come, new ones.
        if i % 2 == 1 {
            src.exec(&format!(
                "USE {}; UPDATE orders SET note = 'changed after kill {i}' WHERE id % 997 = {i};
                 INSERT INTO orders (id, customer, note) SELECT 100000 + {i} * 100 + seq, seq,
                   'new after kill {i}' FROM seq_1_to_50",
                ident(&db)
            ));
        }
    }
    let before = held.len() as u64;
    assert!(before >= 2000, "the killed runs copied {before} rows");

    let run = complete(&server, &db, &copy, "orders");
    // Not from zero: at most the rows not copied yet, and the ones changed
    // since the copy's horizon (they come with the incremental pass).
    let changed: u64 = src
        .scalar(&format!(
            "SELECT COUNT(*) FROM {} WHERE ts > '2025-01-01'",
            qualified(&db, "orders")
        ))
        .and_then(|n| n.parse().ok())
        .expect("a count");
    let rows = applied(&run, "orders");
    assert!(
        rows <= 40_000 - before + changed,
        "{rows} rows applied, though {before} of 40000 were copied already: {}",
        summary(&run, "orders")
    );
    assert_eq!(
        comment(dst, &copy, "orders"),
        OWN,
        "its own comment is back"
    );
    assert_same_definition(src, &db, dst, &copy, "orders");
    pull_until_complete(&server, &db, &copy, "orders", &[]);
    assert_same(src, &db, dst, &copy, &["orders"]);
}

#[test]
fn a_run_killed_while_it_ends_the_copy_ends_it_again() {
    let (src, dst) = pair();
    let (db, copy, server) = setup_pair(
        "fc_kill_end",
        "CREATE TABLE orders (id INT NOT NULL PRIMARY KEY, customer INT NOT NULL,
           ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
           KEY by_customer (customer), KEY (ts)) COMMENT 'mine';
         SET time_zone = '+00:00';
         INSERT INTO orders SELECT seq, seq % 100, '2024-01-01' + INTERVAL seq SECOND
           FROM seq_1_to_6000;",
    );
    let gate = Gate::start(server.port, 0, 0);
    let mut args = ARGS.to_vec();
    args.push("orders");
    let puller = Running::start(gate.port, dst, &db, &copy, &args);
    gate.wait_still();
    assert!(comment(dst, &copy, "orders").starts_with(MARK));
    // A reader of the destination table holds off the ALTER TABLE that
    // builds the indexes and takes the mark off, until the puller is gone.
    let mut reader = dst.conn();
    reader.query_drop("BEGIN").expect("BEGIN");
    reader
        .query_drop(format!(
            "SELECT COUNT(*) FROM {}",
            qualified(&copy, "orders")
        ))
        .expect("a read");
    gate.release();
    let waiting = format!(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE {} \
         AND STATE LIKE '%metadata lock%'",
        literal(&format!("ALTER TABLE `{copy}`.`orders`%"))
    );
    let mut alter = None;
    wait_until(
        "the ALTER TABLE that ends the copy to wait",
        Duration::from_secs(60),
        || {
            alter = dst.scalar(&waiting);
            alter.is_some()
        },
    );
    let stderr = puller.kill();
    assert!(!stderr.contains("resuming"), "{stderr}");
    // Killed with it, as a crash of the destination's client would leave it.
    dst.exec(&format!("KILL QUERY {}", alter.unwrap_or_default()));
    reader.query_drop("COMMIT").expect("COMMIT");
    assert!(comment(dst, &copy, "orders").starts_with(MARK));
    assert_eq!(count(dst, &copy, "orders"), 6000, "every range was done");

    let run = complete(&server, &db, &copy, "orders");
    assert_eq!(applied(&run, "orders"), 0, "{}", summary(&run, "orders"));
    assert_eq!(comment(dst, &copy, "orders"), "mine");
    assert_same_definition(src, &db, dst, &copy, "orders");
    assert_same(src, &db, dst, &copy, &["orders"]);
}

/// A copy of `names` (string keys made by `name`, an SQL expression over
/// `seq`, in `collation`) killed twice, then completed: equal.
fn string_keys_resume(prefix: &str, name: &str, collation: &str) {
    let (src, dst) = pair();
    let ddl = format!(
        "CREATE TABLE names (name VARCHAR(64) NOT NULL PRIMARY KEY, n INT NOT NULL,
           ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
           KEY (ts)) DEFAULT CHARSET=utf8mb4 COLLATE={collation} COMMENT 'names';
         SET time_zone = '+00:00';
         INSERT INTO names SELECT {name}, seq, '2024-01-01' + INTERVAL seq SECOND
           FROM seq_1_to_12000;"
    );
    let (db, copy, server) = setup_pair(prefix, &ddl);
    let key = "HEX(name)";
    let (first, held) = kill_during_copy(
        &server,
        &db,
        &copy,
        "names",
        key,
        (0, 60_000, 1000, 0),
        &HashSet::new(),
    );
    assert!(!first.contains("resuming"), "{first}");
    assert!(held.len() >= 1000, "{} rows copied", held.len());
    let (second, held) = kill_during_copy(
        &server,
        &db,
        &copy,
        "names",
        key,
        (1, 40_000, 0, 100),
        &held,
    );
    assert!(second.contains("resuming its first copy"), "{second}");
    let run = complete(&server, &db, &copy, "names");
    let rows = applied(&run, "names");
    assert!(
        rows <= 12_000 - held.len() as u64,
        "{}",
        summary(&run, "names")
    );
    assert_eq!(comment(dst, &copy, "names"), "names");
    assert_same(src, &db, dst, &copy, &["names"]);
}

#[test]
fn a_first_copy_of_string_keys_killed_twice_resumes_in_their_collation() {
    // Quotes, backslashes, accents and case that the case- and
    // accent-insensitive collation folds together ('Ärger' = 'arger').
    string_keys_resume(
        "fc_kill_strings",
        "CONCAT(ELT(1 + seq % 6, 'O''Brien', 'back\\\\slash', 'Ärger', 'arger', 'ÉTÉ', 'Ωmega'), ' ',
           LPAD(seq, 5, '0'))",
        "utf8mb4_unicode_ci",
    );
}

#[test]
fn a_first_copy_of_keys_outside_the_bmp_killed_twice_resumes_every_row() {
    // A MariaDB table comment is utf8mb3: in the puller's utf8mb4 session
    // an emoji would be stored as '?' (the resumed ranges wrong ones), so
    // the mark writes every non-ASCII character as a JSON escape.
    string_keys_resume(
        "fc_kill_emoji",
        "CONCAT(ELT(1 + seq % 3, '😀', '🚀', '𝄞'), ' ', LPAD(seq, 5, '0'))",
        "utf8mb4_bin",
    );
}
