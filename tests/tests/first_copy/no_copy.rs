//! A destination table that already holds rows, and carries no mark, gets
//! no first copy: no ranges are asked for, no key range is streamed, its
//! comment is left alone. A table read by a timestamp goes on after its
//! newest row; a table synced by digests is compared and repaired. A table
//! empty on both sides gets no first copy on the next passes: no mark, no
//! ALTER TABLE.

use dbdump_tests::*;

use crate::gate::Gate;
use crate::{applied, comment, first_copy_ranges, Running};

const TABLES: &str = "
CREATE TABLE timed (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL,
  ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  KEY (ts)) COMMENT 'timed rows';
CREATE TABLE plain (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL) COMMENT 'plain rows';";

/// Rows 1 to `to` of both tables, the same on either side.
fn rows(to: u32) -> String {
    format!(
        "SET time_zone = '+00:00';
         INSERT INTO timed SELECT seq, CONCAT('t', seq), '2024-01-01' + INTERVAL seq SECOND
           FROM seq_1_to_{to};
         INSERT INTO plain SELECT seq, CONCAT('p', seq) FROM seq_1_to_{to};"
    )
}

#[test]
fn a_destination_table_holding_rows_without_a_mark_gets_no_first_copy() {
    let (src, dst) = pair();
    let (db, copy, server) = setup_pair("fc_nocopy", &format!("{TABLES} {}", rows(5000)));
    dst.exec(&format!("USE {}; {}", ident(&copy), rows(100)));
    let gate = Gate::open(server.port);
    let args = ["-t", "timed,plain", "--copy-streams", "3"];
    let run = Running::start(gate.port, dst, &db, &copy, &args).wait();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(gate.ranges_requests(), 0, "ranges asked for");
    assert_eq!(gate.range_streams(), 0, "key ranges streamed");
    assert!(!run.stderr.contains("first copy"), "{}", run.stderr);
    for table in ["timed", "plain"] {
        assert_eq!(first_copy_ranges(&run, table), None);
    }
    // After the destination's newest row; compared and repaired.
    assert_eq!(applied(&run, "timed"), 4900, "{}", run.stderr);
    assert_eq!(
        figure(&run, "plain", "rows repaired"),
        4900,
        "{}",
        run.stderr
    );
    assert_eq!(comment(dst, &copy, "timed"), "timed rows");
    assert_eq!(comment(dst, &copy, "plain"), "plain rows");
    assert_same(src, &db, dst, &copy, &["timed", "plain"]);
}

#[test]
fn a_table_empty_on_both_sides_gets_no_first_copy_once_nothing_is_new() {
    // README: an empty table gets a first copy "not when one question for
    // all tables found nothing new in it", and a poll costs "one request
    // plus one stream per table that changed".
    let (_, dst) = pair();
    let (db, copy, server) = setup_pair("fc_empty", TABLES);
    let args = ["-t", "timed,plain"];
    let first = Running::start(server.port, dst, &db, &copy, &args).wait();
    assert_eq!(first.code, 0, "{}", first.stderr);
    let gate = Gate::open(server.port);
    let run = Running::start(gate.port, dst, &db, &copy, &args).wait();
    assert_eq!(run.code, 0, "{}", run.stderr);
    // The changes question tells the timestamp table has nothing new; the
    // table synced by digests has no comparison to ask about yet in a new
    // process, so one ranges request finds it empty: no mark, no ALTER.
    assert!(gate.ranges_requests() <= 1, "{}", run.stderr);
    assert!(!run.stderr.contains("first copy"), "{}", run.stderr);
    assert_eq!(comment(dst, &copy, "timed"), "timed rows");
}
