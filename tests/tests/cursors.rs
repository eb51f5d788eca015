//! Tables whose application keeps the timestamp, synced by a named cursor
//! (`-t table.column`): Rails' DATETIME(6) in UTC, Laravel's nullable
//! TIMESTAMPs, an append-only table by its `DEFAULT CURRENT_TIMESTAMP`
//! under concurrent inserts, a DATETIME written in a zone whose clock goes
//! back, a late application timestamp that only `--verify` repairs, and
//! the refusals. The application's writes are SQL that sets the cursor.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dbdump_tests::*;
use mysql::prelude::Queryable;
use serde_json::{json, Value};

/// A source database made from `ddl`, its tables in a fresh destination
/// database, and a server exposing it with `server_args`.
fn setup(prefix: &str, ddl: &str, server_args: &[&str]) -> (String, String, Server) {
    let (src, dst) = pair();
    database_pair(src, dst, prefix, ddl, server_args)
}

/// A polling puller (every 0.1 s) with `args`.
fn poll(server: &Server, db: &str, copy: &str, args: &[&str]) -> Reaped {
    let args = [args, &["--poll-interval", "0.1"][..]].concat();
    let command = puller_command(server.port, &pair().1, db, copy, &args).spawn();
    Reaped(command.expect("puller starts"))
}

fn pull(server: &Server, db: &str, copy: &str, extra: &[&str]) -> PullerRun {
    puller(server.port, &pair().1, db, copy, extra)
}

#[track_caller]
fn pull_ok(server: &Server, db: &str, copy: &str, extra: &[&str]) -> PullerRun {
    let run = pull(server, db, copy, extra);
    assert_eq!(run.code, 0, "puller failed:\n{}", run.stderr);
    run
}

/// A `--verify` pass of `tables` (`-t …`).
#[track_caller]
fn verify(server: &Server, db: &str, copy: &str, tables: &[&str]) -> PullerRun {
    pull_ok(server, db, copy, &[tables, &["--verify"][..]].concat())
}

/// Waits until the copy of `table` holds as many rows as the source, stops
/// the polling puller and compares both sides.
#[track_caller]
fn caught_up(mut poller: Reaped, db: &str, copy: &str, table: &str) {
    let (src, dst) = pair();
    let rows = count(src, db, table);
    wait_until("the copy never caught up", Duration::from_secs(30), || {
        count(dst, copy, table) >= rows
    });
    assert_eq!(poller.terminate(), Some(0), "the puller stops cleanly");
    assert_same(src, db, dst, copy, &[table]);
}

/// Runs `statements` in `db` on the source, in a UTC session.
fn app(db: &str, statements: &str) {
    pair().0.exec(&format!("USE {}; {statements}", ident(db)));
}

/// The server's answer and its status: a JSON value, or the lines of a
/// stream as an array.
fn get_json(server: &Server, path: &str) -> (u16, Value) {
    let (status, head, body) = http_get(server.port, path, &[]);
    let value = if body.trim_end().contains('\n') {
        Value::Array(ndjson_lines(&body))
    } else {
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {head}\n{body}"))
    };
    (status, value)
}

/// Asserts a refusal: `status` and an error message holding every needle.
#[track_caller]
fn refused(server: &Server, path: &str, status: u16, needles: &[&str]) {
    let (code, body) = get_json(server, path);
    let message = body["error"].as_str().unwrap_or_default();
    assert_eq!(code, status, "{path}: {body}");
    for needle in needles {
        assert!(
            message.contains(needle),
            "{path}: {message:?} lacks {needle:?}"
        );
    }
}

/// Rows written now are below the horizon (`--settle 0`, second precision)
/// a second later.
fn wait_for_horizon() {
    std::thread::sleep(Duration::from_millis(1100));
}

