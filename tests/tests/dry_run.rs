//! `dbd_puller --dry-run` end to end: against a destination that differs
//! from its source in every way a pass repairs (rows missing, changed and
//! extra, drift only `--verify` sees, a table without a time column synced
//! by digests, a keyless table, a table missing with `--create-tables`), a
//! dry run through an account with only SELECT tells the right counts and
//! example keys, as lines, as JSON and in the status file, exits 4, and
//! leaves the destination byte for byte as it was; after a real pass it
//! finds the destination equal and exits 0. Bad flag combinations are
//! usage errors (exit 2).

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use dbdump_tests::*;

const TABLES: &str = "
CREATE TABLE item (id INT NOT NULL PRIMARY KEY, name VARCHAR(40) NOT NULL,
  ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), KEY (ts));
CREATE TABLE meta (k INT NOT NULL PRIMARY KEY, v VARCHAR(64) NOT NULL);
CREATE TABLE same (k INT NOT NULL PRIMARY KEY, v VARCHAR(20));
CREATE TABLE grown (k INT NOT NULL PRIMARY KEY, v INT);
CREATE TABLE log (at DATETIME NOT NULL, msg TEXT);
CREATE TABLE fresh (id INT NOT NULL PRIMARY KEY, note VARCHAR(20),
  ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
INSERT INTO item (id, name) SELECT seq, CONCAT('item ', seq) FROM seq_1_to_50;
INSERT INTO meta SELECT seq, MD5(seq) FROM seq_1_to_2000;
INSERT INTO same SELECT seq, CONCAT('s', seq) FROM seq_1_to_30;
INSERT INTO grown SELECT seq, seq FROM seq_1_to_5;
INSERT INTO log SELECT '2026-01-01' + INTERVAL seq MINUTE, CONCAT('line ', seq) FROM seq_1_to_10;
INSERT INTO fresh (id, note) SELECT seq, CONCAT('f', seq) FROM seq_1_to_7;
";

/// Rows written now are below the horizon a second later.
fn wait_for_horizon() {
    std::thread::sleep(Duration::from_millis(1100));
}

/// `mariadb-dump` of a whole database with `flags`.
fn mariadb_dump(db: &Sandbox, database: &str, flags: &str) -> String {
    let fixed = format!(
        "--no-defaults -h127.0.0.1 -P{} -uroot --skip-comments --skip-dump-date",
        db.port
    );
    let out = Command::new("mariadb-dump")
        .args(fixed.split(' '))
        .args(flags.split(' '))
        .arg(database)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run mariadb-dump");
    assert!(out.status.success(), "mariadb-dump {database}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The destination database, rows and definitions, as two dumps.
fn snapshot(db: &Sandbox, database: &str) -> (String, String) {
    let rows = "--no-create-info --skip-extended-insert --order-by-primary --hex-blob --tz-utc";
    (
        mariadb_dump(db, database, rows),
        mariadb_dump(db, database, "--no-data --skip-triggers"),
    )
}

/// An account on `db` that may only read `database`; returns its name.
fn reader(db: &Sandbox, database: &str) -> String {
    let user = unique_name("reader");
    db.exec(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY 'read-only';
         GRANT SELECT ON {}.* TO '{user}'@'%'",
        ident(database)
    ));
    user
}

/// Runs a dry run as `user` with `extra` flags.
fn dry_run(server: &Server, db: &str, copy: &str, user: &str, extra: &[&str]) -> PullerRun {
    let mut args = vec![
        "--dest-username",
        user,
        "--dest-password",
        "read-only",
        "--deletes",
        "--verify",
        "--create-tables",
    ];
    args.extend_from_slice(extra);
    puller(server.port, &pair().1, db, copy, &args)
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// The keys of a JSON array of keys, as text.
fn keys(v: &Value) -> Vec<String> {
    let list = v.as_array().unwrap_or_else(|| panic!("not an array: {v}"));
    list.iter().map(Value::to_string).collect()
}

#[test]
fn a_dry_run_tells_what_a_pass_would_change_and_changes_nothing() {
    let (src, dst) = pair();
    let (db, copy, server) = setup_pair("dryrun", TABLES);
    wait_for_horizon();
    pull_ok(&server, &db, &copy, &[]);
    let (s, d) = (ident(&db), ident(&copy));
    // Every kind of difference a pass repairs.
    src.exec(&format!(
        "USE {s};
         INSERT INTO item (id, name) VALUES (51, 'new'), (52, 'new');
         UPDATE item SET name = 'changed' WHERE id = 5;
         DELETE FROM item WHERE id = 7;
         DELETE FROM meta WHERE k = 3;
         UPDATE meta SET v = 'changed' WHERE k = 4;
         INSERT INTO meta VALUES (2001, 'new');
         INSERT INTO log VALUES ('2026-02-01', 'one more');
         ALTER TABLE grown ADD COLUMN extra INT NULL AFTER k;
         UPDATE grown SET extra = k * 10;"
    ));
    dst.exec(&format!(
        "USE {d};
         UPDATE item SET name = 'edited here', ts = ts WHERE id = 9;
         DELETE FROM meta WHERE k = 10;
         DROP TABLE fresh;"
    ));
    wait_for_horizon();
    let user = reader(dst, &copy);
    // The account really cannot write.
    let mut conn = mysql::Conn::new(
        mysql::OptsBuilder::new()
            .ip_or_hostname(Some("127.0.0.1"))
            .tcp_port(dst.port)
            .user(Some(user.as_str()))
            .pass(Some("read-only"))
            .prefer_socket(false),
    )
    .expect("the reader connects");
    let write = format!("DELETE FROM {d}.item WHERE id = 1");
    assert!(mysql::prelude::Queryable::query_drop(&mut conn, &write).is_err());
    let before = snapshot(dst, &copy);

    // Lines for people.
    let status = workspace_root().join(format!(
        "target/test-sandboxes/dry-{}.json",
        unique_name("s")
    ));
    let status_flag = status.to_str().unwrap();
    let run = dry_run(
        &server,
        &db,
        &copy,
        &user,
        &[
            "--dry-run",
            "--dry-run-examples",
            "2",
            "--status-file",
            status_flag,
        ],
    );
    assert_eq!(run.code, 4, "{run:?}");
    let out = &run.stdout;
    for line in [
        "table `item` (by timestamp `ts`): would apply 3 rows; would delete 1 row (e.g. [7]); \
         would repair 1 row (e.g. [9]); verify: 1 of 1 chunks differ",
        "table `fresh` (by timestamp `ts`): would create the table; would apply 7 rows",
        "table `log` (whole): digests differ: would replace its 10 rows by the source's 11",
        "table `same` (by digests): nothing to do; verify: 0 of 1 chunks differ",
        "table `grown` (by digests): would add column `extra`; a --verify of the table would \
         follow the new columns, to bring their values; not counted, since the destination \
         lacks them yet",
        "dry run: 5 of 6 tables would change: 21 rows to apply, 2 rows to delete, 4 rows to \
         repair, 1 tables to create, 1 to alter (1 equal, 0 skipped, 0 failed); exit code 4",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "no line {line:?} in:\n{out}"
        );
    }
    let meta = out.lines().find(|l| l.starts_with("table `meta`")).unwrap();
    assert!(
        meta.starts_with(
            "table `meta` (by digests): would delete 1 row (e.g. [3]); would repair 3 rows (e.g. "
        ),
        "{out}"
    );
    assert!(!run.stderr.contains("ERROR"), "{}", run.stderr);

    // The same figures as one JSON document, and in the status file.
    let run = dry_run(
        &server,
        &db,
        &copy,
        &user,
        &["--dry-run=json", "--status-file", status_flag],
    );
    assert_eq!(run.code, 4, "{run:?}");
    let doc = parse(&run.stdout);
    assert_eq!(doc["dry_run"], true);
    assert_eq!(
        (doc["equal"].clone(), doc["exit_code"].clone()),
        (json!(false), json!(4))
    );
    assert_eq!(doc["create_database"], false);
    let totals = &doc["totals"];
    assert_eq!(
        totals,
        &json!({"tables": 6, "would_change": 5, "equal": 1, "skipped": 0, "failed": 0,
                "rows_to_apply": 21, "rows_to_delete": 2, "rows_to_repair": 4,
                "tables_to_create": 1, "tables_to_alter": 1}),
        "{doc}"
    );
    let t = &doc["tables"];
    let item = &t["item"];
    assert_eq!(item["state"], "would_change");
    assert_eq!(item["method"], "timestamp");
    assert_eq!(item["compared"], "verify");
    assert_eq!(
        (
            item["rows_to_apply"].clone(),
            item["rows_to_delete"].clone()
        ),
        (json!(3), json!(1))
    );
    assert_eq!(item["rows_to_repair"], 1);
    assert_eq!(keys(&item["delete_examples"]), ["[7]"]);
    assert_eq!(keys(&item["repair_examples"]), ["[9]"]);
    let meta = &t["meta"];
    assert_eq!(meta["method"], "digest");
    assert_eq!(
        (
            meta["rows_to_delete"].clone(),
            meta["rows_to_repair"].clone()
        ),
        (json!(1), json!(3))
    );
    assert_eq!(keys(&meta["delete_examples"]), ["[3]"]);
    let mut repairs = keys(&meta["repair_examples"]);
    repairs.sort();
    assert_eq!(
        repairs,
        ["[10]", "[2001]", "[4]"],
        "five examples by default"
    );
    // A comparison moves digests and keys, not the table's 2000 rows.
    let bytes = meta["bytes_read"].as_u64().unwrap();
    assert!(bytes > 0 && bytes < 16_000, "{bytes} bytes read for meta");
    assert_eq!(t["fresh"]["create_table"], true);
    assert_eq!(t["fresh"]["rows_to_apply"], 7);
    assert_eq!(
        t["fresh"]["rows_to_delete"],
        Value::Null,
        "nothing to compare yet"
    );
    assert_eq!(
        t["log"]["whole"],
        json!({"source_rows": 11, "destination_rows": 10, "differ": true})
    );
    assert_eq!(t["log"]["rows_to_apply"], 11);
    assert_eq!(t["grown"]["add_columns"], json!(["extra"]));
    assert_eq!(t["grown"]["rows_to_repair"], Value::Null, "not counted");
    assert_eq!(
        (
            t["same"]["state"].clone(),
            t["same"]["rows_to_repair"].clone()
        ),
        (json!("equal"), json!(0))
    );
    let kept = parse(&std::fs::read_to_string(&status).expect("status file"));
    assert_eq!(kept["dry_run"]["exit_code"], 4);
    assert_eq!(kept["dry_run"]["totals"], *totals);
    assert_eq!(kept["tables"]["item"]["dry_run"]["rows_to_apply"], 3);
    assert_eq!(kept["tables"]["meta"]["dry_run"]["rows_to_repair"], 3);
    assert_eq!(kept["tables"]["item"]["rows_last_pass"], 0);
    assert_eq!(kept["pass"]["outcome"], "ok");

    // Nothing changed: not a row, not a definition, not a comment.
    assert!(
        snapshot(dst, &copy) == before,
        "the dry runs changed the destination"
    );

    // A real pass does what the dry run said; then a dry run finds it equal.
    let run = pull_ok(
        &server,
        &db,
        &copy,
        &["--deletes", "--verify", "--create-tables"],
    );
    assert_eq!(figure(&run, "item", "rows applied"), 3, "{}", run.stderr);
    assert_eq!(figure(&run, "item", "rows deleted"), 1, "{}", run.stderr);
    assert_eq!(figure(&run, "item", "rows repaired"), 1, "{}", run.stderr);
    assert_eq!(figure(&run, "meta", "rows repaired"), 3, "{}", run.stderr);
    assert_same(
        src,
        &db,
        dst,
        &copy,
        &["item", "meta", "same", "log", "fresh", "grown"],
    );
    let run = dry_run(&server, &db, &copy, &user, &["--dry-run=json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let doc = parse(&run.stdout);
    assert_eq!(
        (doc["equal"].clone(), doc["totals"]["equal"].clone()),
        (json!(true), json!(6))
    );
    for (name, table) in doc["tables"].as_object().unwrap() {
        assert_eq!(table["state"], "equal", "{name}: {table}");
    }
    let run = dry_run(&server, &db, &copy, &user, &["--dry-run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("dry run: the destination is equal: a pass would change nothing"),
        "{}",
        run.stdout
    );
    // A table a pass would fail fails the dry run too: exit 1, in words.
    let run = dry_run(
        &server,
        &db,
        &copy,
        &user,
        &["--dry-run=json", "-t", "item,nosuch"],
    );
    assert_eq!(run.code, 1, "{run:?}");
    let doc = parse(&run.stdout);
    assert_eq!(doc["tables"]["item"]["state"], "equal");
    let nosuch = &doc["tables"]["nosuch"];
    assert_eq!(nosuch["state"], "failed", "{doc}");
    let error = nosuch["error"].as_str().unwrap();
    assert!(error.contains("404") && error.contains("nosuch"), "{error}");
    assert!(
        run.stderr.contains("table `nosuch` failed: "),
        "{}",
        run.stderr
    );
    // No destination database: it and every table are to be created. As
    // root: the dry run's session is read-only all the same.
    let missing = format!("{copy}_not_yet");
    let run = puller(
        server.port,
        dst,
        &db,
        &missing,
        &["--create-tables", "--dry-run=json"],
    );
    assert_eq!(run.code, 4, "{run:?}");
    let doc = parse(&run.stdout);
    assert_eq!(doc["create_database"], true);
    assert_eq!(doc["totals"]["tables_to_create"], 6, "{doc}");
    // item 51, meta 2000, same 30, grown 5, log 11, fresh 7.
    assert_eq!(doc["totals"]["rows_to_apply"], 2104, "{doc}");
    let schemata = format!(
        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {}",
        literal(&missing)
    );
    assert_eq!(dst.scalar(&schemata).as_deref(), Some("0"));
    let _ = std::fs::remove_file(status);
}

/// A usage error: exit 2, the usage and `error:` line naming `needle`.
#[track_caller]
fn refused(args: &[&str], env: &[(&str, &str)], needle: &str) {
    let out = puller_command(1, &pair().1, "db", "copy", args)
        .envs(env.iter().copied())
        .output()
        .expect("cannot run dbd_puller");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.starts_with("usage: dbd_puller"), "{stderr}");
    assert!(
        stderr.contains(needle),
        "{args:?}: {needle:?} not in {stderr}"
    );
    assert!(!stderr.contains("CliError"), "no Debug forms: {stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_dry_run_flags_are_usage_errors_and_help_shows_them() {
    refused(
        &["--dry-run", "--poll-interval", "5"],
        &[],
        "--dry-run makes one pass",
    );
    refused(
        &["--dry-run"],
        &[("DBD_POLL_INTERVAL", "5")],
        "drop DBD_POLL_INTERVAL",
    );
    refused(&["--dry-run=yaml"], &[], "--dry-run must be text or json");
    refused(
        &[],
        &[("DBD_DRY_RUN", "maybe")],
        "DBD_DRY_RUN must be text or json",
    );
    refused(
        &["--dry-run", "json"],
        &[],
        "--dry-run takes its value after `=`",
    );
    refused(&["--dry-run-examples", "3"], &[], "needs --dry-run");
    refused(
        &["--dry-run", "--dry-run-examples", "lots"],
        &[],
        "--dry-run-examples must be",
    );
    refused(
        &["--dry-run", "--dry-run-examples", "5000"],
        &[],
        "from 0 to 1000",
    );
    let help = Command::new(bin("dbd_puller"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for text in [
        "[--dry-run[=text|json]]",
        "  --dry-run[=text|json]",
        "--dry-run-examples N",
        "DBD_DRY_RUN",
        "4 --dry-run found",
    ] {
        assert!(help.contains(text), "{text:?} not in --help:\n{help}");
    }
}
