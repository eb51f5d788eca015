//! Integer and text cursors: `-t table.column:s` (Unix seconds), `:ms`
//! (milliseconds) and 14-character `YYYYMMDDHHMMSS` columns keep every
//! guarantee of a DATETIME cursor: (value, key) resume, the horizon against
//! late commits, freshness in UTC; values that are no time (0, NULL, an
//! empty or non-numeric string) arrive with a full copy and with `--verify`,
//! like NULL cursors; a unit is never guessed.

use std::time::Duration;

use mysql::prelude::Queryable;

use dbdump_tests::*;

const TABLES: &str = "
CREATE TABLE events (id INT NOT NULL PRIMARY KEY, v VARCHAR(20), clock INT NULL, KEY (clock));
CREATE TABLE msgs (Id VARCHAR(26) NOT NULL PRIMARY KEY, v VARCHAR(20), UpdateAt BIGINT, KEY (UpdateAt));
CREATE TABLE wiki (id INT NOT NULL PRIMARY KEY, v VARCHAR(20), touched VARBINARY(14) NOT NULL DEFAULT '',
  KEY (touched));
INSERT INTO events VALUES (1, 'a', 1700000000), (2, 'b', 1700000000), (3, 'c', 1700000000),
  (4, 'd', 1700000010), (5, 'placeholder', 0), (6, 'unset', NULL);
INSERT INTO msgs VALUES ('m1', 'a', 1700000000123), ('m2', 'b', 1700000000999), ('m3', 'c', NULL);
INSERT INTO wiki VALUES (1, 'a', '20240101000000'), (2, 'b', '20240101000000'), (3, 'empty', ''),
  (4, 'never', 'infinity'), (5, 'c', '20240101000001');";

const NAMED: &str = "events.clock:s,msgs.UpdateAt:ms,wiki.touched";

#[test]
fn integer_and_text_cursors_resume_by_value_and_key_and_treat_non_times_as_null() {
    let (src, dst) = pair();
    let (db, copy, server) = setup_pair("timed", TABLES);
    // The listing shows them as candidates, with their kind and type.
    let (_, _, body) = http_get(server.port, &format!("/{db}/"), &[]);
    let listing: serde_json::Value = serde_json::from_str(&body).expect("listing");
    let candidate = |table: &str| {
        let t = listing["every_table"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["table"] == table).cloned())
            .unwrap_or_default();
        (
            t["method"].clone(),
            t["cursors"][0]["kind"].clone(),
            t["cursors"][0]["type"].clone(),
        )
    };
    assert_eq!(
        candidate("events"),
        ("digest".into(), "unix".into(), "int(11)".into())
    );
    assert_eq!(
        candidate("wiki"),
        (
            "digest".into(),
            "yyyymmddhhmmss".into(),
            "varbinary(14)".into()
        )
    );

    // A full copy brings every row, the ones whose cursor is no time too.
    let run = pull_ok(&server, &db, &copy, &["-t", NAMED]);
    assert_same(src, &db, dst, &copy, &["events", "msgs", "wiki"]);
    assert_eq!(figure(&run, "events", "rows applied"), 6, "{}", run.stderr);
    assert_eq!(figure(&run, "wiki", "rows applied"), 5, "{}", run.stderr);
    // Freshness in UTC at the cursor's precision.
    let fresh = |table: &str| {
        run.stderr
            .lines()
            .find(|l| l.contains(&format!("table `{table}`: ")))
            .and_then(|l| l.split("complete to ").nth(1))
            .and_then(|rest| rest.split(" UTC").next())
            .map(|t| t.len())
    };
    assert_eq!(fresh("events"), Some(19), "{}", run.stderr);
    assert_eq!(fresh("msgs"), Some(23), "{}", run.stderr);

    // Resumed after (value, key): a row sharing the last value with a
    // higher key comes; rows changed without their cursor moving (and so
    // the ones whose cursor is no time) wait for --verify.
    src.exec(&format!(
        "USE {};
         INSERT INTO events VALUES (8, 'tie', 1700000010);
         UPDATE events SET v = 'changed' WHERE id IN (5, 6);
         INSERT INTO msgs VALUES ('m4', 'later', 1700000001000);
         UPDATE wiki SET v = 'changed' WHERE id IN (3, 4);
         INSERT INTO wiki VALUES (6, 'd', '20240101000001');",
        ident(&db)
    ));
    let run = pull_ok(&server, &db, &copy, &["-t", NAMED]);
    assert_eq!(figure(&run, "events", "rows applied"), 1, "{}", run.stderr);
    assert_eq!(figure(&run, "msgs", "rows applied"), 1, "{}", run.stderr);
    assert_eq!(figure(&run, "wiki", "rows applied"), 1, "{}", run.stderr);
    let v = |id: u32| {
        dst.scalar(&format!(
            "SELECT v FROM {}.events WHERE id = {id}",
            ident(&copy)
        ))
    };
    assert_eq!(
        v(5).as_deref(),
        Some("placeholder"),
        "not by the incremental pass"
    );
    let run = pull_ok(&server, &db, &copy, &["-t", NAMED, "--verify"]);
    assert_eq!(figure(&run, "events", "rows repaired"), 2, "{}", run.stderr);
    assert_eq!(figure(&run, "wiki", "rows repaired"), 2, "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["events", "msgs", "wiki"]);

    // The unit is never guessed: an integer cursor without one is refused,
    // in words that say how to name it; the other tables go on.
    let run = puller(
        server.port,
        dst,
        &db,
        &copy,
        &["-t", "events.clock,wiki.touched"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("table `events` failed")
            && run
                .stderr
                .contains("-t events.clock:s for seconds or -t events.clock:ms"),
        "{}",
        run.stderr
    );
    assert_eq!(figure(&run, "wiki", "rows applied"), 0, "{}", run.stderr);
    let run = puller(server.port, dst, &db, &copy, &["-t", "wiki.touched:s"]);
    assert!(
        run.code == 1 && run.stderr.contains("only for INT and BIGINT"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_late_commit_under_an_integer_cursor_is_not_skipped() {
    // Own source: the open transaction holds back every horizon on it.
    let src = &Sandbox::start("latecommit-source", None);
    let dst = &pair().1;
    let (db, copy, server) = database_pair(src, dst, "latecommit", TABLES, &["--settle", "0"]);
    pull_ok(&server, &db, &copy, &["-t", NAMED]);
    // A transaction writes a row stamped with its own clock and stays open
    // while a later row commits.
    let mut slow = src.conn();
    slow.query_drop(format!(
        "USE {}; START TRANSACTION; INSERT INTO events VALUES (100, 'slow', UNIX_TIMESTAMP())",
        ident(&db)
    ))
    .expect("the slow writer");
    std::thread::sleep(Duration::from_millis(1200));
    src.exec(&format!(
        "INSERT INTO {}.events VALUES (101, 'fast', UNIX_TIMESTAMP())",
        ident(&db)
    ));
    std::thread::sleep(Duration::from_millis(1200));
    // The horizon stays before the open transaction began: the later row
    // waits, so that the resume point cannot pass the slow one.
    let run = pull_ok(&server, &db, &copy, &["-t", NAMED]);
    assert_eq!(figure(&run, "events", "rows applied"), 0, "{}", run.stderr);
    slow.query_drop("COMMIT").expect("commit");
    std::thread::sleep(Duration::from_millis(1100));
    let run = pull_ok(&server, &db, &copy, &["-t", NAMED]);
    assert_eq!(figure(&run, "events", "rows applied"), 2, "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["events"]);
}
