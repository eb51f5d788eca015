//! Every SQL text dbd_puller sends to the destination, built in one place.
//! Identifiers are quoted here; values are always `?` placeholders.

use dbdump_shared::sql::{
    descending, key_at_most, key_in, key_range, quote_ident, quote_list, quote_string, quote_table,
};

/// Session set-up of the destination connection:
/// - UTC, so TIMESTAMP values mean the same instant as on the source;
/// - foreign key checks off, as mysqldump does: rows arrive table by table
///   (and cycles like store <-> staff can't be ordered), while the source
///   already enforced the constraints;
/// - strict mode so a value that does not fit is an error, not a silent
///   truncation; no NO_ZERO_DATE so zero dates the source holds go in;
///   NO_AUTO_VALUE_ON_ZERO so an AUTO_INCREMENT key of 0 stays 0.
pub const SESSION_INIT: &[&str] = &[
    "SET NAMES utf8mb4",
    "SET time_zone = '+00:00'",
    "SET foreign_key_checks = 0",
    "SET sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'",
];

/// A `--dry-run` session: every transaction read-only, so that a write
/// that slipped through would be refused rather than made.
pub const READ_ONLY: &str = "SET SESSION TRANSACTION READ ONLY";

pub const MAX_ALLOWED_PACKET: &str = "SELECT @@max_allowed_packet";

/// Column names of one destination table (empty: no such table).
pub const TABLE_COLUMNS: &str =
    "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS \
     WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION";

/// The base tables of one destination database: which tables a changes
/// question can ask about (a missing one gets its stream, and its error).
pub const TABLE_NAMES: &str = "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
     WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'";

/// Every column of the destination database, table by table in order,
/// with its full type and EXTRA (generated or not).
pub const DATABASE_COLUMNS: &str =
    "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, EXTRA FROM information_schema.COLUMNS \
     WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION";

/// Name, data type, character set and full type of each column of one
/// destination table: what its digests hash, and how.
pub const COLUMN_TYPES: &str =
    "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, CHARACTER_SET_NAME, COLUMN_TYPE, EXTRA \
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION";

/// A table's comment: where a first copy in progress keeps its mark.
/// Parameters: schema, table.
pub const TABLE_COMMENT: &str = "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_COMMENT \
     FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?";

/// The tables of one database whose comment carries a first copy's mark:
/// one query a pass, rather than one a table. Parameter: schema.
pub const MARKED_TABLES: &str = "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
     WHERE TABLE_SCHEMA = ? AND TABLE_COMMENT LIKE 'dbdump:first-copy %'";

/// Sets a table's comment (a metadata change: no rebuild). DDL binds no
/// parameters, so the text is a quoted literal.
pub fn set_comment(db: &str, table: &str, comment: &str) -> String {
    format!(
        "ALTER TABLE {} COMMENT = {}",
        quote_table(db, table),
        quote_string(comment)
    )
}

/// The indexes of one destination table, part by part: the secondary
/// ones a first copy builds after its rows rather than during them. No
/// `ORDER BY`: information_schema lists the indexes in the table's own
/// order (the order `SHOW CREATE TABLE` shows), which building them again
/// must keep, and each index's parts in order. Parameters: schema, table.
pub const TABLE_INDEXES: &str =
    "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, INDEX_TYPE, COLUMN_NAME, SUB_PART, \
     COLLATION, SEQ_IN_INDEX FROM information_schema.STATISTICS \
     WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?";

/// A secondary (non-unique, B-tree) index as `ADD INDEX` builds it again.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
pub struct Index {
    pub name: String,
    pub parts: Vec<IndexPart>,
}

/// One column of an [`Index`]: its prefix length, if any, and whether it
/// is descending.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
pub struct IndexPart {
    pub column: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<u64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub desc: bool,
}

/// Drops the indexes a first copy builds after its rows.
pub fn drop_indexes(db: &str, table: &str, indexes: &[Index]) -> String {
    let drops: Vec<String> = indexes
        .iter()
        .map(|i| format!("DROP INDEX {}", quote_ident(&i.name)))
        .collect();
    format!(
        "ALTER TABLE {} {}",
        quote_table(db, table),
        drops.join(", ")
    )
}

