//! The ways timestamp-cursor sync tools lose or repeat rows, each provoked
//! on purpose: same-second writes, a bulk update sharing one timestamp, a
//! transaction that commits late, rounded checkpoints, odd names, and a
//! puller killed at random moments. The destination must equal the source.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dbdump_tests::*;
use mysql::prelude::Queryable;

use dbdump_tests::database_pair as setup;

fn applied(stderr: &str, table: &str) -> u64 {
    let marker = format!("table `{table}`: ");
    stderr
        .lines()
        .find_map(|l| l.split_once(&marker).map(|(_, rest)| rest))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary for {table} in:\n{stderr}"))
}

/// Pulls until `table` has `rows` rows in the destination. Other tests on
/// the same source run long statements too, and every running statement
/// holds the (server-wide) horizon back while it runs.
fn pull_until(server: &Server, dst: &Sandbox, db: &str, copy: &str, table: &str, rows: u64) {
    wait_until("rows did not arrive", Duration::from_secs(30), || {
        count(dst, copy, table) >= rows || {
            pull_ok(server, dst, db, copy);
            false
        }
    });
}

fn pull_ok(server: &Server, dst: &Sandbox, db: &str, copy: &str) -> PullerRun {
    let run = puller(server.port, dst, db, copy, &[]);
    assert_eq!(run.code, 0, "puller failed:\n{}", run.stderr);
    run
}

/// A writer inserting and updating rows with natural CURRENT_TIMESTAMPs
/// until stopped.
fn start_writer(src: &Sandbox, db: &str, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    let mut conn = src.conn();
    let db = db.to_string();
    std::thread::spawn(move || {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let sql = if n.is_multiple_of(3) {
                format!("UPDATE {}.t SET v = v + 1 WHERE id = {}", ident(&db), n / 2)
            } else {
                format!("INSERT INTO {}.t (v) VALUES ({n})", ident(&db))
            };
            conn.query_drop(sql).expect("writer statement");
        }
        n
    })
}

const T: &str = "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL,
    ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, KEY (ts))";

