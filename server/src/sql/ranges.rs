//! The SQL of the ranges request: the least and greatest value of a key's
//! first column, the greatest key at or below a value of it, every key in
//! order (when the first column is no integer to divide), and the
//! optimizer's estimate of a table's rows.

use dbdump_shared::sql::{descending, quote_ident, quote_list, quote_table};

/// `MIN` and `MAX` of the key's first column `first` (read from the ends of
/// the key's index).
pub fn first_column_bounds(db: &str, table: &str, first: &str) -> String {
    let c = quote_ident(first);
    format!("SELECT MIN({c}), MAX({c}) FROM {}", quote_table(db, table))
}

/// The greatest key whose first column is at most `?`, through the key's
/// index: one index dive.
pub fn greatest_key_up_to(db: &str, table: &str, key: &[&str], index: &str) -> String {
    format!(
        "SELECT {} FROM {} FORCE INDEX ({}) WHERE {} <= ? ORDER BY {} LIMIT 1",
        quote_list(key),
        quote_table(db, table),
        quote_ident(index),
        quote_ident(key[0]),
        descending(key)
    )
}

/// Every key in key order, through the key's index.
pub fn keys_in_order(db: &str, table: &str, key: &[&str], index: &str) -> String {
    format!(
        "SELECT {} FROM {} FORCE INDEX ({}) ORDER BY {}",
        quote_list(key),
        quote_table(db, table),
        quote_ident(index),
        quote_list(key)
    )
}

/// The optimizer's estimate of a table's rows. Parameters: schema, table.
pub const TABLE_ROWS: &str =
    "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES \
     WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_queries() {
        assert_eq!(
            first_column_bounds("d", "t", "a`"),
            "SELECT MIN(`a```), MAX(`a```) FROM `d`.`t`"
        );
        assert_eq!(
            greatest_key_up_to("d", "t", &["a", "b"], "PRIMARY"),
            "SELECT `a`, `b` FROM `d`.`t` FORCE INDEX (`PRIMARY`) WHERE `a` <= ? \
             ORDER BY `a` DESC, `b` DESC LIMIT 1"
        );
        assert_eq!(
            keys_in_order("d", "t", &["id"], "uk"),
            "SELECT `id` FROM `d`.`t` FORCE INDEX (`uk`) ORDER BY `id`"
        );
    }
}