const SHOP: &str = "
    CREATE TABLE users (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40) NOT NULL,
        created_at DATETIME(6) NOT NULL, updated_at DATETIME(6) NOT NULL,
        KEY index_users_on_updated_at (updated_at));
    CREATE TABLE posts (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, user_id BIGINT,
        title VARCHAR(80), created_at TIMESTAMP NULL DEFAULT NULL, updated_at TIMESTAMP NULL DEFAULT NULL);
    CREATE TABLE audit (id INT PRIMARY KEY, note VARCHAR(20), created DATETIME NULL,
        ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6));
    CREATE TABLE tags (id INT PRIMARY KEY, name VARCHAR(10));
    CREATE TABLE log (id INT, at DATETIME);
    INSERT INTO users (name, created_at, updated_at)
        SELECT CONCAT('user ', seq), UTC_TIMESTAMP(6) - INTERVAL 60 - seq SECOND,
               UTC_TIMESTAMP(6) - INTERVAL 60 - seq SECOND FROM seq_1_to_20;
    INSERT INTO posts (user_id, title, created_at, updated_at)
        SELECT seq % 5, CONCAT('post ', seq), IF(seq % 4 = 0, NULL, NOW() - INTERVAL 1 HOUR),
               IF(seq % 4 = 0, NULL, NOW() - INTERVAL 1 HOUR + INTERVAL seq SECOND) FROM seq_1_to_30;
    INSERT INTO audit (id, note) VALUES (1, 'one'), (2, 'two');";