/// The end of a first copy, in one statement: the indexes it dropped built
/// again (from the table's rows, by sorting them) and the table's own
/// comment back. DDL binds no parameters, so the comment is a literal.
pub fn finish_copy(db: &str, table: &str, indexes: &[Index], comment: &str) -> String {
    let mut changes: Vec<String> = indexes
        .iter()
        .map(|i| {
            let parts: Vec<String> = i
                .parts
                .iter()
                .map(|p| {
                    let mut part = quote_ident(&p.column);
                    if let Some(n) = p.prefix {
                        part.push_str(&format!("({n})"));
                    }
                    if p.desc {
                        part.push_str(" DESC");
                    }
                    part
                })
                .collect();
            format!("ADD INDEX {} ({})", quote_ident(&i.name), parts.join(", "))
        })
        .collect();
    changes.push(format!("COMMENT = {}", quote_string(comment)));
    format!(
        "ALTER TABLE {} {}",
        quote_table(db, table),
        changes.join(", ")
    )
}

/// The greatest key in `(after, until]` (either side open): where a range
/// of an interrupted first copy stopped. Parameters: as for `key_range`.
pub fn greatest_key_in(db: &str, table: &str, key: &[&str], after: bool, until: bool) -> String {
    format!(
        "SELECT {} FROM {}{} ORDER BY {} LIMIT 1",
        quote_list(key),
        quote_table(db, table),
        key_range(key, after, until),
        descending(key)
    )
}

/// Does the destination database exist?
pub const DATABASE_EXISTS: &str =
    "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?";

/// The bucket and hash of each destination row of one key range, where
/// bucket i holds the rows up to and including source key `bounds[i]`
/// (after `bounds[i-1]`) and bucket `bounds` the rest of the range. The
/// destination compares the keys, in its own collation, through a CASE
/// nested as a binary search (a handful of comparisons a row, whatever the
/// number of bounds); dbd_puller folds the hashes into digests. Parameters:
/// the bound values in the order [`bucket_case_order`] gives, then the
/// range's `after`, then its `until` (each laid out by `key_params`).
pub fn bucket_hashes(
    db: &str,
    table: &str,
    key: &[&str],
    hash: &str,
    after: bool,
    until: bool,
    bounds: usize,
) -> String {
    let mut bucket = String::new();
    nested_case(&key_at_most(key), 0, bounds, &mut bucket);
    format!(
        "SELECT {bucket}, {hash} FROM {}{}",
        quote_table(db, table),
        key_range(key, after, until)
    )
}

/// Buckets `lo..=hi` as a binary search over bounds `lo..hi`.
fn nested_case(at_most: &str, lo: usize, hi: usize, out: &mut String) {
    if lo == hi {
        out.push_str(&lo.to_string());
        return;
    }
    let mid = (lo + hi) / 2;
    out.push_str(&format!("CASE WHEN {at_most} THEN "));
    nested_case(at_most, lo, mid, out);
    out.push_str(" ELSE ");
    nested_case(at_most, mid + 1, hi, out);
    out.push_str(" END");
}

/// The order in which [`bucket_hashes`] takes the bounds' parameters: the
/// bound each CASE compares with, as the text reads.
pub fn bucket_case_order(bounds: usize) -> Vec<usize> {
    fn walk(lo: usize, hi: usize, out: &mut Vec<usize>) {
        if lo == hi {
            return;
        }
        let mid = (lo + hi) / 2;
        out.push(mid);
        walk(lo, mid, out);
        walk(mid + 1, hi, out);
    }
    let mut out = Vec::with_capacity(bounds);
    walk(0, bounds, &mut out);
    out
}

/// Starts and ends the transaction that replaces a keyless table's rows
/// (readers see the old rows until it commits, then the new ones).
pub const BEGIN: &str = "START TRANSACTION";
pub const COMMIT: &str = "COMMIT";
pub const ROLLBACK: &str = "ROLLBACK";

/// Deletes every row of a table (inside the replacing transaction).
pub fn delete_all(db: &str, table: &str) -> String {
    format!("DELETE FROM {}", quote_table(db, table))
}

