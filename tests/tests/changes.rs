//! Cheap polls over many tables: the changes question (`GET /<db>/?resume=`)
//! by hand, a pass over many tables that streams exactly the tables that
//! changed and moves exactly their rows, tables read by named cursors
//! polled the same way (their application's clock in another zone), and a
//! table due for a comparison that still gets its pass when nothing in it
//! changed.

use std::time::Duration;

use dbdump_tests::*;

/// Stream requests for tables of `db` in the server's log so far. The
/// server writes a request's line once the client has closed, which may be
/// a moment after the puller exits (longer on a busy machine): the count is
/// read until it holds still for half a second.
fn streams(server: &Server, db: &str) -> usize {
    let prefix = format!("GET /{db}/");
    let count = || {
        server
            .log_text()
            .lines()
            .filter(|l| {
                l.split_once(&prefix)
                    .is_some_and(|(_, rest)| !rest.starts_with('?') && !rest.starts_with(' '))
            })
            .count()
    };
    let (mut last, mut held) = (count(), 0);
    loop {
        std::thread::sleep(Duration::from_millis(150));
        let now = count();
        held = if now == last { held + 1 } else { 0 };
        if held == 3 {
            return now;
        }
        last = now;
    }
}

/// The changes question about `db` with `resume` (JSON): status, head, body.
fn ask(server: &Server, db: &str, resume: &str) -> (u16, String, String) {
    let path = format!(
        "/{db}/?resume={}",
        dbdump_shared::http::percent_encode(resume)
    );
    http_get(server.port, &path, &[])
}

/// Microsecond timestamps, so that rows are below the horizon (settle 0)
/// a moment after they are written; the horizon is read at most every
/// 0.11 s.
fn wait_for_horizon() {
    std::thread::sleep(Duration::from_millis(300));
}

const TABLE: &str = "(id INT PRIMARY KEY, v INT NOT NULL,
    ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), KEY (ts))";