#[test]
fn rows_written_in_the_same_second_as_a_sync_are_not_lost() {
    // Failure 1: `ts > since` skips rows that land in the second already
    // synced. Whole-second timestamps, a writer going flat out and a puller
    // polling 20 times a second make such rows happen constantly.
    let (src, dst) = pair();
    // The default settle margin: it is what covers a statement that took
    // its timestamp but is not yet visible in PROCESSLIST when the horizon
    // is computed (with 0 such a row can be missed, as documented).
    let (db, copy, server) = setup(src, dst, "samesec", T, &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = start_writer(src, &db, stop.clone());
    let mut poller = Reaped(
        puller_command(server.port, dst, &db, &copy, &["--poll-interval", "0.05"])
            .spawn()
            .expect("puller starts"),
    );
    std::thread::sleep(Duration::from_secs(4));
    stop.store(true, Ordering::Relaxed);
    let statements = writer.join().expect("writer");
    assert!(
        statements > 500,
        "the writer was too slow to prove anything: {statements}"
    );
    // The last second's rows wait for the horizon; the poller then catches up.
    let deadline = Instant::now() + Duration::from_secs(30);
    while checksum(src, &db, "t") != checksum(dst, &copy, "t") {
        if Instant::now() > deadline {
            let last = |s: &Sandbox, d: &str| {
                s.query_strings(&format!(
                    "SET time_zone = '+00:00'; SELECT ts, id, v FROM {}.t ORDER BY ts DESC, id DESC LIMIT 3",
                    ident(d)
                ))
            };
            eprintln!(
                "source newest: {:?}\ndestination newest: {:?}",
                last(src, &db),
                last(dst, &copy)
            );
            let log = server.log_text();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            eprintln!("server log tail:\n{}", tail.join("\n"));
            assert_same(src, &db, dst, &copy, &["t"]);
            panic!("destination never caught up");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &poller.id().to_string()])
        .status();
    assert_eq!(poller.wait().expect("puller exits").code(), Some(0));
    assert_same(src, &db, dst, &copy, &["t"]);
}

#[test]
fn a_bulk_update_sharing_one_timestamp_is_sent_once() {
    // Failure 2: with `ts >= since`, every poll after a bulk update re-sends
    // all its rows. Resuming by (timestamp, key) reads almost nothing. Own
    // source server: Innodb_rows_read is global.
    let src = Sandbox::start("bulk-source", None);
    let dst = &pair().1;
    let (db, copy, server) = setup(&src, dst, "bulk", T, &["--settle", "0"]);
    src.exec(&format!(
        "USE {}; INSERT INTO t (id, v) SELECT seq, 0 FROM seq_1_to_100000",
        ident(&db)
    ));
    std::thread::sleep(Duration::from_millis(1100));
    pull_ok(&server, dst, &db, &copy);
    src.exec(&format!("UPDATE {}.t SET v = v + 1", ident(&db)));
    let same = src.scalar(&format!("SELECT COUNT(DISTINCT ts) FROM {}.t", ident(&db)));
    assert_eq!(same.as_deref(), Some("1"), "one statement, one timestamp");
    std::thread::sleep(Duration::from_millis(1100));
    let before = src.rows_read();
    let run = pull_ok(&server, dst, &db, &copy);
    let busy = src.rows_read() - before;
    assert_eq!(applied(&run.stderr, "t"), 100_000);
    assert!(busy >= 100_000, "the counter sees the bulk pass: {busy}");
    assert_same(&src, &db, dst, &copy, &["t"]);

    let before = src.rows_read();
    let idle = pull_ok(&server, dst, &db, &copy);
    let read = src.rows_read() - before;
    eprintln!("rows read on the source: bulk pass {busy}, idle poll after it {read}");
    assert_eq!(applied(&idle.stderr, "t"), 0, "nothing is sent again");
    assert!(read < 1_000, "an idle poll read {read} rows on the source");
}

#[test]
fn a_transaction_that_commits_late_is_not_skipped() {
    // Failure 3: a transaction writes a row (timestamp T), others commit rows
    // after T and get synced, then it commits: its row is older than the
    // resume point. The horizon keeps everything from T on back until it
    // commits.
    let (src, dst) = pair();
    let (db, copy, server) = setup(src, dst, "late", T, &["--settle", "0"]);
    let mut late = src.conn();
    late.query_drop(format!(
        "START TRANSACTION; INSERT INTO {}.t (v) VALUES (-1)",
        ident(&db)
    ))
    .expect("open transaction");
    std::thread::sleep(Duration::from_millis(1100));
    src.exec(&format!("INSERT INTO {}.t (v) VALUES (1), (2)", ident(&db)));
    std::thread::sleep(Duration::from_millis(2200));
    let held = pull_ok(&server, dst, &db, &copy);
    assert_eq!(
        applied(&held.stderr, "t"),
        0,
        "rows after the open transaction wait"
    );
    // The log names the session, for SHOW PROCESSLIST.
    let log = server.log_text();
    assert!(
        log.lines().any(|l| l.contains("held back")
            && l.contains("transaction (thread ")
            && l.contains("root@")
            && l.contains(", Sleep, RUNNING, ")
            && l.contains("1 rows modified")),
        "{log}"
    );
    late.query_drop("COMMIT").expect("commit");
    pull_until(&server, dst, &db, &copy, "t", 3);
    assert_same(src, &db, dst, &copy, &["t"]);
}

#[test]
fn a_transaction_hidden_by_a_frozen_transaction_list_still_holds_rows_back() {
    // InnoDB rebuilds INNODB_TRX only when nobody has read it for 100 ms: a
    // monitoring tool (or a crowd of pullers) polling faster freezes it, and
    // a transaction opened meanwhile is not in it. The server must notice
    // and keep its last provably fresh horizon. Own source: the frozen list
    // would stall the other tests.
    let src = &Sandbox::start("frozen-source", None);
    let dst = &pair().1;
    let (db, copy, server) = setup(src, dst, "frozen", T, &["--settle", "0"]);
    let table = format!("{}.t", ident(&db));
    src.exec(&format!("INSERT INTO {table} (v) VALUES (0)"));
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(applied(&pull_ok(&server, dst, &db, &copy).stderr, "t"), 1);

    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (stop, mut conn) = (stop.clone(), src.conn());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                conn.query_drop("SELECT COUNT(*) FROM information_schema.INNODB_TRX")
                    .expect("poll INNODB_TRX");
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let mut late = src.conn();
    late.query_drop(format!(
        "START TRANSACTION; INSERT INTO {table} (v) VALUES (-1)"
    ))
    .expect("open transaction");
    std::thread::sleep(Duration::from_millis(1100));
    src.exec(&format!("INSERT INTO {table} (v) VALUES (1), (2)"));
    std::thread::sleep(Duration::from_millis(1100));
    let held = pull_ok(&server, dst, &db, &copy);
    assert_eq!(
        applied(&held.stderr, "t"),
        0,
        "rows wait while the list is frozen"
    );
    assert!(
        server.log_text().contains("INNODB_TRX did not refresh"),
        "{}",
        server.log_text()
    );
    late.query_drop("COMMIT").expect("commit");
    stop.store(true, Ordering::Relaxed);
    poller.join().expect("INNODB_TRX poller");
    pull_until(&server, dst, &db, &copy, "t", 4);
    assert_same(src, &db, dst, &copy, &["t"]);
}

#[test]
fn two_busy_servers_on_one_source_both_keep_serving() {
    // Each server reads INNODB_TRX at most every 0.11 s, but two of them
    // reading in turn can freeze it for each other; their retries fall out
    // of step, so neither gets stuck or answers 503.
    let src = &Sandbox::start("twoservers-source", None);
    let dst = &pair().1;
    let (db, copy, first) = setup(src, dst, "twoservers", T, &["--settle", "0"]);
    let second = Server::start(src, &["--source-databases", &db, "--settle", "0"]);
    let path = format!("/{db}/t/");
    let until = Instant::now() + Duration::from_secs(3);
    let load = |port: u16| {
        let path = path.clone();
        std::thread::spawn(move || {
            let mut statuses = Vec::new();
            while Instant::now() < until {
                statuses.push(http_get(port, &path, &[]).0);
            }
            statuses
        })
    };
    let clients = [load(first.port), load(second.port)];
    while Instant::now() < until {
        src.exec(&format!("INSERT INTO {}.t (v) VALUES (1)", ident(&db)));
        std::thread::sleep(Duration::from_millis(100));
    }
    for client in clients {
        let statuses = client.join().expect("client");
        assert!(statuses.len() > 10, "{statuses:?}");
        assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    }
    std::thread::sleep(Duration::from_millis(1100));
    pull_ok(&second, dst, &db, &copy);
    assert_same(src, &db, dst, &copy, &["t"]);
}

#[test]
fn a_slow_statement_cannot_hide_its_early_timestamp() {
    // A statement's CURRENT_TIMESTAMP is its start; this one commits 3 s
    // later, after other rows were synced. The running-statement term of the
    // horizon holds them back.
    let (src, dst) = pair();
    let (db, copy, server) = setup(src, dst, "slowstmt", T, &["--settle", "0"]);
    let table = format!("{}.t", ident(&db));
    let slow = {
        let mut conn = src.conn();
        let sql = format!("INSERT INTO {table} (v) SELECT SLEEP(3) - 7");
        std::thread::spawn(move || conn.query_drop(sql).expect("slow insert"))
    };
    std::thread::sleep(Duration::from_millis(1200));
    src.exec(&format!("INSERT INTO {table} (v) VALUES (1)"));
    std::thread::sleep(Duration::from_millis(1100));
    pull_ok(&server, dst, &db, &copy);
    slow.join().expect("slow statement");
    pull_until(&server, dst, &db, &copy, "t", 2);
    assert_same(src, &db, dst, &copy, &["t"]);
}

#[test]
fn without_process_privilege_the_server_says_so_and_still_syncs() {
    let (src, dst) = pair();
    let user = unique_name("noproc");
    let db = unique_name("noproc_db");
    let copy = format!("{db}_copy");
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0}; {T}; INSERT INTO t (id, v, ts) VALUES (1, 1, '2020-01-01 00:00:00');
         CREATE USER '{user}'@'%'; GRANT SELECT ON {0}.* TO '{user}'@'%'",
        ident(&db)
    ));
    copy_schema(src, &db, dst, &copy);
    let mut server = Server::start_on(free_port(), src, &["--source-databases", &db], &[]);
    server.stop();
    // The harness logs in as root; start this one as the unprivileged user.
    let port = free_port();
    let child = clean_command(bin("dbd_server"))
        .args([
            "-a",
            "127.0.0.1",
            "-P",
            &port.to_string(),
            "--source-host",
            "127.0.0.1",
        ])
        .args([
            "--source-port",
            &src.port.to_string(),
            "--source-username",
            &user,
            "--source-databases",
            &db,
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("server starts");
    wait_until("server did not come up", Duration::from_secs(10), || {
        http_get(port, "/", &[]).0 == 200
    });
    let run = puller(port, dst, &db, &copy, &[]);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().expect("server exits");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("PROCESS privilege"), "{log}");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["t"]);
}

