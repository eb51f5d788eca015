//! Deleting on the destination is the most dangerous thing the puller does.
//! These tests try to make it delete a row the source has: writers
//! inserting, updating, deleting and re-creating rows while `--deletes` and
//! `--verify` passes run back to back; digest answers cut off mid-way or
//! empty; foreign keys with cascades. A trigger on the destination logs
//! every delete, and each must match an earlier delete on the source.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dbdump_tests::cutter::{Cut, Cutter};
use dbdump_tests::*;
use mysql::prelude::Queryable;

const T: &str = "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, v INT NOT NULL,
    ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), KEY (ts))";

/// Source database with `t` (ids 1..=rows) and a log of its deletes (no
/// key: `-t t` keeps it out of the sync); the destination's copy logs its
/// deletes too.
fn setup(src: &Sandbox, dst: &Sandbox, prefix: &str, rows: u32) -> (String, String) {
    let db = unique_name(prefix);
    let copy = format!("{db}_copy");
    let trigger =
        "CREATE TRIGGER t_gone AFTER DELETE ON t FOR EACH ROW INSERT INTO gone VALUES (OLD.id, NOW(6))";
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0}; {T}; CREATE TABLE gone (id INT NOT NULL, at DATETIME(6) NOT NULL);
         CREATE TABLE drifted (id INT NOT NULL);
         {trigger}; SET time_zone = '+00:00';
         INSERT INTO t (id, v, ts) SELECT seq, seq, '2024-01-01' + INTERVAL seq SECOND FROM seq_1_to_{rows};",
        ident(&db)
    ));
    // The copy gets `gone` (it is a base table) but not the trigger.
    copy_schema(src, &db, dst, &copy);
    dst.exec(&format!("USE {}; {trigger}", ident(&copy)));
    (db, copy)
}

