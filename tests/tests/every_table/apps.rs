//! Application schemas end to end: a first run copies every table by its
//! method (creating them), an idle run streams nothing for the cursor
//! tables, a polling puller keeps up with writers changing every table,
//! and incremental runs afterwards bring each change; the copy always ends
//! equal to the source (`mariadb-dump` and `CHECKSUM TABLE` of both sides),
//! and the summary lines and the status file say which method ran.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dbdump_tests::*;

use crate::{apps, start_writer, CURSORS, TABLES};

/// The summary line of `table` in a run.
fn line<'a>(run: &'a PullerRun, table: &str) -> &'a str {
    let marker = format!("table `{table}`: ");
    run.stderr
        .lines()
        .find(|l| l.contains(&marker))
        .unwrap_or_else(|| panic!("no summary for {table} in:\n{}", run.stderr))
}

const BY_CURSOR: &[(&str, &str)] = &[
    ("mdl_course", "by cursor `timemodified` (unix s)"),
    ("Posts", "by cursor `UpdateAt` (unix ms)"),
    ("page", "by cursor `page_touched` (yyyymmddhhmmss)"),
];

#[test]
fn application_schemas_arrive_whole_then_under_writes_then_incrementally() {
    let (src, dst) = pair();
    let (db, copy, server) = apps("apps");
    let run = pull_ok(&server, &db, &copy, &["--create-tables", "-t", CURSORS]);
    assert_same(src, &db, dst, &copy, TABLES);
    for (table, method) in BY_CURSOR {
        assert!(line(&run, table).contains(method), "{}", line(&run, table));
    }
    for table in [
        "wp_options",
        "wp_postmeta",
        "wp_terms",
        "wp_term_relationships",
        "sessions",
    ] {
        assert!(
            line(&run, table).contains(" by digests;"),
            "{}",
            line(&run, table)
        );
        assert!(
            figure(&run, table, "rows applied") > 0,
            "{}",
            line(&run, table)
        );
    }
    assert!(
        line(&run, "import_log").contains(" whole; whole in "),
        "{}",
        run.stderr
    );
    assert_eq!(figure(&run, "import_log", "rows copied"), 200);

    // Idle: the cursor tables stream nothing; the others compare equal.
    std::thread::sleep(Duration::from_millis(1100));
    let run = pull_ok(&server, &db, &copy, &["-t", CURSORS]);
    for (table, _) in BY_CURSOR {
        assert_eq!(
            figure(&run, table, "rows applied"),
            0,
            "{}",
            line(&run, table)
        );
        assert_eq!(
            figure(&run, table, "bytes read"),
            0,
            "{}",
            line(&run, table)
        );
    }
    for table in ["wp_options", "wp_term_relationships", "sessions"] {
        assert_eq!(
            figure(&run, table, "rows repaired"),
            0,
            "{}",
            line(&run, table)
        );
        assert_eq!(
            figure(&run, table, "rows deleted"),
            0,
            "{}",
            line(&run, table)
        );
    }
    assert!(
        line(&run, "import_log").contains("digests equal (200 rows)"),
        "{}",
        run.stderr
    );

    // Under writes: a polling puller while a writer changes every table.
    let status = std::env::temp_dir().join(format!("{}.status.json", unique_name("apps")));
    let status_arg = status.to_string_lossy().into_owned();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = start_writer(src, &db, stop.clone());
    let args = [
        "-t",
        CURSORS,
        "--poll-interval",
        "0.1",
        "--digest-interval",
        "0",
        "--status-file",
        &status_arg,
    ];
    let mut poller = spawn(
        puller_command(server.port, dst, &db, &copy, &args).stderr(std::process::Stdio::null()),
    );
    std::thread::sleep(Duration::from_millis(2500));
    stop.store(true, Ordering::Relaxed);
    let statements = writer.join().expect("writer");
    assert!(
        statements > 200,
        "too little happened: {statements} statements"
    );
    // Second-precision cursors: rows of the last second wait for the next.
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(poller.terminate(), Some(0));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&status).expect("status file"))
            .expect("JSON");
    let _ = std::fs::remove_file(&status);
    let method = |t: &str| {
        doc["tables"][t]["method"]
            .as_str()
            .unwrap_or("?")
            .to_string()
    };
    assert_eq!(
        TABLES.iter().map(|t| method(t)).collect::<Vec<_>>(),
        ["digest", "digest", "digest", "digest", "cursor", "cursor", "cursor", "digest", "whole"],
        "{doc}"
    );
    for t in TABLES {
        assert_eq!(doc["tables"][t]["state"], "ok", "{t}: {doc}");
    }
    // Deletes on the cursor tables are a --verify's business.
    let run = pull_ok(&server, &db, &copy, &["-t", CURSORS, "--verify"]);
    assert_same(src, &db, dst, &copy, TABLES);

    // Incremental: each change arrives with an ordinary run.
    src.exec(&format!(
        "USE {}; SET time_zone = '+00:00';
         UPDATE mdl_course SET shortname = 'moved', timemodified = UNIX_TIMESTAMP() WHERE id <= 3;
         INSERT INTO Posts (Id, UpdateAt, Message)
           VALUES ('incremental-post-000000001', FLOOR(UNIX_TIMESTAMP(NOW(3)) * 1000), 'hi');
         UPDATE page SET page_len = 1, page_touched = DATE_FORMAT(UTC_TIMESTAMP(), '%Y%m%d%H%i%s')
           WHERE page_id IN (7, 8);
         UPDATE wp_options SET option_value = 'blue' WHERE option_name = 'option_5';
         DELETE FROM wp_postmeta WHERE meta_id BETWEEN 500 AND 509;
         INSERT INTO wp_term_relationships VALUES (777, 1, 0);
         DELETE FROM sessions WHERE user_id = 20;
         INSERT INTO import_log VALUES ('2025-01-01', 'error', 'one more');",
        ident(&db)
    ));
    drop(run);
    std::thread::sleep(Duration::from_millis(1100));
    let run = pull_ok(&server, &db, &copy, &["-t", CURSORS]);
    assert_eq!(
        figure(&run, "mdl_course", "rows applied"),
        3,
        "{}",
        run.stderr
    );
    assert_eq!(figure(&run, "Posts", "rows applied"), 1, "{}", run.stderr);
    assert_eq!(figure(&run, "page", "rows applied"), 2, "{}", run.stderr);
    assert_eq!(
        figure(&run, "wp_postmeta", "rows deleted"),
        10,
        "{}",
        run.stderr
    );
    assert_eq!(
        figure(&run, "wp_options", "rows repaired"),
        1,
        "{}",
        run.stderr
    );
    assert_same(src, &db, dst, &copy, TABLES);
}