#[test]
fn fractional_checkpoints_are_not_rounded() {
    // Failure 4: a checkpoint rounded to whole seconds (or milliseconds)
    // skips or repeats the rows in between.
    let (src, dst) = pair();
    let (db, copy, server) = setup(
        src,
        dst,
        "frac",
        "CREATE TABLE f (id INT PRIMARY KEY, ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
           ON UPDATE CURRENT_TIMESTAMP(6), KEY (ts))",
        &[],
    );
    let insert = |id: u32, ts: &str| {
        src.exec(&format!(
            "SET time_zone = '+00:00'; INSERT INTO {}.f VALUES ({id}, '{ts}')",
            ident(&db)
        ))
    };
    insert(1, "2020-01-01 10:00:00.999998");
    pull_ok(&server, dst, &db, &copy);
    insert(2, "2020-01-01 10:00:00.999999");
    insert(3, "2020-01-01 10:00:01.000000");
    let run = pull_ok(&server, dst, &db, &copy);
    assert_eq!(applied(&run.stderr, "f"), 2);
    insert(4, "2020-01-01 10:00:01.000001");
    let run = pull_ok(&server, dst, &db, &copy);
    assert_eq!(applied(&run.stderr, "f"), 1);
    assert_same(src, &db, dst, &copy, &["f"]);
}

