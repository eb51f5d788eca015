//! Tables without a primary key but with a UNIQUE key over NOT NULL
//! columns are synced by that key (the first such key in the server's key
//! order, the one InnoDB clusters the table by) with every method: by an
//! auto-updating column, by digests, by a named cursor.

use dbdump_tests::*;

const TABLES: &str = "
CREATE TABLE u_auto (email VARCHAR(80) NOT NULL, nick VARCHAR(20) NULL, v INT,
  ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  UNIQUE KEY by_nick (nick), UNIQUE KEY by_email (email), KEY (ts));
CREATE TABLE u_digest (a INT NOT NULL, b VARCHAR(10) NOT NULL, code CHAR(8) NOT NULL, v TEXT,
  UNIQUE KEY by_ab (a, b), UNIQUE KEY by_code (code));
CREATE TABLE u_cursor (uid INT NOT NULL, v VARCHAR(20), modified BIGINT NOT NULL,
  UNIQUE KEY by_uid (uid), KEY (modified));
SET time_zone = '+00:00';
INSERT INTO u_auto (email, nick, v, ts) SELECT CONCAT('user', seq, '@example.com'),
  IF(seq % 3 = 0, NULL, CONCAT('n', seq)), seq, '2024-01-01' + INTERVAL seq SECOND FROM seq_1_to_300;
INSERT INTO u_digest SELECT seq DIV 10, CONCAT('b', seq % 10), LEFT(MD5(seq), 8), REPEAT('x', seq % 30)
  FROM seq_1_to_300;
INSERT INTO u_cursor SELECT seq, CONCAT('v', seq), 1700000000 + seq FROM seq_1_to_300;";

const ALL: &[&str] = &["u_auto", "u_digest", "u_cursor"];

#[test]
fn a_unique_not_null_key_stands_in_for_the_primary_key_with_every_method() {
    let (src, dst) = pair();
    let (db, copy, server) = setup_pair("uniquekeys", TABLES);
    let (_, _, body) = http_get(server.port, &format!("/{db}/"), &[]);
    let listing: serde_json::Value = serde_json::from_str(&body).expect("listing");
    let entry = |table: &str| {
        let t = listing["every_table"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["table"] == table).cloned())
            .unwrap_or_default();
        (
            t["method"].clone(),
            t["key_index"].clone(),
            t["key"].clone(),
        )
    };
    assert_eq!(
        entry("u_auto"),
        (
            "timestamp".into(),
            "by_email".into(),
            serde_json::json!(["email"])
        )
    );
    assert_eq!(
        entry("u_digest"),
        (
            "digest".into(),
            "by_ab".into(),
            serde_json::json!(["a", "b"])
        )
    );
    assert_eq!(entry("u_cursor").1, "by_uid");

    let tables = ["-t", "u_auto,u_digest,u_cursor.modified:s"];
    let run = pull_ok(&server, &db, &copy, &tables);
    assert_same(src, &db, dst, &copy, ALL);
    for t in ALL {
        assert_eq!(figure(&run, t, "rows applied"), 300, "{}", run.stderr);
    }
    // Changes, deletes included, by each method; --verify for the deletes
    // of the tables read by a cursor.
    src.exec(&format!(
        "USE {};
         UPDATE u_auto SET v = -v WHERE v % 7 = 0;
         DELETE FROM u_auto WHERE v BETWEEN 100 AND 104;
         INSERT INTO u_auto (email, nick, v) VALUES ('late@example.com', 'late', 1000);
         UPDATE u_digest SET v = 'changed' WHERE a = 5;
         DELETE FROM u_digest WHERE a = 6;
         UPDATE u_digest SET code = 'recoded1' WHERE a = 7 AND b = 'b1';
         UPDATE u_cursor SET v = 'new', modified = UNIX_TIMESTAMP() WHERE uid <= 10;
         DELETE FROM u_cursor WHERE uid = 20;",
        ident(&db)
    ));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let run = pull_ok(&server, &db, &copy, &tables);
    assert_eq!(
        figure(&run, "u_cursor", "rows applied"),
        10,
        "{}",
        run.stderr
    );
    assert_eq!(
        figure(&run, "u_digest", "rows deleted"),
        10,
        "{}",
        run.stderr
    );
    assert_eq!(
        figure(&run, "u_digest", "rows repaired"),
        11,
        "{}",
        run.stderr
    );
    let run = pull_ok(&server, &db, &copy, &[tables[0], tables[1], "--verify"]);
    assert_eq!(figure(&run, "u_auto", "rows deleted"), 5, "{}", run.stderr);
    assert_eq!(
        figure(&run, "u_cursor", "rows deleted"),
        1,
        "{}",
        run.stderr
    );
    assert_same(src, &db, dst, &copy, ALL);
}