#[test]
fn a_polling_puller_does_not_hash_tables_the_source_shows_unchanged() {
    let (src, dst) = pair();
    let (db, copy, server) = apps("idle");
    pull_ok(&server, &db, &copy, &["--create-tables", "-t", CURSORS]);
    // Polls for a while with nothing changing, then one change, then idle.
    let args = [
        "-t",
        CURSORS,
        "--poll-interval",
        "0.2",
        "--digest-interval",
        "0",
    ];
    let mut poller = spawn(
        puller_command(server.port, dst, &db, &copy, &args).stderr(std::process::Stdio::piped()),
    );
    std::thread::sleep(Duration::from_millis(1500));
    src.exec(&format!(
        "UPDATE {}.wp_options SET option_value = 'new' WHERE option_id = 9",
        ident(&db)
    ));
    std::thread::sleep(Duration::from_millis(2000));
    assert_eq!(poller.terminate(), Some(0));
    let mut stderr = String::new();
    if let Some(mut e) = poller.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("table `wp_postmeta`: "))
        .collect();
    assert!(lines.len() >= 8, "{stderr}");
    // The first poll compares (nothing is known yet); afterwards the
    // changes question shows the table unchanged, and nothing is hashed.
    let compared = lines.iter().filter(|l| l.contains("digests in")).count();
    assert!(
        compared <= 2,
        "compared {compared} times:\n{}",
        lines.join("\n")
    );
    assert!(
        lines[2..].iter().all(|l| l.contains("; 0 bytes read")),
        "{}",
        lines.join("\n")
    );
    // The one that changed is compared and repaired, once it has changed.
    let repaired: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("table `wp_options`: ") && l.contains("1 rows repaired"))
        .collect();
    assert_eq!(repaired.len(), 1, "{stderr}");
    assert_same(src, &db, dst, &copy, &["wp_options", "wp_postmeta"]);
}