#[test]
fn null_timestamps_travel_with_a_full_sync() {
    let (src, dst) = pair();
    let (db, copy, server) = setup(
        src,
        dst,
        "nullts",
        "CREATE TABLE p (id INT PRIMARY KEY, amount DECIMAL(5,2),
           last_update TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
         INSERT INTO p VALUES (1, 1.00, NULL), (2, 2.00, NULL), (3, 3.00, '2020-01-01 00:00:00');",
        &[],
    );
    let run = pull_ok(&server, dst, &db, &copy);
    assert_eq!(applied(&run.stderr, "p"), 3);
    assert_same(src, &db, dst, &copy, &["p"]);
}

#[test]
fn odd_identifiers_sync() {
    let (src, dst) = pair();
    let db = format!("{} we`ird/%?ü select", unique_name("odd"));
    let copy = format!("{db} copy");
    let table = "ta`b le/100%?ünï";
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0};
         CREATE TABLE {1} (`from` INT, `a b` VARCHAR(10), `c``d` INT, `ü/%?` INT, `select` INT,
           `time stamp` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
           PRIMARY KEY (`from`, `a b`));
         INSERT INTO {1} VALUES (1, 'x', 2, 3, 4, '2020-01-01 00:00:00'), (2, 'y`', 5, 6, 7, '2020-01-01 00:00:00');",
        ident(&db),
        ident(table)
    ));
    copy_schema(src, &db, dst, &copy);
    let server = Server::start(src, &["--source-databases", &db]);
    let run = pull_ok(&server, dst, &db, &copy);
    assert_eq!(applied(&run.stderr, table), 2);
    assert_same(src, &db, dst, &copy, &[table]);
    // And by hand: the encoded names address the same table.
    let path = format!(
        "/{}/{}/?include_columns={}",
        dbdump_shared::http::percent_encode(&db),
        dbdump_shared::http::percent_encode(table),
        dbdump_shared::http::percent_encode("c`d")
    );
    let (status, _, body) = http_get(server.port, &path, &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(ndjson_lines(&body).len(), 4);
}

#[test]
fn killing_the_puller_at_random_moments_loses_nothing() {
    // A large sync under concurrent inserts and updates, the puller killed
    // with SIGKILL at random moments; one clean run afterwards must leave
    // the destination equal to the source. Own source: its writer would
    // hold back the horizon of the other tests.
    let src = &Sandbox::start("crash-source", None);
    let dst = &pair().1;
    let (db, copy, server) = setup(src, dst, "crash", T, &[]);
    src.exec(&format!(
        "USE {}; INSERT INTO t (id, v, ts) SELECT seq, seq, '2020-01-01 00:00:00' + INTERVAL seq SECOND FROM seq_1_to_150000",
        ident(&db)
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = start_writer(src, &db, stop.clone());
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(7);
    for _ in 0..6 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = 100 + (seed >> 33) % 700;
        let mut child = Reaped(
            puller_command(server.port, dst, &db, &copy, &[])
                .spawn()
                .expect("puller starts"),
        );
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    assert!(
        count(dst, &copy, "t") > 0,
        "some batches landed before the kills"
    );
    // The last writes are younger than the settle margin (1 s) plus the
    // whole-second timestamp: give them that, then one clean run.
    std::thread::sleep(Duration::from_millis(2100));
    pull_ok(&server, dst, &db, &copy);
    assert_same(src, &db, dst, &copy, &["t"]);
}

#[test]
fn a_committed_row_arrives_on_the_first_poll_two_seconds_later() {
    // Default settle (1 s) and whole-second timestamps: a row committed at
    // any moment is below the horizon two seconds later. Own source: the
    // other tests' open transactions would hold its horizon back.
    let src = &Sandbox::start("twosec-source", None);
    let dst = &pair().1;
    let (db, copy, server) = setup(src, dst, "twosec", T, &[]);
    src.exec(&format!("INSERT INTO {}.t (v) VALUES (1)", ident(&db)));
    std::thread::sleep(Duration::from_millis(2100));
    let run = pull_ok(&server, dst, &db, &copy);
    assert_eq!(applied(&run.stderr, "t"), 1, "{}", run.stderr);
}
