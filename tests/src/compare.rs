//! Comparing databases: a table's rows as `mariadb-dump` lines, `CHECKSUM
//! TABLE`, row counts, the assertion that two copies hold the same rows,
//! and copying a database's table definitions to the destination.

use std::process::{Command, Stdio};

use crate::{cell, ident, literal, lossy, qualified, run_sql, Sandbox};

/// The rows of `database.table` as `mariadb-dump` INSERTs, one line per
/// row, in primary key order, binary as hex and TIMESTAMPs in UTC.
pub fn dump(db: &Sandbox, database: &str, table: &str) -> String {
    let flags = format!(
        "--no-defaults -h127.0.0.1 -P{} -uroot --no-create-info --skip-extended-insert \
         --order-by-primary --hex-blob --tz-utc --skip-comments --skip-dump-date --compact",
        db.port
    );
    let out = Command::new("mariadb-dump")
        .args(flags.split(' '))
        .args([database, table])
        .stdin(Stdio::null())
        .output()
        .expect("cannot run mariadb-dump");
    let err = lossy(&out.stderr);
    assert!(
        out.status.success(),
        "mariadb-dump {database}.{table}: {err}"
    );
    // MariaDB >= 10.5.25 starts every dump with a "sandbox mode" guard
    // comment, even with --compact; dropping it leaves rows only.
    let text = lossy(&out.stdout);
    let rows = text.lines().filter(|l| !l.starts_with("/*M!999999"));
    rows.map(|l| format!("{l}\n")).collect()
}

/// `CHECKSUM TABLE`; `None` when the table does not exist.
pub fn checksum(db: &Sandbox, database: &str, table: &str) -> Option<String> {
    let sql = format!("CHECKSUM TABLE {}", qualified(database, table));
    cell(db.query_strings(&sql), 1)
}

/// Number of rows in `database.table`.
pub fn count(db: &Sandbox, database: &str, table: &str) -> u64 {
    let n = db.scalar(&format!(
        "SELECT COUNT(*) FROM {}",
        qualified(database, table)
    ));
    n.and_then(|n| n.parse().ok())
        .expect("COUNT(*) gave a number")
}

/// The lines around the first difference: enough to see what went wrong
/// without pasting a million-row dump into the test output.
fn first_difference(a: &str, b: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let i = (0..a.len().max(b.len()))
        .find(|&i| a.get(i) != b.get(i))
        .unwrap_or(0);
    let (na, nb) = (a.len(), b.len());
    let mut text = format!("{na} vs {nb} lines; first difference at line {}:\n", i + 1);
    for j in i.saturating_sub(1)..i + 3 {
        for (side, lines) in [("src", &a), ("dst", &b)] {
            if let Some(line) = lines.get(j) {
                let clipped: String = line.chars().take(300).collect();
                text.push_str(&format!("{side} {:>6}: {clipped}\n", j + 1));
            }
        }
    }
    text
}

/// Asserts that each table holds the same rows in both databases, by dump
/// (readable diff) and by `CHECKSUM TABLE` (catches what text might hide).
pub fn assert_same(src: &Sandbox, src_db: &str, dst: &Sandbox, dst_db: &str, tables: &[&str]) {
    for table in tables {
        let (a, b) = (dump(src, src_db, table), dump(dst, dst_db, table));
        assert!(a == b, "{table} differs: {}", first_difference(&a, &b));
        let (ca, cb) = (checksum(src, src_db, table), checksum(dst, dst_db, table));
        assert_eq!(ca, cb, "CHECKSUM TABLE {table} differs, dumps do not");
    }
}

/// Creates `dst_db` on `dst` with every base table of `src_db` (dropped and
/// recreated if present): the puller writes rows, never DDL. Foreign key
/// checks are off so that tables can come in any order.
pub fn copy_schema(src: &Sandbox, src_db: &str, dst: &Sandbox, dst_db: &str) {
    let tables = src.query_strings(&format!(
        "SELECT TABLE_NAME FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = {} AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
        literal(src_db)
    ));
    let mut conn = dst.conn();
    let mut run = |sql: String| run_sql(&mut conn, &sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
    run(format!(
        "SET foreign_key_checks = 0; CREATE DATABASE IF NOT EXISTS {0}; USE {0}",
        ident(dst_db)
    ));
    for table in tables.into_iter().flat_map(|r| r.into_iter().flatten()) {
        let show = format!("SHOW CREATE TABLE {}", qualified(src_db, &table));
        let ddl = cell(src.query_strings(&show), 1).unwrap_or_else(|| panic!("{show}: no DDL"));
        run(format!("DROP TABLE IF EXISTS {}; {ddl}", ident(&table)));
    }
}