/// Every key deleted on the destination was deleted on the source first.
fn assert_deletes_justified(src: &Sandbox, db: &str, dst: &Sandbox, copy: &str) -> usize {
    let gone = |s: &Sandbox, d: &str| -> Vec<(u32, String)> {
        s.query_strings(&format!("SELECT id, at FROM {}.gone ORDER BY at", ident(d)))
            .into_iter()
            .map(|r| {
                let id = r[0].as_deref().and_then(|v| v.parse().ok()).unwrap_or(0);
                (id, r[1].clone().unwrap_or_default())
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

/// Inserts, updates, deletes and re-creates rows until stopped; deletes
/// are logged by the source's trigger.
fn start_writer(
    src: &Sandbox,
    db: &str,
    stop: Arc<AtomicBool>,
    drift: bool,
) -> std::thread::JoinHandle<u32> {
    let mut conn = src.conn();
    conn.query_drop(format!("USE {}", ident(db))).expect("use");
    std::thread::spawn(move || {
        let (mut n, mut seed) = (0u32, 0x2545_F491_4F6C_DD1Du64);
        let mut next = 100_000u32;
        while !stop.load(Ordering::Relaxed) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let id = (seed % 3000) as u32 + 1;
            let sql = match seed % 10 {
                0..=2 => {
                    next += 1;
                    format!("INSERT INTO t (id, v) VALUES ({next}, 1)")
                }
                3..=5 => format!("UPDATE t SET v = v + 1 WHERE id = {id}"),
                6..=7 => format!("DELETE FROM t WHERE id = {id}"),
                8 => format!("INSERT IGNORE INTO t (id, v) VALUES ({id}, 2)"),
                _ if drift => {
                    conn.query_drop(format!("INSERT INTO drifted VALUES ({id})"))
                        .expect("writer statement");
                    format!("UPDATE t SET v = v + 1, ts = ts WHERE id = {id}")
                }
                _ => format!("DELETE FROM t WHERE id = {next}"),
            };
            conn.query_drop(sql).expect("writer statement");
            n += 1;
        }
        n
    })
}

/// Polls with `mode` for three seconds while a writer runs, then one more
/// pass once the writes settled: the destination equals the source, and
/// every delete on it was justified.
fn converge_under_writes(prefix: &str, mode: &str) {
    // Own source: the writer would hold back the other tests' horizons.
    let src = &Sandbox::start(&format!("{prefix}-source"), None);
    let dst = &pair().1;
    let (db, copy) = setup(src, dst, prefix, 3000);
    let server = Server::start(src, &["--source-databases", &db]);
    let run = puller(server.port, dst, &db, &copy, &["-t", "t"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(count(dst, &copy, "t"), 3000);

    let stop = Arc::new(AtomicBool::new(false));
    let writer = start_writer(src, &db, stop.clone(), mode == "--verify");
    let args = ["-t", "t", "--poll-interval", "0.05", mode];
    let mut poller = spawn(
        puller_command(server.port, dst, &db, &copy, &args).stderr(std::process::Stdio::piped()),
    );
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    let statements = writer.join().expect("writer");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &poller.id().to_string()])
        .status();
    let mut stderr = String::new();
    if let Some(mut e) = poller.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert_eq!(
        poller.wait().expect("puller exits").code(),
        Some(0),
        "{stderr}"
    );
    let passes = stderr.matches(&format!("{} in", &mode[2..])).count();
    assert!(
        statements > 300 && passes >= 5,
        "too little happened: {statements} statements, {passes} passes"
    );

    // The last writes wait out --settle and the timestamp's precision.
    // Then an ordinary pass (with deletes) must bring everything but the
    // rows changed behind their timestamps' backs: a repair that had moved
    // the resume point past rows not yet applied would show here.
    std::thread::sleep(Duration::from_millis(2100));
    let run = puller(server.port, dst, &db, &copy, &["-t", "t", "--deletes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let drifted: Vec<String> = src
        .query_strings(&format!("SELECT DISTINCT id FROM {}.drifted", ident(&db)))
        .into_iter()
        .filter_map(|r| r[0].clone())
        .chain(["0".to_string()])
        .collect();
    let rows = |s: &Sandbox, d: &str| {
        s.query_strings(&format!(
            "SELECT id, v, ts FROM {}.t WHERE id NOT IN ({}) ORDER BY id",
            ident(d),
            drifted.join(",")
        ))
    };
    assert!(
        rows(src, &db) == rows(dst, &copy),
        "rows other than the drifted ones differ"
    );
    let run = puller(server.port, dst, &db, &copy, &["-t", "t", mode]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["t"]);
    let deleted = assert_deletes_justified(src, &db, dst, &copy);
    assert!(
        deleted > 50,
        "the passes deleted next to nothing ({deleted})"
    );
}

#[test]
fn deletes_under_concurrent_writes_never_remove_a_source_row() {
    converge_under_writes("race-deletes", "--deletes");
}

#[test]
fn verify_under_concurrent_writes_never_removes_a_source_row() {
    converge_under_writes("race-verify", "--verify");
}

#[test]
fn a_cut_off_or_empty_digest_answer_deletes_nothing() {
    let (src, dst) = pair();
    let (db, copy) = setup(src, dst, "cutoff", 3000);
    let server = Server::start(src, &["--source-databases", &db, "--settle", "0"]);
    std::thread::sleep(Duration::from_millis(1100));
    let run = puller(server.port, dst, &db, &copy, &["-t", "t"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    src.exec(&format!("DELETE FROM {}.t WHERE id % 100 = 0", ident(&db)));
    let cases = [
        (0, Cut::NoTrailer, "without a trailer"),
        (0, Cut::Empty, "without a trailer"),
        // The first narrowing request: differences are known by then.
        (1, Cut::NoTrailer, "without a trailer"),
        (1, Cut::Empty, "without a trailer"),
    ];
    for (cut, how, says) in cases {
        for mode in ["--deletes", "--verify"] {
            // Plain answers lose their last line; compressed ones are cut
            // inside the gzip data, which is told as such.
            for compress in ["--source-compress=no", "--source-compress=yes"] {
                // A fresh relay each time: it counts the digest answers.
                let cutter = Cutter::start(server.port, "/digest", cut, how);
                let run = puller(cutter.port, dst, &db, &copy, &["-t", "t", mode, compress]);
                assert_eq!(run.code, 1, "{}", run.stderr);
                let gzip_cut = compress.ends_with("yes")
                    && run.stderr.contains("the compressed stream was cut off");
                assert!(run.stderr.contains(says) || gzip_cut, "{}", run.stderr);
                assert_eq!(count(dst, &copy, "t"), 3000, "{mode}: nothing deleted");
            }
        }
    }
    let run = puller(server.port, dst, &db, &copy, &["-t", "t", "--deletes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["t"]);
}

#[test]
fn deletes_of_parents_and_children_with_cascades_on_both_sides() {
    // A Sakila-shaped corner: customer <- rental <- payment, cascading on
    // the source. The destination's own ON DELETE CASCADE does not fire
    // (foreign key checks are off in the puller's session, as in a
    // mysqldump restore); each table's own pass deletes its rows.
    let (src, dst) = pair();
    let db = unique_name("cascade");
    let copy = format!("{db}_copy");
    let ts = "last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP";
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0};
         CREATE TABLE customer (customer_id SMALLINT UNSIGNED PRIMARY KEY, name VARCHAR(45), {ts});
         CREATE TABLE rental (rental_id INT PRIMARY KEY, customer_id SMALLINT UNSIGNED NOT NULL, {ts},
           FOREIGN KEY (customer_id) REFERENCES customer (customer_id) ON DELETE CASCADE);
         CREATE TABLE payment (payment_id SMALLINT UNSIGNED PRIMARY KEY, rental_id INT NULL,
           amount DECIMAL(5,2) NOT NULL, {ts},
           FOREIGN KEY (rental_id) REFERENCES rental (rental_id) ON DELETE SET NULL);
         INSERT INTO customer (customer_id, name) SELECT seq, CONCAT('c', seq) FROM seq_1_to_200;
         INSERT INTO rental (rental_id, customer_id) SELECT seq, 1 + seq % 200 FROM seq_1_to_1000;
         INSERT INTO payment (payment_id, rental_id, amount) SELECT seq, seq, seq % 10 FROM seq_1_to_1000;",
        ident(&db)
    ));
    copy_schema(src, &db, dst, &copy);
    let server = Server::start(src, &["--source-databases", &db, "--settle", "0"]);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(puller(server.port, dst, &db, &copy, &[]).code, 0);
    // Cascades on the source: rentals go, and payments lose their rental
    // without their timestamps moving (InnoDB's cascades bypass ON UPDATE).
    src.exec(&format!(
        "DELETE FROM {}.customer WHERE customer_id % 10 = 0",
        ident(&db)
    ));
    let run = puller(server.port, dst, &db, &copy, &["--deletes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["customer", "rental"]);
    let orphans = format!(
        "SELECT COUNT(*) FROM {}.payment WHERE rental_id IS NULL",
        ident(&copy)
    );
    assert_eq!(
        dst.scalar(&orphans).as_deref(),
        Some("0"),
        "no cascade fired here"
    );
    let run = puller(server.port, dst, &db, &copy, &["--verify"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["customer", "rental", "payment"]);
}
