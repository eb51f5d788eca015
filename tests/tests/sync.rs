//! End-to-end sync: the real dbd_server in front of a source MariaDB, the
//! real dbd_puller writing into a destination MariaDB, and the destination
//! compared with the source (mariadb-dump of both, CHECKSUM TABLE).

use std::time::Duration;

use dbdump_tests::*;
use dbdump_tests::{rows_applied as applied, setup_pair as setup};

/// Rows written in the current second are below no horizon yet; after this
/// they are.
fn wait_for_horizon() {
    std::thread::sleep(Duration::from_millis(1100));
}

fn pull(server: &Server, db: &str, copy: &str, extra: &[&str]) -> PullerRun {
    puller(server.port, &pair().1, db, copy, extra)
}

const ITEMS: &str = "CREATE TABLE item (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    price DECIMAL(10,2) NULL,
    note TEXT NULL,
    updated TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    KEY (updated)
  ) DEFAULT CHARSET=utf8mb4";

#[test]
fn full_sync_then_incremental_then_nothing() {
    let (src, dst) = pair();
    let (db, copy, server) = setup("incr", ITEMS);
    src.exec(&format!(
        "INSERT INTO {}.item (name, price, note) VALUES ('a', 1.50, NULL), ('b', NULL, 'x'), ('c', 3, 'ünï')",
        ident(&db)
    ));
    wait_for_horizon();
    let first = pull_ok(&server, &db, &copy, &[]);
    assert_eq!(applied(&first, "item"), 3);
    assert_same(src, &db, dst, &copy, &["item"]);

    src.exec(&format!(
        "UPDATE {0}.item SET price = 9.99 WHERE name = 'a'; INSERT INTO {0}.item (name) VALUES ('d')",
        ident(&db)
    ));
    wait_for_horizon();
    let second = pull_ok(&server, &db, &copy, &[]);
    assert_eq!(applied(&second, "item"), 2, "only the changed rows travel");
    assert_same(src, &db, dst, &copy, &["item"]);

    let third = pull_ok(&server, &db, &copy, &[]);
    assert_eq!(applied(&third, "item"), 0, "nothing changed, nothing sent");
    assert_same(src, &db, dst, &copy, &["item"]);
}

#[test]
fn destination_timestamps_are_the_source_ones() {
    // The destination's own ON UPDATE CURRENT_TIMESTAMP must not fire on
    // synced rows: the timestamp is written explicitly.
    let (src, dst) = pair();
    let (db, copy, server) = setup("tsexplicit", ITEMS);
    src.exec(&format!(
        "SET time_zone = '+00:00'; INSERT INTO {}.item (name, updated) VALUES ('old', '2001-02-03 04:05:06')",
        ident(&db)
    ));
    pull_ok(&server, &db, &copy, &[]);
    src.exec(&format!(
        "SET time_zone = '+00:00'; UPDATE {}.item SET name = 'older', updated = '2001-02-03 04:05:07'",
        ident(&db)
    ));
    pull_ok(&server, &db, &copy, &[]);
    let ts = dst.scalar(&format!(
        "SELECT CONVERT_TZ(updated, @@session.time_zone, '+00:00') FROM {}.item",
        ident(&copy)
    ));
    assert_eq!(ts.as_deref(), Some("2001-02-03 04:05:07"));
    assert_same(src, &db, dst, &copy, &["item"]);
}

#[test]
fn composite_primary_keys() {
    let (src, dst) = pair();
    let (db, copy, server) = setup(
        "composite",
        "CREATE TABLE line (
            order_id BIGINT UNSIGNED NOT NULL, region CHAR(2) NOT NULL, line SMALLINT NOT NULL,
            qty INT NOT NULL,
            ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
            PRIMARY KEY (order_id, region, line), KEY (ts))",
    );
    // Many rows share one timestamp, so resuming must go by the whole key.
    src.exec(&format!(
        "SET time_zone = '+00:00'; USE {};
         INSERT INTO line (order_id, region, line, qty, ts)
           SELECT seq DIV 10, IF(seq % 2, 'EU', 'US'), seq % 10, seq, '2020-01-01 00:00:00.000'
           FROM seq_1_to_2500;",
        ident(&db)
    ));
    pull_ok(&server, &db, &copy, &[]);
    assert_same(src, &db, dst, &copy, &["line"]);
    // The resume point is (2020-01-01, (250, 'US', 0)). A row written with
    // that same timestamp but a key after it is sent; one with a key before
    // it is not (an application writing old timestamps is outside the
    // guarantees) until it is updated; an updated row always is.
    src.exec(&format!(
        "SET time_zone = '+00:00'; USE {};
         INSERT INTO line VALUES (300, 'AA', 1, 1, '2020-01-01 00:00:00.000');
         INSERT INTO line VALUES (7, 'ZZ', 1, 1, '2020-01-01 00:00:00.000');
         UPDATE line SET qty = 0 WHERE order_id = 100;",
        ident(&db)
    ));
    wait_for_horizon();
    let run = pull_ok(&server, &db, &copy, &[]);
    assert_eq!(applied(&run, "line"), 11, "{}", run.stderr);
    let zz = format!(
        "SELECT COUNT(*) FROM {}.line WHERE region = 'ZZ'",
        ident(&copy)
    );
    assert_eq!(dst.scalar(&zz).as_deref(), Some("0"));
    src.exec(&format!(
        "UPDATE {}.line SET qty = 2 WHERE region = 'ZZ'",
        ident(&db)
    ));
    wait_for_horizon();
    pull_ok(&server, &db, &copy, &[]);
    assert_same(src, &db, dst, &copy, &["line"]);
}

