//! Convergence end to end: `--deletes`, `--verify`, `--force-resync` and
//! `--resync-interval` against a real source and destination. Deletes and
//! drift (rows changed without their timestamp moving, rows written with
//! old timestamps, hand edits on the destination) must reach the
//! destination, excluded columns must be left alone, and the guard must
//! stop a pass that would empty a table.

use std::time::Duration;

use dbdump_tests::setup_pair as setup;
use dbdump_tests::*;

fn pull(server: &Server, db: &str, copy: &str, extra: &[&str]) -> PullerRun {
    puller(server.port, &pair().1, db, copy, extra)
}

/// Rows written now are below the horizon a second later.
fn wait_for_horizon() {
    std::thread::sleep(Duration::from_millis(1100));
}

const ITEM: &str = "CREATE TABLE item (id INT NOT NULL PRIMARY KEY, name VARCHAR(40) NOT NULL,
    note TEXT NULL,
    ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), KEY (ts))";

#[test]
fn deletes_reach_the_destination_for_every_kind_of_key() {
    let (src, dst) = pair();
    let (db, copy, server) = setup(
        "deletes",
        "CREATE TABLE item (id INT NOT NULL PRIMARY KEY, v INT,
           ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
         CREATE TABLE line (order_id BIGINT UNSIGNED NOT NULL, region CHAR(2) NOT NULL, line SMALLINT NOT NULL,
           qty INT, ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
           PRIMARY KEY (order_id, region, line));
         CREATE TABLE `odd ``name`` ü` (`k``ey ü` VARCHAR(20) COLLATE utf8mb4_unicode_ci NOT NULL,
           `at` DATETIME(6) NOT NULL, `v a` BLOB,
           `t s` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
           PRIMARY KEY (`k``ey ü`, `at`));
         INSERT INTO item (id, v) SELECT seq, seq FROM seq_1_to_2500;
         INSERT INTO line (order_id, region, line, qty)
           SELECT seq DIV 10, IF(seq % 2, 'EU', 'US'), seq % 10, seq FROM seq_1_to_2500;
         INSERT INTO `odd ``name`` ü` (`k``ey ü`, `at`, `v a`)
           SELECT CONCAT('ké', seq % 7, ' `x`'), '2020-01-01' + INTERVAL seq SECOND, x'00ff' FROM seq_1_to_1500;",
    );
    wait_for_horizon();
    pull_ok(&server, &db, &copy, &[]);
    let odd = "odd `name` ü";
    // Scattered, at both ends of the key order, and whole runs.
    src.exec(&format!(
        "USE {};
         DELETE FROM item WHERE id % 97 = 0 OR id IN (1, 2, 2500) OR id BETWEEN 1200 AND 1300;
         DELETE FROM line WHERE order_id IN (0, 250) OR (order_id % 31 = 0 AND region = 'EU');
         DELETE FROM `odd ``name`` ü` WHERE `at` < '2020-01-01 00:01:00' OR `k``ey ü` LIKE 'ké3%';",
        ident(&db)
    ));
    let gone = |t: &str| count(src, &db, t);
    let (items, lines, odds) = (gone("item"), gone("line"), gone(odd));
    assert!(
        items < 2400 && lines < 2460 && odds < 1300,
        "{items} {lines} {odds}"
    );

    // Off by default: the original never deleted.
    let run = pull_ok(&server, &db, &copy, &[]);
    assert!(!run.stderr.contains("deletes in"), "{}", run.stderr);
    assert_eq!(count(dst, &copy, "item"), 2500);

    let run = pull_ok(&server, &db, &copy, &["--deletes"]);
    assert_eq!(figure(&run, "item", "rows deleted"), 2500 - items);
    assert_eq!(figure(&run, "line", "rows deleted"), 2500 - lines);
    assert_eq!(figure(&run, odd, "rows deleted"), 1500 - odds);
    assert_same(src, &db, dst, &copy, &["item", "line", odd]);

    // Nothing left to do: every chunk agrees.
    let run = pull_ok(&server, &db, &copy, &["--deletes"]);
    assert_eq!(figure(&run, "item", "differed"), 0, "{}", run.stderr);
    assert_eq!(figure(&run, "item", "chunks compared"), 3);
}