/// Deletes `n` rows by primary key: `k IN (?, …)` for a one-column key,
/// else a flat OR of equalities. Parameters: each key's values in order.
pub fn delete_keys(db: &str, table: &str, key: &[&str], n: usize) -> String {
    format!(
        "DELETE FROM {} WHERE {}",
        quote_table(db, table),
        key_in(key, n)
    )
}

/// Which of `mine` destination keys equal one of `theirs` source keys by
/// the destination's own comparison (its collation: `'Bob'` and `'bob'`
/// are one key to a case-insensitive one, and so are `'a'` and `'a '` to a
/// PAD SPACE one). Parameters: `mine`'s values, then `theirs`'.
pub fn keys_equal_to(db: &str, table: &str, key: &[&str], mine: usize, theirs: usize) -> String {
    format!(
        "SELECT {} FROM {} WHERE {} AND {}",
        quote_list(key),
        quote_table(db, table),
        key_in(key, mine),
        key_in(key, theirs)
    )
}

/// Whether a table has a row at all: `1` or nothing.
pub fn any_row(db: &str, table: &str) -> String {
    format!("SELECT 1 FROM {} LIMIT 1", quote_table(db, table))
}

/// The destination's newest (timestamp, key): where the next stream starts.
/// With `bounded` (an integer or text cursor), only among the values that
/// are times: parameters, the least and the greatest such value.
pub fn resume_point(db: &str, table: &str, ts: &str, key: &[String], bounded: bool) -> String {
    let mut cols = vec![ts.to_string()];
    cols.extend(key.iter().cloned());
    let order = descending(&cols);
    let t = quote_ident(ts);
    let filter = if bounded {
        format!("{t} >= ? AND {t} <= ?")
    } else {
        format!("{t} IS NOT NULL")
    };
    format!(
        "SELECT {} FROM {} WHERE {filter} ORDER BY {order} LIMIT 1",
        quote_list(&cols),
        quote_table(db, table),
    )
}