#[test]
fn tables_flag_picks_and_orders() {
    let (src, dst) = pair();
    let (db, copy, server) = setup(
        "tables",
        "CREATE TABLE a (id INT PRIMARY KEY, ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
         CREATE TABLE b LIKE a; CREATE TABLE c LIKE a;",
    );
    src.exec(&format!(
        "USE {}; INSERT INTO a (id) VALUES (1); INSERT INTO b (id) VALUES (1), (2); INSERT INTO c (id) VALUES (3)",
        ident(&db)
    ));
    wait_for_horizon();
    let run = pull_ok(&server, &db, &copy, &["-t", "c,a"]);
    let order: Vec<&str> = run
        .stderr
        .lines()
        .filter_map(|l| l.split_once("table `").map(|(_, r)| &r[..1]))
        .collect();
    assert_eq!(order, ["c", "a"], "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["a", "c"]);
    assert_eq!(count(dst, &copy, "b"), 0, "b was not asked for");
}

#[test]
fn exclude_columns_are_never_transferred() {
    let (src, dst) = pair();
    let (db, copy, server) = setup(
        "exclude",
        "CREATE TABLE person (id INT PRIMARY KEY, name VARCHAR(20), secret VARCHAR(20) NULL, pin INT NULL,
           ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)",
    );
    src.exec(&format!(
        "INSERT INTO {}.person (id, name, secret, pin) VALUES (1, 'ann', 'hunter2', 1234)",
        ident(&db)
    ));
    wait_for_horizon();
    pull_ok(&server, &db, &copy, &["-x", "person.secret,person.pin"]);
    let rows = dst.query_strings(&format!(
        "SELECT name, secret, pin FROM {}.person",
        ident(&copy)
    ));
    assert_eq!(rows, vec![vec![Some("ann".to_string()), None, None]]);
    // The server never sent them: its log shows the request excluding them.
    assert!(server.log_text().contains("exclude_columns=secret%2Cpin"));
    // Excluding the timestamp or key column is refused, with a reason.
    let run = pull(&server, &db, &copy, &["-x", "person.id"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("cannot be excluded"), "{}", run.stderr);
}

#[test]
fn foreign_keys_with_a_cycle_sync_into_the_same_constraints() {
    // Sakila's shape: store.manager_staff_id -> staff, staff.store_id -> store,
    // payment -> staff. The destination has the same foreign keys.
    let (src, dst) = pair();
    let (db, copy, server) = setup(
        "fkcycle",
        "SET foreign_key_checks = 0;
         CREATE TABLE store (store_id INT PRIMARY KEY, manager_staff_id INT NOT NULL,
           last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
           FOREIGN KEY (manager_staff_id) REFERENCES staff (staff_id));
         CREATE TABLE staff (staff_id INT PRIMARY KEY, store_id INT NOT NULL,
           last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
           FOREIGN KEY (store_id) REFERENCES store (store_id));
         CREATE TABLE payment (payment_id INT PRIMARY KEY, staff_id INT NOT NULL,
           last_update TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
           FOREIGN KEY (staff_id) REFERENCES staff (staff_id));
         INSERT INTO store VALUES (1, 1, DEFAULT), (2, 2, DEFAULT);
         INSERT INTO staff VALUES (1, 1, DEFAULT), (2, 2, DEFAULT);
         INSERT INTO payment VALUES (1, 1, DEFAULT), (2, 2, NULL);
         SET foreign_key_checks = 1;",
    );
    let listing = http_get(server.port, &format!("/{db}/"), &[]).2;
    let tables: serde_json::Value = serde_json::from_str(&listing).expect("table list is JSON");
    let order: Vec<&str> = tables["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .map(|t| t["table"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        order,
        ["staff", "payment", "store"],
        "cycle broken at staff, then its dependants"
    );
    wait_for_horizon();
    pull_ok(&server, &db, &copy, &[]);
    assert_same(src, &db, dst, &copy, &["store", "staff", "payment"]);
    // The destination's constraints hold on what arrived.
    let orphans = dst.scalar(&format!(
        "SELECT COUNT(*) FROM {0}.payment p LEFT JOIN {0}.staff s USING (staff_id) WHERE s.staff_id IS NULL",
        ident(&copy)
    ));
    assert_eq!(orphans.as_deref(), Some("0"));
}

#[test]
fn missing_destination_table_or_column_fails_that_table_only() {
    let (src, dst) = pair();
    let (db, copy, server) = setup(
        "missing",
        "CREATE TABLE good (id INT PRIMARY KEY, ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
         CREATE TABLE gone LIKE good;
         CREATE TABLE narrow (id INT PRIMARY KEY, extra INT,
           ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);",
    );
    src.exec(&format!(
        "USE {}; INSERT INTO good (id) VALUES (1); INSERT INTO gone (id) VALUES (1); INSERT INTO narrow (id, extra) VALUES (1, 5)",
        ident(&db)
    ));
    dst.exec(&format!(
        "USE {}; DROP TABLE gone; ALTER TABLE narrow DROP COLUMN extra",
        ident(&copy)
    ));
    wait_for_horizon();
    let run = pull(&server, &db, &copy, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let failures: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains(" failed: "))
        .collect();
    assert_eq!(
        failures.len(),
        2,
        "one line per failed table:\n{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("`{copy}`.`gone` does not exist")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("has no column `extra`"),
        "{}",
        run.stderr
    );
    assert_same(src, &db, dst, &copy, &["good"]);
}

#[test]
fn one_shot_exits_non_zero_when_the_server_is_down() {
    let (_, dst) = pair();
    let port = free_port();
    let run = puller(port, dst, "nowhere", "nowhere", &["--source-timeout", "2"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("cannot list tables"), "{}", run.stderr);
}

#[test]
fn polling_survives_a_server_outage() {
    let (src, dst) = pair();
    let (db, copy, mut server) = setup("poll", ITEMS);
    let port = server.port;
    src.exec(&format!(
        "INSERT INTO {}.item (name) VALUES ('before')",
        ident(&db)
    ));
    let mut child = Reaped(
        puller_command(port, dst, &db, &copy, &["--poll-interval", "0.3"])
            .spawn()
            .expect("puller starts"),
    );
    let wait_rows = |n: u64| {
        wait_until("rows did not arrive", Duration::from_secs(20), || {
            count(dst, &copy, "item") >= n
        })
    };
    wait_rows(1);
    server.stop();
    src.exec(&format!(
        "INSERT INTO {}.item (name) VALUES ('during')",
        ident(&db)
    ));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().expect("wait").is_none(),
        "puller must keep running"
    );
    let _server = Server::start_on(
        port,
        src,
        &["--source-databases", &db, "--settle", "0"],
        &[],
    );
    wait_rows(2);
    assert!(child.try_wait().expect("wait").is_none());
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("puller exits");
    assert_eq!(status.code(), Some(0), "SIGTERM stops polling cleanly");
    assert_same(src, &db, dst, &copy, &["item"]);
}

#[test]
fn passwords_come_from_files_and_the_environment_and_are_never_logged() {
    // Every secret off the command line: the source account's password from
    // DBD_SOURCE_PASSWORD, the HTTP password and the destination's from
    // files. Real passwords on both database accounts.
    let (src, dst) = pair();
    let (db, copy, _) = setup("secrets", ITEMS);
    let (src_pw, dst_pw, http_pw) = ("s3cret-src", "s3cret-dst", "s3cret-http");
    let user = unique_name("sync_user");
    src.exec(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY '{src_pw}'; GRANT SELECT, PROCESS ON *.* TO '{user}'@'%';
         INSERT INTO {}.item (name, updated) VALUES ('x', '2020-01-01 00:00:00')",
        ident(&db)
    ));
    dst.exec(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY '{dst_pw}'; GRANT ALL ON {}.* TO '{user}'@'%'",
        ident(&copy)
    ));
    let dir = workspace_root()
        .join("target/test-sandboxes")
        .join(unique_name("pw"));
    std::fs::create_dir_all(&dir).expect("secrets dir");
    let (http_file, dst_file) = (dir.join("http"), dir.join("dest"));
    std::fs::write(&http_file, format!("{http_pw}\n")).expect("write");
    std::fs::write(&dst_file, format!("{dst_pw}\n")).expect("write");
    let http_file = http_file.to_string_lossy().into_owned();
    let dst_file = dst_file.to_string_lossy().into_owned();

    let server = Server::start_with_env(
        src,
        &[
            "--source-username",
            &user,
            "-u",
            "puller",
            "--listen-password-file",
            &http_file,
            "--debug",
        ],
        &[("DBD_SOURCE_PASSWORD", src_pw)],
    );
    let args = [
        "--source-username",
        "puller",
        "--source-password-file",
        &http_file,
        "--dest-username",
        &user,
        "--dest-password-file",
        &dst_file,
        "--debug",
    ];
    let run = pull(&server, &db, &copy, &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["item"]);
    for (what, text) in [
        ("server log", server.log_text()),
        ("puller output", run.stderr),
    ] {
        for pw in [src_pw, dst_pw, http_pw] {
            assert!(!text.contains(pw), "{what} shows a password:\n{text}");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}
