//! A table whose comment cannot carry the mark still gets its first copy,
//! in one stream, and ends equal: a destination account without `ALTER`
//! (a table read by a timestamp and one synced by digests), and a table
//! whose own comment leaves no room for the mark. No key range is
//! streamed, and each table keeps its own comment.

use dbdump_tests::*;

use crate::gate::Gate;
use crate::{applied, comment, first_copy_ranges, Running};

const NO_ALTER: &str = "
CREATE TABLE timed (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL,
  ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  KEY (ts)) COMMENT 'timed rows';
CREATE TABLE plain (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL) COMMENT 'plain rows';
SET time_zone = '+00:00';
INSERT INTO timed SELECT seq, CONCAT('t', seq), '2024-01-01' + INTERVAL seq SECOND FROM seq_1_to_8000;
INSERT INTO plain SELECT seq, CONCAT('p', seq) FROM seq_1_to_8000;";

const CANNOT_MARK: &str =
    "its first copy goes in one stream, not by key ranges: cannot mark it in the table's comment";

#[test]
fn without_alter_on_the_destination_a_first_copy_goes_in_one_stream_and_ends_equal() {
    let (src, dst) = pair();
    let (db, copy, server) = setup_pair("fc_noalter", NO_ALTER);
    let user = unique_name("fc_noalter");
    dst.exec(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY 'dst-pw';
         GRANT SELECT, INSERT, UPDATE, DELETE ON {}.* TO '{user}'@'%'",
        ident(&copy)
    ));
    let gate = Gate::open(server.port);
    let args = [
        "-t",
        "timed,plain",
        "--copy-streams",
        "3",
        "--dest-username",
        &user,
    ];
    let mut cmd = puller_command(gate.port, dst, &db, &copy, &args);
    let run = Running::spawn(cmd.env("DBD_DEST_PASSWORD", "dst-pw")).wait();
    assert_eq!(run.code, 0, "{}", run.stderr);
    for table in ["timed", "plain"] {
        let told = format!("table `{table}`: {CANNOT_MARK}");
        assert!(run.stderr.contains(&told), "{table}:\n{}", run.stderr);
        assert_eq!(first_copy_ranges(&run, table), None, "{}", run.stderr);
        assert_eq!(applied(&run, table), 8000, "{}", run.stderr);
    }
    assert!(
        run.stderr.contains("ALTER command denied"),
        "{}",
        run.stderr
    );
    assert_eq!(gate.range_streams(), 0, "no key range was streamed");
    assert_eq!(comment(dst, &copy, "timed"), "timed rows");
    assert_eq!(comment(dst, &copy, "plain"), "plain rows");
    assert_same(src, &db, dst, &copy, &["timed", "plain"]);
}

#[test]
fn a_comment_of_its_own_too_long_for_the_mark_gets_a_first_copy_in_one_stream() {
    let (src, dst) = pair();
    let own = format!("long comment {}", "x".repeat(2030));
    let (db, copy, server) = setup_pair(
        "fc_longcomment",
        &format!(
            "CREATE TABLE timed (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL,
               ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
               KEY (ts)) COMMENT {};
             SET time_zone = '+00:00';
             INSERT INTO timed SELECT seq, CONCAT('t', seq), '2024-01-01' + INTERVAL seq SECOND
               FROM seq_1_to_5000;",
            literal(&own)
        ),
    );
    let gate = Gate::open(server.port);
    let args = ["-t", "timed", "--copy-streams", "2"];
    let run = Running::start(gate.port, dst, &db, &copy, &args).wait();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let told = "table `timed`: its comment leaves no room to mark a first copy in; it is copied in one stream";
    assert!(run.stderr.contains(told), "{}", run.stderr);
    assert_eq!(first_copy_ranges(&run, "timed"), None, "{}", run.stderr);
    assert_eq!(gate.range_streams(), 0);
    assert_eq!(applied(&run, "timed"), 5000, "{}", run.stderr);
    assert_eq!(comment(dst, &copy, "timed"), own);
    assert_same(src, &db, dst, &copy, &["timed"]);
}