#[test]
fn a_pass_over_many_tables_streams_exactly_what_changed() {
    let (src, dst) = pair();
    let names: Vec<String> = (0..40).map(|i| format!("t{i:02}")).collect();
    let ddl: String = names
        .iter()
        .map(|t| {
            let rows = if t == "t39" { 0 } else { 3 };
            let fill = if rows == 0 {
                String::new()
            } else {
                format!("INSERT INTO {t} (id, v) SELECT seq, seq FROM seq_1_to_{rows};")
            };
            format!("CREATE TABLE {t} {TABLE}; {fill}")
        })
        .collect();
    let (db, copy, server) = setup_pair("many", &ddl);
    wait_for_horizon();
    let first = pull_ok(&server, &db, &copy, &[]);
    assert_eq!(rows_applied(&first, "t00"), 3);
    assert_eq!(
        rows_applied(&first, "t39"),
        0,
        "an empty table on both sides"
    );
    assert_eq!(
        streams(&server, &db),
        39,
        "every table with rows was streamed, the empty one was not"
    );

    let idle = pull_ok(&server, &db, &copy, &[]);
    for t in &names {
        assert_eq!(rows_applied(&idle, t), 0, "{t}");
    }
    assert_eq!(streams(&server, &db), 39, "an idle pass streams no table");
    assert!(
        idle.stderr.contains("; 0 bytes read; complete to "),
        "{}",
        idle.stderr
    );

    src.exec(&format!(
        "UPDATE {0}.t17 SET v = -1 WHERE id = 2; INSERT INTO {0}.t30 (id, v) VALUES (9, 9);
         INSERT INTO {0}.t39 (id, v) VALUES (1, 1)",
        ident(&db)
    ));
    wait_for_horizon();
    let third = pull_ok(&server, &db, &copy, &[]);
    let moved: Vec<(&String, u64)> = names
        .iter()
        .map(|t| (t, rows_applied(&third, t)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let want = ["t17", "t30", "t39"];
    assert_eq!(
        moved
            .iter()
            .map(|(t, n)| (t.as_str(), *n))
            .collect::<Vec<_>>(),
        want.iter().map(|t| (*t, 1)).collect::<Vec<_>>(),
        "{}",
        third.stderr
    );
    assert_eq!(streams(&server, &db), 42, "one stream per changed table");
    let all = names.join(", ");
    let sums =
        |s: &Sandbox, d: &str| s.query_strings(&format!("USE {}; CHECKSUM TABLE {all}", ident(d)));
    let (a, b) = (sums(src, &db), sums(dst, &copy));
    let values = |rows: Rows| rows.into_iter().map(|r| r[1].clone()).collect::<Vec<_>>();
    assert_eq!(values(a), values(b), "every table equals the source");
}

#[test]
fn the_changes_question_by_hand() {
    let (src, _) = pair();
    let (db, _copy, server) = setup_pair(
        "question",
        &format!(
            "CREATE TABLE a {TABLE}; CREATE TABLE b (id VARCHAR(10) PRIMARY KEY,
               ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
             CREATE TABLE nokey (ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
             INSERT INTO a (id, v, ts) VALUES (1, 1, '2020-01-01 00:00:00.5'), (2, 2, '2020-01-01 00:00:00.5');"
        ),
    );
    let ask = |resume: &str| ask(&server, &db, resume);
    let (status, _, body) = ask(r#"{"a":null,"b":null}"#);
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("JSON answer");
    assert!(
        answer["source_time"]
            .as_str()
            .is_some_and(|t| t.len() == 26),
        "{body}"
    );
    let tables = answer["tables"].as_array().expect("tables");
    let a = &tables[0];
    assert_eq!(
        (a["table"].as_str(), a["changed"].as_bool()),
        (Some("a"), Some(true))
    );
    assert!(a["estimated_rows"].as_u64().is_some(), "{body}");
    assert_eq!(
        a["horizon"].as_str().map(str::len),
        Some(26),
        "microseconds: {body}"
    );
    let b = &tables[1];
    assert_eq!(
        (b["table"].as_str(), b["changed"].as_bool()),
        (Some("b"), Some(false))
    );
    assert_eq!(
        b["horizon"].as_str().map(str::len),
        Some(19),
        "whole seconds: {body}"
    );
    assert!(b.get("estimated_rows").is_none(), "{body}");

    // Resumed after the first row: the second, same timestamp, is past it.
    let (_, _, body) = ask(r#"{"a":["2020-01-01 00:00:00.5",[1]]}"#);
    assert!(body.contains(r#""changed":true"#), "{body}");
    let (_, _, body) = ask(r#"{"a":["2020-01-01 00:00:00.5",[2]]}"#);
    assert!(body.contains(r#""changed":false"#), "{body}");
    src.exec(&format!("UPDATE {}.a SET v = 3 WHERE id = 1", ident(&db)));
    wait_for_horizon();
    let (_, _, body) = ask(r#"{"a":["2020-01-01 00:00:00.5",[2]]}"#);
    assert!(
        body.contains(r#""changed":true"#),
        "an update moves the row past it: {body}"
    );

    for (resume, status, needle) in [
        (r#"{"nope":null}"#, 404, "`nope` not found"),
        (r#"{"nokey":null}"#, 404, "no primary key"),
        (
            r#"{"a":["yesterday",[1]]}"#,
            400,
            "resume of table `a`: since",
        ),
        (r#"{"a":["2020-01-01",["x"]]}"#, 400, "resume of table `a`"),
        (
            r#"{"a":["2020-01-01",[1,2]]}"#,
            400,
            "expected 1 key values",
        ),
        (r#"{"a":1}"#, 400, "not a JSON object"),
        (
            r#"{"a":[null,null,["id"]]}"#,
            400,
            "`id` cannot be excluded",
        ),
        (
            r#"{"a":[null,null,["nope"]]}"#,
            400,
            "unknown column `nope`",
        ),
        ("{}", 400, "from 1 to"),
    ] {
        let (got, _, body) = ask(resume);
        assert_eq!(got, status, "{resume}: {body}");
        let error: serde_json::Value = serde_json::from_str(&body).expect("JSON error body");
        let text = error["error"].as_str().unwrap_or_default();
        assert!(text.contains(needle), "{resume}: {body}");
    }
    let (status, _, body) = http_get(server.port, &format!("/{db}/?resume=%7B%7D&x=1"), &[]);
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = http_get(server.port, &format!("/{db}/?since=2020-01-01"), &[]);
    assert_eq!(
        status, 400,
        "the listing still takes no other parameter: {body}"
    );
}

#[test]
fn a_table_due_for_a_comparison_gets_its_pass_without_news() {
    let (src, dst) = pair();
    let (db, copy, server) = setup_pair(
        "duecompare",
        &format!(
            "CREATE TABLE item {TABLE}; CREATE TABLE other {TABLE};
             INSERT INTO item (id, v) SELECT seq, seq FROM seq_1_to_10;"
        ),
    );
    wait_for_horizon();
    pull_ok(&server, &db, &copy, &[]);
    // A delete moves no timestamp: the changes question sees nothing new.
    src.exec(&format!("DELETE FROM {}.item WHERE id = 4", ident(&db)));
    wait_for_horizon();
    let run = pull_ok(&server, &db, &copy, &["--deletes"]);
    assert!(
        run.stderr.contains("1 rows deleted"),
        "the comparison ran: {}",
        run.stderr
    );
    assert_same(src, &db, dst, &copy, &["item", "other"]);
}

#[test]
fn tables_read_by_named_cursors_are_streamed_only_when_they_changed() {
    let (src, dst) = pair();
    // The application writes `users.updated_at` on a clock five hours
    // ahead of UTC; `posts` keeps instants; `audit` updates itself.
    let (db, copy, server) = setup_pair(
        "cursorpoll",
        &format!(
            "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(20), updated_at DATETIME(6) NOT NULL,
               KEY (updated_at));
             CREATE TABLE posts (id INT PRIMARY KEY, title VARCHAR(20), updated_at TIMESTAMP(6) NULL);
             CREATE TABLE audit {TABLE};
             INSERT INTO users SELECT seq, CONCAT('u', seq),
               UTC_TIMESTAMP(6) + INTERVAL 5 HOUR - INTERVAL seq MINUTE FROM seq_1_to_5;
             INSERT INTO posts SELECT seq, CONCAT('p', seq), NOW(6) - INTERVAL seq MINUTE FROM seq_1_to_5;
             INSERT INTO audit (id, v) VALUES (1, 1);"
        ),
    );
    let args = [
        "-t",
        "users.updated_at,posts.updated_at,audit",
        "--app-time-zone",
        "+05:00",
    ];
    wait_for_horizon();
    pull_ok(&server, &db, &copy, &args);
    assert_eq!(streams(&server, &db), 3);

    let idle = pull_ok(&server, &db, &copy, &args);
    assert_eq!(streams(&server, &db), 3, "an idle pass streams no table");
    for t in ["users", "posts", "audit"] {
        let line = idle
            .stderr
            .lines()
            .find(|l| l.contains(&format!("table `{t}`: ")))
            .unwrap_or_else(|| panic!("no summary for {t}:\n{}", idle.stderr));
        assert!(line.contains("; 0 bytes read; complete to "), "{line}");
        // Freshness in UTC, the wall-clock cursor's included.
        let told = line.split("complete to ").nth(1).and_then(|r| r.get(..19));
        let behind: Option<i64> = told.and_then(|told| {
            src.scalar(&format!(
                "SELECT ABS(TIMESTAMPDIFF(SECOND, {}, UTC_TIMESTAMP()))",
                literal(told)
            ))
            .and_then(|b| b.parse().ok())
        });
        assert!(behind.is_some_and(|b| b < 120), "{line}");
    }

    src.exec(&format!(
        "USE {}; UPDATE users SET name = 'renamed', updated_at = UTC_TIMESTAMP(6) + INTERVAL 5 HOUR
           WHERE id = 3;
         INSERT INTO posts VALUES (6, 'p6', NOW(6))",
        ident(&db)
    ));
    wait_for_horizon();
    let third = pull_ok(&server, &db, &copy, &args);
    assert_eq!(
        ["users", "posts", "audit"].map(|t| rows_applied(&third, t)),
        [1, 1, 0],
        "{}",
        third.stderr
    );
    assert_eq!(streams(&server, &db), 5, "one stream per changed table");
    assert_same(src, &db, dst, &copy, &["users", "posts", "audit"]);

    // By hand: the entry names the cursor; a column that cannot be one is
    // refused as a stream refuses it.
    let ask = |resume: &str| ask(&server, &db, resume);
    let (status, _, body) = ask(
        r#"{"users":[null,null,[],{"cursor":"updated_at","cursor_zone":"+05:00"}],"posts":null}"#,
    );
    assert_eq!(status, 404, "posts has no auto-updating column: {body}");
    let (status, _, body) =
        ask(r#"{"users":[null,null,[],{"cursor":"updated_at","cursor_zone":"+05:00"}]}"#);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""changed":true"#), "{body}");
    assert!(body.contains(r#""horizon_utc":""#), "{body}");
    let (status, _, body) = ask(r#"{"users":[null,null,[],{"cursor":"name"}]}"#);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not DATETIME or TIMESTAMP"), "{body}");
}

#[test]
fn a_table_read_by_two_cursors_gets_both_its_streams() {
    // One answer per table name could not tell the two apart: a change
    // that only one cursor shows must still arrive.
    let (src, dst) = pair();
    let (db, copy, server) = setup_pair(
        "twocursors",
        "CREATE TABLE r (id INT PRIMARY KEY, name VARCHAR(20), created_at DATETIME(6) NOT NULL,
           updated_at DATETIME(6) NOT NULL);
         INSERT INTO r SELECT seq, CONCAT('r', seq), UTC_TIMESTAMP(6) - INTERVAL 1 HOUR,
           UTC_TIMESTAMP(6) - INTERVAL 1 HOUR FROM seq_1_to_3;",
    );
    let args = ["-t", "r.updated_at,r.created_at"];
    wait_for_horizon();
    pull_ok(&server, &db, &copy, &args);
    src.exec(&format!(
        "UPDATE {}.r SET name = 'renamed', updated_at = UTC_TIMESTAMP(6) WHERE id = 2",
        ident(&db)
    ));
    wait_for_horizon();
    pull_ok(&server, &db, &copy, &args);
    assert_same(src, &db, dst, &copy, &["r"]);
}