/// Multi-row upsert of `rows` rows. Every column the stream carries is
/// assigned on update, the timestamp included, so the destination's own
/// ON UPDATE CURRENT_TIMESTAMP never fires for synced rows. The key columns
/// too: a row met by a key its collation finds equal (`'bob'` for `'Bob'`)
/// takes the source's spelling, and one met by another unique key takes
/// the source's key, instead of keeping a key the source no longer has.
pub fn upsert(db: &str, table: &str, columns: &[String], rows: usize) -> String {
    let one = format!("({})", vec!["?"; columns.len()].join(", "));
    let values = vec![one.as_str(); rows].join(", ");
    let assignments = columns
        .iter()
        .map(|c| {
            let q = quote_ident(c);
            format!("{q} = VALUES({q})")
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO {} ({}) VALUES {values} ON DUPLICATE KEY UPDATE {assignments}",
        quote_table(db, table),
        quote_list(columns)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn deferred_indexes() {
        let ix = vec![
            Index {
                name: "by`ts".into(),
                parts: vec![IndexPart {
                    column: "ts".into(),
                    prefix: None,
                    desc: false,
                }],
            },
            Index {
                name: "note".into(),
                parts: vec![
                    IndexPart {
                        column: "note".into(),
                        prefix: Some(10),
                        desc: false,
                    },
                    IndexPart {
                        column: "id".into(),
                        prefix: None,
                        desc: true,
                    },
                ],
            },
        ];
        assert_eq!(
            drop_indexes("d", "t", &ix),
            "ALTER TABLE `d`.`t` DROP INDEX `by``ts`, DROP INDEX `note`"
        );
        assert_eq!(
            finish_copy("d", "t", &ix, "it's"),
            "ALTER TABLE `d`.`t` ADD INDEX `by``ts` (`ts`), ADD INDEX `note` (`note`(10), `id` DESC), \
             COMMENT = 'it''s'"
        );
        assert_eq!(
            finish_copy("d", "t", &[], ""),
            "ALTER TABLE `d`.`t` COMMENT = ''"
        );
        let json = serde_json::to_string(&ix[0]).unwrap();
        assert_eq!(json, r#"{"name":"by`ts","parts":[{"column":"ts"}]}"#);
    }

    #[test]
    fn resume_query() {
        assert_eq!(
            resume_point("d", "t", "ts", &s(&["a", "b"]), false),
            "SELECT `ts`, `a`, `b` FROM `d`.`t` WHERE `ts` IS NOT NULL ORDER BY `ts` DESC, `a` DESC, `b` DESC LIMIT 1"
        );
        assert_eq!(
            resume_point("d", "t", "m", &s(&["id"]), true),
            "SELECT `m`, `id` FROM `d`.`t` WHERE `m` >= ? AND `m` <= ? ORDER BY `m` DESC, `id` DESC LIMIT 1"
        );
        assert_eq!(any_row("d", "t`"), "SELECT 1 FROM `d`.`t``` LIMIT 1");
    }

    #[test]
    fn digest_queries() {
        let q = bucket_hashes("d", "t", &["id"], "H", true, false, 3);
        assert_eq!(
            q,
            "SELECT CASE WHEN `id` <= ? THEN CASE WHEN `id` <= ? THEN 0 ELSE 1 END \
             ELSE CASE WHEN `id` <= ? THEN 2 ELSE 3 END END, H FROM `d`.`t` WHERE `id` > ?"
        );
        assert_eq!(bucket_case_order(3), [1, 0, 2]);
        assert_eq!(bucket_case_order(0), Vec::<usize>::new());
        for n in 0..40 {
            let mut order = bucket_case_order(n);
            assert_eq!(
                bucket_hashes("d", "t", &["id"], "H", false, false, n)
                    .matches('?')
                    .count(),
                n
            );
            order.sort_unstable();
            assert_eq!(order, (0..n).collect::<Vec<_>>());
        }
        let q = bucket_hashes("d", "t", &["a", "b"], "H", true, true, 0);
        assert_eq!(
            q,
            "SELECT 0, H FROM `d`.`t` WHERE (`a` > ? OR `a` = ? AND `b` > ?) AND (`a` < ? OR `a` = ? AND `b` <= ?)"
        );
        assert_eq!(
            keys_equal_to("d", "t", &["id"], 1, 2),
            "SELECT `id` FROM `d`.`t` WHERE `id` IN (?) AND `id` IN (?, ?)"
        );
        assert_eq!(delete_all("d", "t`"), "DELETE FROM `d`.`t```");
        assert_eq!(
            delete_keys("d", "t", &["id"], 3),
            "DELETE FROM `d`.`t` WHERE `id` IN (?, ?, ?)"
        );
        assert_eq!(
            delete_keys("d`", "t", &["a", "b"], 2),
            "DELETE FROM `d```.`t` WHERE ((`a` = ? AND `b` = ?) OR (`a` = ? AND `b` = ?))"
        );
    }

    #[test]
    fn first_copy_marks_and_ranges() {
        assert_eq!(
            set_comment("d", "t", "it's"),
            "ALTER TABLE `d`.`t` COMMENT = 'it''s'"
        );
        assert_eq!(
            greatest_key_in("d", "t", &["a", "b"], true, true),
            "SELECT `a`, `b` FROM `d`.`t` WHERE (`a` > ? OR `a` = ? AND `b` > ?) AND \
             (`a` < ? OR `a` = ? AND `b` <= ?) ORDER BY `a` DESC, `b` DESC LIMIT 1"
        );
        assert_eq!(
            greatest_key_in("d", "t", &["id"], false, false),
            "SELECT `id` FROM `d`.`t` ORDER BY `id` DESC LIMIT 1"
        );
    }

    #[test]
    fn upserts() {
        let q = upsert("d", "t", &s(&["id", "v", "ts"]), 2);
        assert_eq!(
            q,
            "INSERT INTO `d`.`t` (`id`, `v`, `ts`) VALUES (?, ?, ?), (?, ?, ?) \
             ON DUPLICATE KEY UPDATE `id` = VALUES(`id`), `v` = VALUES(`v`), `ts` = VALUES(`ts`)"
        );
        let q = upsert("d`x", "t", &s(&["c`"]), 1);
        assert!(q.starts_with("INSERT INTO `d``x`.`t` (`c```)"), "{q}");
    }
}