#[test]
fn rails_and_laravel_tables_sync_by_their_named_cursors() {
    let (src, dst) = pair();
    let (db, copy, server) = setup("shop", SHOP, &["--settle", "0"]);

    // The listing keeps today's tables apart from those a cursor could sync.
    let (_, listing) = get_json(&server, &format!("/{db}/"));
    let names = |list: &str| -> Vec<String> {
        let entries = listing[list].as_array().cloned().unwrap_or_default();
        entries
            .iter()
            .map(|t| t["table"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(names("tables"), ["audit"], "{listing}");
    assert_eq!(names("cursor_tables"), ["posts", "users"], "{listing}");
    let candidate = |table: &str, column: &str| {
        let tables = listing["cursor_tables"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let t = tables
            .into_iter()
            .find(|t| t["table"] == json!(table))
            .expect("listed");
        let found = t["candidates"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["column"] == json!(column)).cloned());
        found.unwrap_or_else(|| panic!("{table}.{column} not a candidate: {t}"))
    };
    assert_eq!(
        candidate("users", "updated_at"),
        json!({"column": "updated_at", "type": "datetime(6)", "kind": "datetime", "nullable": false,
               "indexed": true, "default_current_timestamp": false,
               "on_update_current_timestamp": false})
    );
    assert_eq!(candidate("posts", "updated_at")["nullable"], json!(true));
    assert_eq!(candidate("users", "created_at")["indexed"], json!(false));

    // Full sync: `*.updated_at` takes the automatic table and both others,
    // Laravel's rows without timestamps included. (Its rows are fresh: the
    // horizon passes them a moment later.)
    wait_for_horizon();
    let run = pull_ok(&server, &db, &copy, &["-t", "*.updated_at"]);
    assert_eq!(figure(&run, "posts", "rows applied"), 30, "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["users", "posts", "audit"]);

    // What the applications do next: Rails updates and inserts (UTC),
    // Laravel updates one post and a seeder inserts one without timestamps;
    // a user is deleted.
    app(
        &db,
        "UPDATE users SET name = 'renamed', updated_at = UTC_TIMESTAMP(6) WHERE id = 3;
         INSERT INTO users (name, created_at, updated_at) VALUES ('new', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6));
         UPDATE posts SET title = 'edited', updated_at = NOW() WHERE id = 7;
         INSERT INTO posts (user_id, title) VALUES (1, 'seeded');
         DELETE FROM users WHERE id = 5;",
    );
    wait_for_horizon();
    let tables = ["-t", "users.updated_at,posts.updated_at,audit"];
    let run = pull_ok(&server, &db, &copy, &tables);
    assert_eq!(figure(&run, "users", "rows applied"), 2, "{}", run.stderr);
    assert_eq!(figure(&run, "posts", "rows applied"), 1, "{}", run.stderr);
    let title = |id: u32| {
        dst.scalar(&format!(
            "SELECT title FROM {} WHERE id = {id}",
            qualified(&copy, "posts")
        ))
    };
    assert_eq!(title(7).as_deref(), Some("edited"));
    assert_eq!(title(31), None, "a NULL cursor waits for --verify");
    assert_eq!(
        count(dst, &copy, "users"),
        21,
        "deletes wait for --deletes/--verify"
    );

    // --verify brings the row without timestamps and the delete.
    let run = verify(&server, &db, &copy, &tables);
    assert_eq!(figure(&run, "posts", "rows repaired"), 1, "{}", run.stderr);
    assert_eq!(figure(&run, "users", "rows deleted"), 1, "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["users", "posts", "audit"]);

    // Nothing is sent twice.
    let run = pull_ok(&server, &db, &copy, &tables);
    for table in ["users", "posts", "audit"] {
        assert_eq!(figure(&run, table, "rows applied"), 0, "{}", run.stderr);
    }
}

#[test]
fn an_append_only_table_by_its_created_at_loses_no_row_under_concurrent_inserts() {
    let src = &pair().0;
    // Server-assigned and never updated: the full guarantees, default settle.
    let (db, copy, server) = setup(
        "events",
        "CREATE TABLE events (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, writer INT NOT NULL,
             created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), KEY (created_at))",
        &[],
    );
    let (_, listing) = get_json(&server, &format!("/{db}/"));
    assert_eq!(
        listing["cursor_tables"][0]["candidates"][0]["default_current_timestamp"],
        json!(true),
        "{listing}"
    );
    let poller = poll(&server, &db, &copy, &["-t", "events.created_at"]);
    let stop = Arc::new(AtomicBool::new(false));
    let inserted = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (stop, inserted, mut conn) = (stop.clone(), inserted.clone(), src.conn());
            let table = qualified(&db, "events");
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    // Every third insert commits late: its timestamp is
                    // taken a while before anyone can see the row.
                    let sql = if n.is_multiple_of(3) {
                        format!("BEGIN; INSERT INTO {table} (writer) VALUES ({w}); DO SLEEP(0.15); COMMIT")
                    } else {
                        format!("INSERT INTO {table} (writer) VALUES ({w})")
                    };
                    conn.query_drop(sql).expect("insert");
                    inserted.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer");
    }
    let rows = inserted.load(Ordering::Relaxed);
    assert!(
        rows > 100,
        "the writers were too slow to prove anything: {rows}"
    );
    assert_eq!(count(src, &db, "events"), rows);
    caught_up(poller, &db, &copy, "events");
}

/// Loads a made-up zone into the source's time zone tables (the sandboxes
/// start without any, so named zones are unknown to CONVERT_TZ): 4 hours
/// behind UTC, then from `back_at` (Unix seconds) `drop` seconds further
/// behind, so that its clock reads the same `drop` seconds twice.
fn load_zone(name: &str, back_at: i64, drop: i64) {
    pair().0.exec(&format!(
        "INSERT INTO mysql.time_zone (Use_leap_seconds) VALUES ('N');
         SET @zone = LAST_INSERT_ID();
         INSERT INTO mysql.time_zone_name (Name, Time_zone_id) VALUES ({}, @zone);
         INSERT INTO mysql.time_zone_transition_type (Time_zone_id, Transition_type_id, `Offset`, Is_DST, Abbreviation)
             VALUES (@zone, 0, -14400, 1, 'TDT'), (@zone, 1, {}, 0, 'TST');
         INSERT INTO mysql.time_zone_transition (Time_zone_id, Transition_time, Transition_type_id)
             VALUES (@zone, {}, 0), (@zone, {back_at}, 1);",
        literal(name),
        -14400 - drop,
        back_at - 86_400
    ));
}

#[test]
fn a_datetime_written_in_a_zone_whose_clock_goes_back_loses_no_row() {
    let src = &pair().0;
    let (db, copy, server) = setup(
        "wallclock",
        "CREATE TABLE readings (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL,
             recorded_at DATETIME(6) NOT NULL, KEY (recorded_at))",
        &[],
    );
    // The zone's clock goes back 3 seconds, 3 seconds from now, as it goes
    // back an hour when daylight saving time ends.
    let zone = format!("Test/{}", unique_name("fallback"));
    let now: i64 = src
        .scalar("SELECT UNIX_TIMESTAMP()")
        .and_then(|s| s.parse().ok())
        .expect("clock");
    let (back_at, drop) = (now + 3, 3);
    load_zone(&zone, back_at, drop);
    let args = ["-t", "readings.recorded_at", "--app-time-zone", &zone];
    let poller = poll(&server, &db, &copy, &args);
    // The application writes its zone's wall-clock time, until 4 seconds
    // after the clock went back.
    let writer = {
        let (mut conn, table, zone) = (src.conn(), qualified(&db, "readings"), literal(&zone));
        std::thread::spawn(move || {
            let mut n = 0;
            let end = Instant::now() + Duration::from_secs(7);
            while Instant::now() < end {
                n += 1;
                let sql = format!(
                    "INSERT INTO {table} (n, recorded_at) VALUES ({n}, CONVERT_TZ(UTC_TIMESTAMP(6), '+00:00', {zone}))"
                );
                conn.query_drop(sql).expect("insert");
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    // A second before the clock goes back, the horizon stays below the
    // wall-clock time it will read again.
    let unix_now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    };
    std::thread::sleep(Duration::from_secs_f64(
        (back_at as f64 - 1.0 - unix_now()).max(0.0),
    ));
    let path = format!(
        "/{db}/readings/?cursor=recorded_at&cursor_zone={}",
        zone.replace('/', "%2F")
    );
    let (_, lines) = get_json(&server, &path);
    let horizon = lines[0]["header"]["horizon"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let repeated_from = src.scalar(&format!(
        "SELECT FROM_UNIXTIME({back_at}) - INTERVAL {} SECOND",
        4 * 3600 + drop
    ));
    let repeated_from = repeated_from.expect("wall clock");
    assert!(
        horizon.as_str() < repeated_from.as_str(),
        "horizon {horizon} passes {repeated_from}, which comes again"
    );
    writer.join().expect("writer");
    // The clock did go back under the application's feet.
    let went_back = src.scalar(&format!(
        "SELECT COUNT(*) FROM {0} a JOIN {0} b ON b.id > a.id AND b.recorded_at < a.recorded_at",
        qualified(&db, "readings")
    ));
    assert_ne!(
        went_back.as_deref(),
        Some("0"),
        "no row was written in the repeated seconds"
    );
    caught_up(poller, &db, &copy, "readings");
}

#[test]
fn a_timestamp_older_than_its_commit_is_missed_then_repaired_by_verify() {
    let (src, dst) = pair();
    let (db, copy, server) = setup(
        "late",
        "CREATE TABLE orders (id INT NOT NULL PRIMARY KEY, total DECIMAL(8,2) NOT NULL,
             updated_at DATETIME(6) NOT NULL, KEY (updated_at));
         INSERT INTO orders VALUES (1, 10, UTC_TIMESTAMP(6) - INTERVAL 9 SECOND),
             (2, 20, UTC_TIMESTAMP(6) - INTERVAL 8 SECOND);",
        &[],
    );
    let tables = ["-t", "orders.updated_at"];
    pull_ok(&server, &db, &copy, &tables);
    // A job takes the time, works, and saves 2 seconds later (more than
    // --settle, 1 s); meanwhile another order is saved and synced.
    let job_now = src.scalar("SELECT UTC_TIMESTAMP(6)").expect("clock");
    app(&db, "INSERT INTO orders VALUES (3, 30, UTC_TIMESTAMP(6))");
    // Past --settle, and past what other tests' open transactions on the
    // same source hold the horizon back by.
    std::thread::sleep(Duration::from_millis(1800));
    let run = pull_ok(&server, &db, &copy, &tables);
    assert_eq!(figure(&run, "orders", "rows applied"), 1, "{}", run.stderr);
    app(
        &db,
        &format!("INSERT INTO orders VALUES (4, 40, {})", literal(&job_now)),
    );
    // The incremental pass resumes after order 3: order 4 sorts before it.
    let run = pull_ok(&server, &db, &copy, &tables);
    assert_eq!(figure(&run, "orders", "rows applied"), 0, "{}", run.stderr);
    assert_eq!(count(dst, &copy, "orders"), 3);
    // The next --verify (or --resync-interval) finds and repairs it.
    let run = verify(&server, &db, &copy, &tables);
    assert_eq!(figure(&run, "orders", "rows repaired"), 1, "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["orders"]);
}

#[test]
fn bad_cursors_are_refused_in_words() {
    let (db, copy, server) = setup(
        "badcursor",
        &format!("{SHOP} CREATE TABLE keyless (v INT, at DATETIME NOT NULL);"),
        &["--settle", "0"],
    );
    let users = |query: &str| format!("/{db}/users/{query}");
    refused(
        &server,
        &users("?cursor=name"),
        400,
        &["`users`.`name` is varchar(40)", "not DATETIME or TIMESTAMP"],
    );
    refused(&server, &users("?cursor=nope"), 400, &["no column `nope`"]);
    // Without a cursor the table streams by its key (it is synced by
    // digests); asking it for rows since a time says how to name one.
    refused(
        &server,
        &users("?since=2020-01-01"),
        400,
        &[
            "auto-updating TIMESTAMP",
            "-t users.COLUMN",
            "`updated_at` (datetime(6))",
        ],
    );
    refused(
        &server,
        &format!("/{db}/keyless/?cursor=at"),
        404,
        &["primary key"],
    );
    refused(
        &server,
        &format!("/{db}/audit/?cursor=created"),
        400,
        &["auto-updating column `ts`"],
    );
    let (status, lines) = get_json(&server, &format!("/{db}/audit/?cursor=ts"));
    assert_eq!(
        (status, &lines[0]["header"]["timestamp_column"]),
        (200, &json!("ts"))
    );
    refused(
        &server,
        &format!("/{db}/posts/?cursor=created_at&since=x"),
        400,
        &["since"],
    );
    refused(
        &server,
        &format!("/{db}/audit/?cursor_zone=UTC"),
        400,
        &["cursor_zone needs cursor"],
    );
    // Named zones need the source's time zone tables; offsets and SYSTEM do not.
    refused(
        &server,
        &users("?cursor=updated_at&cursor_zone=Mars%2FOlympus"),
        400,
        &["time zone `Mars/Olympus`", "mariadb-tzinfo-to-sql"],
    );
    for zone in ["%2B02:00", "SYSTEM", "UTC"] {
        let (status, lines) = get_json(
            &server,
            &users(&format!("?cursor=updated_at&cursor_zone={zone}")),
        );
        assert_eq!(status, 200, "{zone}: {lines}");
        assert_eq!(lines[0]["header"]["timestamp_column"], json!("updated_at"));
        assert_eq!(
            lines.as_array().map(Vec::len),
            Some(22),
            "header, 20 rows, trailer"
        );
    }
    // Digests take the cursor too (the table must be one it names).
    let (status, lines) = get_json(&server, &users("digest?cursor=updated_at"));
    assert_eq!((status, &lines[1][2]), (200, &json!(20)), "{lines}");
    // Without one, by its key: the table is synced by digests.
    let (status, lines) = get_json(&server, &users("digest"));
    assert_eq!((status, &lines[1][2]), (200, &json!(20)), "{lines}");
    refused(&server, &users("digest?cursor=name"), 400, &["varchar(40)"]);
    // The database restriction holds as before.
    refused(&server, "/mysql/time_zone/?cursor=x", 404, &["not found"]);

    // The puller: one line naming the column and its type, other tables go on.
    let run = pull(&server, &db, &copy, &["-t", "users.name,audit"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("table `users` failed"))
        .unwrap_or_default();
    assert!(
        line.contains("`users`.`name` is varchar(40), not DATETIME or TIMESTAMP"),
        "{}",
        run.stderr
    );
    assert_eq!(figure(&run, "audit", "rows applied"), 2);
    let run = pull(&server, &db, &copy, &["-t", "posts.nope"]);
    assert!(
        run.code == 1 && run.stderr.contains("no column `nope`"),
        "{}",
        run.stderr
    );
    for bad in [
        &["-t", "users."][..],
        &["-t", ".updated_at"][..],
        &["--app-time-zone", "New York"][..],
    ] {
        let run = pull(&server, &db, &copy, bad);
        assert_eq!(run.code, 2, "{bad:?}: {}", run.stderr);
        assert!(run.stderr.contains("usage: dbd_puller"), "{}", run.stderr);
    }
}

#[test]
fn freshness_of_a_wall_clock_cursor_is_told_in_utc() {
    // The application writes DATETIMEs five hours ahead of UTC: the
    // stream's horizon is on that clock, the summary's "complete to" (and
    // the lag) must still be UTC, not five hours in the future.
    let (src, _) = pair();
    let (db, copy, server) = setup(
        "wallfresh",
        "CREATE TABLE ev (id INT PRIMARY KEY, at DATETIME(6) NOT NULL, KEY (at));
         INSERT INTO ev VALUES (1, UTC_TIMESTAMP(6) + INTERVAL 5 HOUR - INTERVAL 1 HOUR);",
        &["--settle", "0"],
    );
    let run = pull_ok(
        &server,
        &db,
        &copy,
        &["-t", "ev.at", "--app-time-zone", "+05:00"],
    );
    let told = run
        .stderr
        .split("complete to ")
        .nth(1)
        .and_then(|rest| rest.get(..19))
        .unwrap_or_else(|| panic!("no freshness in:\n{}", run.stderr))
        .to_string();
    let behind = src.scalar(&format!(
        "SELECT ABS(TIMESTAMPDIFF(SECOND, {}, UTC_TIMESTAMP()))",
        literal(&told)
    ));
    let behind: i64 = behind.and_then(|b| b.parse().ok()).unwrap_or(i64::MAX);
    assert!(
        behind < 120,
        "complete to {told} UTC is not now:\n{}",
        run.stderr
    );
}
