//! Every SQL text dbd_puller sends to the destination, built in one place.
//! Identifiers are quoted here; values are always `?` placeholders.

use dbdump_shared::sql::{quote_ident, quote_list, quote_table};

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

pub const MAX_ALLOWED_PACKET: &str = "SELECT @@max_allowed_packet";

/// Column names of one destination table (empty: no such table).
pub const TABLE_COLUMNS: &str =
    "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS \
     WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION";

/// The destination's newest (timestamp, key): where the next stream starts.
pub fn resume_point(db: &str, table: &str, ts: &str, key: &[String]) -> String {
    let mut cols = vec![ts.to_string()];
    cols.extend(key.iter().cloned());
    let order = cols
        .iter()
        .map(|c| format!("{} DESC", quote_ident(c)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {} FROM {} WHERE {} IS NOT NULL ORDER BY {order} LIMIT 1",
        quote_list(&cols),
        quote_table(db, table),
        quote_ident(ts)
    )
}

/// Multi-row upsert of `rows` rows. Every column the stream carries is
/// assigned on update, the timestamp included, so the destination's own
/// ON UPDATE CURRENT_TIMESTAMP never fires for synced rows. Key columns are
/// left alone on update unless nothing else is there to set.
pub fn upsert(db: &str, table: &str, columns: &[String], key: &[String], rows: usize) -> String {
    let one = format!("({})", vec!["?"; columns.len()].join(", "));
    let values = vec![one.as_str(); rows].join(", ");
    let mut update: Vec<&String> = columns.iter().filter(|c| !key.contains(c)).collect();
    if update.is_empty() {
        update = columns.iter().collect();
    }
    let assignments = update
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
    fn resume_query() {
        assert_eq!(
            resume_point("d", "t", "ts", &s(&["a", "b"])),
            "SELECT `ts`, `a`, `b` FROM `d`.`t` WHERE `ts` IS NOT NULL ORDER BY `ts` DESC, `a` DESC, `b` DESC LIMIT 1"
        );
    }

    #[test]
    fn upserts() {
        let q = upsert("d", "t", &s(&["id", "v", "ts"]), &s(&["id"]), 2);
        assert_eq!(
            q,
            "INSERT INTO `d`.`t` (`id`, `v`, `ts`) VALUES (?, ?, ?), (?, ?, ?) \
             ON DUPLICATE KEY UPDATE `v` = VALUES(`v`), `ts` = VALUES(`ts`)"
        );
        let q = upsert("d", "t", &s(&["a", "ts"]), &s(&["a", "ts"]), 1);
        assert!(
            q.ends_with("UPDATE `a` = VALUES(`a`), `ts` = VALUES(`ts`)"),
            "{q}"
        );
        let q = upsert("d`x", "t", &s(&["c`"]), &s(&["c`"]), 1);
        assert!(q.starts_with("INSERT INTO `d``x`.`t` (`c```)"), "{q}");
    }
}