#[test]
fn drift_and_hand_edits_are_found_and_repaired_by_verify() {
    let (src, dst) = pair();
    let (db, copy, server) = setup("drift", ITEM);
    src.exec(&format!(
        "SET time_zone = '+00:00'; USE {}; INSERT INTO item (id, name, ts)
           SELECT seq, CONCAT('n', seq), '2024-01-01' + INTERVAL seq SECOND FROM seq_1_to_3000",
        ident(&db)
    ));
    pull_ok(&server, &db, &copy, &[]);
    src.exec(&format!(
        "SET time_zone = '+00:00'; USE {};
         UPDATE item SET name = 'changed, same ts', ts = ts WHERE id IN (5, 1500, 2999);
         UPDATE item SET note = '' WHERE id = 7;
         UPDATE item SET ts = ts, note = 'NULL' WHERE id = 8;
         INSERT INTO item (id, name, ts) VALUES (3001, 'old timestamp', '2023-06-01 00:00:00');",
        ident(&db)
    ));
    dst.exec(&format!(
        "USE {};
         UPDATE item SET name = 'edited by hand', ts = ts WHERE id = 100;
         DELETE FROM item WHERE id = 200;
         INSERT INTO item (id, name, ts) VALUES (5000, 'only on the destination', '2024-01-01');",
        ident(&copy)
    ));
    // `note = ''` moved id 7's timestamp, so the incremental pass brings it;
    // the rest has timestamps the pass will never ask for.
    wait_for_horizon();
    let run = pull_ok(&server, &db, &copy, &[]);
    assert_eq!(figure(&run, "item", "rows applied"), 1, "{}", run.stderr);
    let run = pull_ok(&server, &db, &copy, &["--verify"]);
    assert_eq!(figure(&run, "item", "rows deleted"), 1, "{}", run.stderr);
    // 5, 1500, 2999, 8 (drift), 3001 (old timestamp), 100, 200 (hand edits).
    assert_eq!(figure(&run, "item", "rows repaired"), 7, "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["item"]);

    let run = pull_ok(&server, &db, &copy, &["--verify"]);
    assert_eq!(figure(&run, "item", "differed"), 0, "{}", run.stderr);
}

#[test]
fn excluded_columns_are_left_out_of_digests_and_alone() {
    let dst = &pair().1;
    let (db, copy, server) = setup(
        "xverify",
        "CREATE TABLE person (id INT PRIMARY KEY, name VARCHAR(20), secret VARCHAR(20),
           ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
         INSERT INTO person (id, name, secret) SELECT seq, CONCAT('p', seq), 'hunter2' FROM seq_1_to_50;",
    );
    wait_for_horizon();
    let x = ["-x", "person.secret", "--verify"];
    pull_ok(&server, &db, &copy, &x);
    dst.exec(&format!(
        "UPDATE {}.person SET secret = 'local', name = 'edited' WHERE id = 9",
        ident(&copy)
    ));
    let run = pull_ok(&server, &db, &copy, &x);
    assert_eq!(figure(&run, "person", "rows repaired"), 1, "{}", run.stderr);
    let row = dst.query_strings(&format!(
        "SELECT name, secret FROM {}.person WHERE id = 9",
        ident(&copy)
    ));
    assert_eq!(row, [[Some("p9".to_string()), Some("local".to_string())]]);
    let secrets = dst.scalar(&format!(
        "SELECT COUNT(*) FROM {}.person WHERE secret IS NULL",
        ident(&copy)
    ));
    assert_eq!(secrets.as_deref(), Some("49"), "never transferred");
    let run = pull_ok(&server, &db, &copy, &x);
    assert_eq!(figure(&run, "person", "differed"), 0, "{}", run.stderr);
}

#[test]
fn text_in_another_character_set_on_the_destination_compares_equal() {
    let (src, dst) = pair();
    let (db, copy, server) = setup(
        "charset",
        "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20) CHARACTER SET utf8mb4,
           ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
         INSERT INTO t (id, name) VALUES (1, 'café'), (2, 'Ærø'), (3, NULL), (4, '');",
    );
    dst.exec(&format!(
        "ALTER TABLE {}.t MODIFY name VARCHAR(20) CHARACTER SET latin1",
        ident(&copy)
    ));
    wait_for_horizon();
    let run = pull_ok(&server, &db, &copy, &["--verify"]);
    assert_eq!(figure(&run, "t", "differed"), 0, "{}", run.stderr);
    let names = dst.query_strings(&format!("SELECT name FROM {}.t ORDER BY id", ident(&copy)));
    assert_eq!(names[0][0].as_deref(), Some("café"));
    assert_eq!(names[2][0], None);
    let _ = src;
}

#[test]
fn the_guard_stops_passes_that_would_empty_a_table() {
    let (src, dst) = pair();
    let (db, copy, server) = setup(
        "guard",
        &format!("{ITEM}; INSERT INTO item (id, name) SELECT seq, 'x' FROM seq_1_to_100;"),
    );
    // A second database with the same table and other rows: the wrong
    // --source-database of a tired operator.
    let other = format!("{db}_other");
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0}; {ITEM}; INSERT INTO item (id, name) SELECT 1000 + seq, 'y' FROM seq_1_to_10;",
        ident(&other)
    ));
    let both = Server::start(
        src,
        &[
            "--source-databases",
            &format!("{db},{other}"),
            "--settle",
            "0",
        ],
    );
    wait_for_horizon();
    pull_ok(&server, &db, &copy, &[]);
    let rows = || count(dst, &copy, "item");

    let run = pull(&both, &other, &copy, &["--deletes"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("refusing to delete at least 100 of the 110 destination rows")
            && run.stderr.contains("--force-deletes"),
        "{}",
        run.stderr
    );
    assert_eq!(rows(), 110, "the wrong database's rows came, nothing went");
    dst.exec(&format!(
        "DELETE FROM {}.item WHERE id > 1000",
        ident(&copy)
    ));

    src.exec(&format!("DELETE FROM {}.item WHERE id <= 60", ident(&db)));
    let run = pull(&server, &db, &copy, &["--verify"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("at least 60 of the 100") && run.stderr.contains("60.0 %"),
        "{}",
        run.stderr
    );
    assert_eq!(rows(), 100);
    let run = pull_ok(
        &server,
        &db,
        &copy,
        &["--deletes", "--max-delete-percent", "60"],
    );
    assert_eq!(figure(&run, "item", "rows deleted"), 60);

    src.exec(&format!("DELETE FROM {}.item", ident(&db)));
    let run = pull(
        &server,
        &db,
        &copy,
        &["--deletes", "--max-delete-percent", "100"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("reads as empty while the destination holds 40 rows"),
        "{}",
        run.stderr
    );
    assert_eq!(rows(), 40);
    let run = pull_ok(&server, &db, &copy, &["--deletes", "--force-deletes"]);
    assert_eq!(figure(&run, "item", "rows deleted"), 40);
    assert_eq!(rows(), 0);

    // A database the server does not have: nothing to compare, nothing goes.
    dst.exec(&format!(
        "INSERT INTO {}.item (id, name) VALUES (1, 'kept')",
        ident(&copy)
    ));
    let run = pull(
        &server,
        "no_such_database",
        &copy,
        &["--deletes", "--force-deletes"],
    );
    assert_eq!(run.code, 1);
    assert_eq!(rows(), 1);
}

#[test]
fn force_resync_repairs_drift_now() {
    let (src, dst) = pair();
    let (db, copy, server) = setup(
        "resync",
        &format!("{ITEM}; INSERT INTO item (id, name) SELECT seq, 'x' FROM seq_1_to_20;"),
    );
    wait_for_horizon();
    pull_ok(&server, &db, &copy, &[]);
    src.exec(&format!(
        "UPDATE {}.item SET name = 'y', ts = ts WHERE id = 3",
        ident(&db)
    ));
    pull_ok(&server, &db, &copy, &[]);
    assert_ne!(checksum(src, &db, "item"), checksum(dst, &copy, "item"));
    let run = pull_ok(&server, &db, &copy, &["-f"]);
    assert!(run.stderr.contains("verify in"), "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["item"]);
}

#[test]
fn resync_interval_repairs_drift_while_polling() {
    let (src, dst) = pair();
    let (db, copy, server) = setup(
        "resyncpoll",
        &format!("{ITEM}; INSERT INTO item (id, name) SELECT seq, 'x' FROM seq_1_to_20;"),
    );
    wait_for_horizon();
    let log = workspace_root()
        .join("target/test-sandboxes")
        .join(format!("{}.log", unique_name("resync-puller")));
    let file = std::fs::File::create(&log).expect("puller log");
    let args = ["--poll-interval", "0.1", "--resync-interval", "4"];
    let mut child = spawn(puller_command(server.port, dst, &db, &copy, &args).stderr(file));
    wait_until("first sync", Duration::from_secs(20), || {
        count(dst, &copy, "item") == 20
    });
    src.exec(&format!(
        "UPDATE {}.item SET name = 'y', ts = ts WHERE id = 3",
        ident(&db)
    ));
    wait_until("drift repaired", Duration::from_secs(20), || {
        checksum(src, &db, "item") == checksum(dst, &copy, "item")
    });
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert_eq!(child.wait().expect("puller exits").code(), Some(0));
    let text = std::fs::read_to_string(&log).expect("log");
    let passes: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("table `item`: "))
        .collect();
    let verified: Vec<usize> = (0..passes.len())
        .filter(|&i| passes[i].contains("verify in"))
        .collect();
    assert!(!verified.is_empty(), "{text}");
    for i in &verified {
        assert_eq!(
            (i + 1) % 4,
            0,
            "every 4th poll verifies, not poll {}:\n{text}",
            i + 1
        );
    }
    assert_same(src, &db, dst, &copy, &["item"]);
}

#[test]
fn polling_compares_one_table_per_poll_in_turn() {
    let (_, dst) = pair();
    let (db, copy, server) = setup(
        "turns",
        "CREATE TABLE a (id INT PRIMARY KEY, ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
         CREATE TABLE b LIKE a; CREATE TABLE c LIKE a;",
    );
    let log = workspace_root()
        .join("target/test-sandboxes")
        .join(format!("{}.log", unique_name("turns-puller")));
    let file = std::fs::File::create(&log).expect("puller log");
    let args = ["--poll-interval", "0.05", "--deletes"];
    let mut child = spawn(puller_command(server.port, dst, &db, &copy, &args).stderr(file));
    wait_until("a few polls", Duration::from_secs(20), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.matches("table `c`: ").count() >= 4
    });
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert_eq!(child.wait().expect("puller exits").code(), Some(0));
    let text = std::fs::read_to_string(&log).expect("log");
    let compared: Vec<char> = text
        .lines()
        .filter(|l| l.contains("deletes in"))
        .filter_map(|l| {
            l.split_once("table `")
                .map(|(_, r)| r.chars().next().unwrap_or('?'))
        })
        .collect();
    let passes = text.matches("table `a`: ").count();
    assert!(compared.len() >= 3, "{text}");
    assert!(
        compared.len() <= passes,
        "at most one table a poll:\n{text}"
    );
    for (i, t) in compared.iter().enumerate() {
        assert_eq!(*t, ['a', 'b', 'c'][i % 3], "in turn:\n{text}");
    }
}

#[test]
fn a_refused_comparison_does_not_slow_the_other_tables_polls() {
    let (src, dst) = pair();
    let (db, copy, server) = setup(
        "refused",
        &format!(
            "{ITEM}; CREATE TABLE other LIKE item;
             INSERT INTO item (id, name) SELECT seq, 'x' FROM seq_1_to_10;"
        ),
    );
    wait_for_horizon();
    pull_ok(&server, &db, &copy, &[]);
    src.exec(&format!("DELETE FROM {}.item", ident(&db)));
    let log = workspace_root()
        .join("target/test-sandboxes")
        .join(format!("{}.log", unique_name("refused-puller")));
    let file = std::fs::File::create(&log).expect("puller log");
    let args = ["--poll-interval", "0.1", "--deletes"];
    let mut child = spawn(puller_command(server.port, dst, &db, &copy, &args).stderr(file));
    let refusals = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("reads as empty")
            .count()
    };
    wait_until("the guard refused", Duration::from_secs(20), || {
        refusals() >= 3
    });
    src.exec(&format!(
        "INSERT INTO {}.other (id, name) VALUES (1, 'new')",
        ident(&db)
    ));
    wait_until(
        "the other table's row arrived",
        Duration::from_secs(20),
        || count(dst, &copy, "other") == 1,
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert_eq!(child.wait().expect("puller exits").code(), Some(0));
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(!text.contains("next attempt in"), "no back-off:\n{text}");
    assert_eq!(count(dst, &copy, "item"), 10, "nothing deleted");
}

#[test]
fn a_key_spelled_differently_but_equal_by_collation_is_never_deleted() {
    // To a case-insensitive, PAD SPACE collation `BOB@X` is `Bob@x` and
    // `pad ` is `pad`: the same rows, which the source still has.
    let (src, dst) = pair();
    let (db, copy, server) = setup(
        "collation",
        "CREATE TABLE u (email VARCHAR(40) COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, n INT,
           ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
         INSERT INTO u VALUES ('Bob@x', 1, '2024-01-01'), ('pad', 2, '2024-01-01'),
           ('gone', 3, '2024-01-01'), ('zed', 4, '2024-01-01');",
    );
    pull_ok(&server, &db, &copy, &[]);
    dst.exec(&format!(
        "USE {}; UPDATE u SET email = 'BOB@X', ts = ts WHERE email = 'Bob@x';
         UPDATE u SET email = 'pad ', ts = ts WHERE email = 'pad';",
        ident(&copy)
    ));
    src.exec(&format!(
        "DELETE FROM {}.u WHERE email = 'gone'",
        ident(&db)
    ));
    let run = pull_ok(&server, &db, &copy, &["--deletes"]);
    assert_eq!(figure(&run, "u", "rows deleted"), 1, "{}", run.stderr);
    assert_eq!(count(dst, &copy, "u"), 3);
    // --verify brings the source's spelling.
    let run = pull_ok(&server, &db, &copy, &["--verify"]);
    assert_eq!(figure(&run, "u", "rows deleted"), 0, "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["u"]);
}
