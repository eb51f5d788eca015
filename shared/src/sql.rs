//! SQL helpers both sides need: quoting identifiers, and reading result rows
//! without the driver's panicking conversions. Identifiers are quoted only
//! after they were found in `information_schema`; values never go through
//! here, they are bound as statement parameters.

use std::time::Duration;

use mysql::prelude::FromValue;
use mysql::{OptsBuilder, Row};

/// Where and how to reach a MySQL/MariaDB server: both sides connect the
/// same way, over TCP to exactly the host given (even "localhost"), with
/// their own session set-up statements.
pub struct Endpoint<'a> {
    pub host: &'a str,
    pub port: u16,
    pub user: &'a str,
    pub password: Option<&'a str>,
    pub init: &'a [&'a str],
    /// Longest wait for a reply (a stalled server is an error, not a hang).
    pub io_timeout: Duration,
}

impl Endpoint<'_> {
    pub fn opts(&self) -> OptsBuilder {
        OptsBuilder::new()
            .ip_or_hostname(Some(self.host.to_string()))
            .tcp_port(self.port)
            .user(Some(self.user.to_string()))
            .pass(self.password.map(str::to_string))
            .prefer_socket(false)
            .tcp_connect_timeout(Some(Duration::from_secs(15)))
            .read_timeout(Some(self.io_timeout))
            .write_timeout(Some(self.io_timeout))
            .init(self.init.to_vec())
    }

    /// `user@host:port`, for messages.
    pub fn label(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }
}

/// Takes column `i` of `row` as `T`, with an error (never a panic) when the
/// value is missing or of another type.
pub fn take<T: FromValue>(row: &mut Row, i: usize) -> Result<T, String> {
    match row.take_opt::<T, usize>(i) {
        Some(Ok(v)) => Ok(v),
        // The driver's text would show the value's Debug form.
        Some(Err(e)) => Err(format!(
            "unexpected value {} in result column {i}",
            e.0.as_sql(true)
        )),
        None => Err(format!("result has no column {i}")),
    }
}

/// Quotes an identifier with backticks, doubling any backtick inside it.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('`');
    for c in name.chars() {
        if c == '`' {
            out.push('`');
        }
        out.push(c);
    }
    out.push('`');
    out
}

/// A string literal, for the one place where a value cannot be bound: a
/// table's `COMMENT` in DDL. Backslashes, quotes and NUL are escaped (the
/// sessions never set `NO_BACKSLASH_ESCAPES`).
pub fn quote_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `db`.`table`
pub fn quote_table(db: &str, table: &str) -> String {
    format!("{}.{}", quote_ident(db), quote_ident(table))
}

/// Comma-separated quoted identifiers.
pub fn quote_list<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|n| quote_ident(n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An `ORDER BY` list of quoted identifiers, each descending: the greatest
/// (key) first.
pub fn descending<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|n| format!("{} DESC", quote_ident(n.as_ref())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How one column's value enters a row's hash text. Each side decides from
/// its own column definition, so that a text column stored in another
/// character set on the destination still hashes the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashClass {
    /// Text in any character set: its length in characters, then its UTF-8.
    Text,
    /// Raw bytes (BINARY, BLOB, BIT, GEOMETRY, the binary character set):
    /// their length, then the bytes.
    Binary,
    /// FLOAT, widened to DOUBLE so that every bit shows in its text
    /// (MySQL prints a FLOAT with 6 digits only).
    Float,
    /// Numbers, DECIMAL, dates and times: their text never holds the
    /// separator, so it goes in as it is (TIMESTAMPs in the UTC session).
    Plain,
}

impl HashClass {
    /// The class of a column from `information_schema.COLUMNS`' DATA_TYPE
    /// and CHARACTER_SET_NAME.
    pub fn of(data_type: &str, charset: Option<&str>) -> HashClass {
        match data_type.to_ascii_lowercase().as_str() {
            "float" => HashClass::Float,
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "bit"
            | "geometry" | "point" | "linestring" | "polygon" | "multipoint"
            | "multilinestring" | "multipolygon" | "geometrycollection" | "geomcollection" => {
                HashClass::Binary
            }
            "json" => HashClass::Text,
            _ => match charset {
                Some(c) if c.eq_ignore_ascii_case("binary") => HashClass::Binary,
                Some(_) => HashClass::Text,
                None => HashClass::Plain,
            },
        }
    }
}

/// The 32-bit hash of one row, as SQL: `CRC32` of a text that tells every
/// value apart from every other, NULL from `''` from `'NULL'` included.
/// Values are joined by `|`; text and bytes go in as their own CRC32 (a
/// number: a `|` inside them is harmless, and long values cost one pass);
/// numbers, decimals, dates and times as MySQL prints them (no `|` in
/// those); a NULL as an empty field, which no value prints as. Both sides
/// build it with this function, so equal rows hash equal; the sessions'
/// UTC time zone makes TIMESTAMPs print the same. A key digest
/// (`nullable: false`) leaves out the NULL handling: primary key columns
/// are never NULL.
pub fn row_hash(columns: &[(&str, HashClass)], nullable: bool) -> String {
    let pieces: Vec<String> = columns
        .iter()
        .map(|(name, class)| {
            let c = quote_ident(name);
            let value = match class {
                HashClass::Text => format!("CRC32(CONVERT({c} USING utf8mb4))"),
                HashClass::Binary => format!("CRC32({c})"),
                HashClass::Float => format!("({c} + 0e0)"),
                HashClass::Plain => c,
            };
            if nullable {
                format!("IFNULL({value}, '')")
            } else {
                value
            }
        })
        .collect();
    format!("CRC32(CONCAT_WS('|', {}))", pieces.join(", "))
}

/// `(key) > (?, …)` in keyset order, spelled as a flat OR of ANDs so that
/// the optimizer makes ranges of the primary key of it. Parameters: see
/// [`key_params`].
pub fn key_after(key: &[&str]) -> String {
    key_compare(key, ">", ">")
}

/// `(key) <= (?, …)`, the same way.
pub fn key_at_most(key: &[&str]) -> String {
    key_compare(key, "<", "<=")
}

/// ` WHERE` the key lies in `(after, until]`, either side unbounded (empty
/// when both are). Parameters: `after`'s values, then `until`'s, each laid
/// out by [`key_params`].
pub fn key_range(key: &[&str], after: bool, until: bool) -> String {
    let mut parts = Vec::new();
    if after {
        parts.push(key_after(key));
    }
    if until {
        parts.push(key_at_most(key));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", parts.join(" AND "))
    }
}

/// The key and `hash` of every row whose key lies in `(after, until]`, in
/// key order: what both sides fold into digests, over the same ranges.
/// `force_index` reads through the key's index (the source's snapshot
/// reads: `PRIMARY`, or the UNIQUE key that stands in for it); without it
/// the optimizer chooses (the destination). Parameters: as for
/// [`key_range`].
pub fn key_range_hashes(
    db: &str,
    table: &str,
    key: &[&str],
    hash: &str,
    after: bool,
    until: bool,
    force_index: Option<&str>,
) -> String {
    format!(
        "SELECT {}, {hash} FROM {}{}{} ORDER BY {}",
        quote_list(key),
        quote_table(db, table),
        force_index
            .map(|i| format!(" FORCE INDEX ({})", quote_ident(i)))
            .unwrap_or_default(),
        key_range(key, after, until),
        quote_list(key)
    )
}

/// `key IN (…)` for `n` keys: `k IN (?, …)` for a one-column key, else a
/// flat OR of equalities (which the optimizer turns into point ranges).
/// Parameters: each key's values, in key order.
pub fn key_in(key: &[&str], n: usize) -> String {
    if let [k] = key {
        return format!("{} IN ({})", quote_ident(k), vec!["?"; n].join(", "));
    }
    let one = key
        .iter()
        .map(|k| format!("{} = ?", quote_ident(k)))
        .collect::<Vec<_>>()
        .join(" AND ");
    format!("({})", vec![format!("({one})"); n].join(" OR "))
}

fn key_compare(key: &[&str], inner: &str, last: &str) -> String {
    let alternatives: Vec<String> = (0..key.len())
        .map(|i| {
            let mut parts: Vec<String> = key[..i]
                .iter()
                .map(|k| format!("{} = ?", quote_ident(k)))
                .collect();
            let op = if i + 1 == key.len() { last } else { inner };
            parts.push(format!("{} {op} ?", quote_ident(key[i])));
            parts.join(" AND ")
        })
        .collect();
    if alternatives.len() == 1 {
        return alternatives.into_iter().next().unwrap_or_default();
    }
    format!("({})", alternatives.join(" OR "))
}

/// The parameters of [`key_after`] and [`key_at_most`] for key `values`:
/// for each key column i, the values of columns 0..=i.
pub fn key_params<T: Clone>(values: &[T]) -> Vec<T> {
    (0..values.len())
        .flat_map(|i| values[..=i].iter().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_doubles_backticks() {
        assert_eq!(quote_ident("plain"), "`plain`");
        assert_eq!(quote_ident("a`b"), "`a``b`");
        assert_eq!(quote_ident("`"), "````");
        assert_eq!(
            quote_ident("x` ; DROP TABLE y; --"),
            "`x`` ; DROP TABLE y; --`"
        );
        assert_eq!(quote_table("d b", "t/1"), "`d b`.`t/1`");
        assert_eq!(quote_list(&["a", "b`"]), "`a`, `b```");
        assert_eq!(descending(&["a", "b`"]), "`a` DESC, `b``` DESC");
        assert_eq!(
            quote_string(r"it's a \ and \' x"),
            r"'it''s a \\ and \\'' x'"
        );
        assert_eq!(quote_string("nul\0"), r"'nul\0'");
    }

    #[test]
    fn row_hashes_by_class() {
        let h = row_hash(
            &[
                ("id", HashClass::Plain),
                ("t`x", HashClass::Text),
                ("b", HashClass::Binary),
                ("f", HashClass::Float),
            ],
            true,
        );
        assert_eq!(
            h,
            "CRC32(CONCAT_WS('|', IFNULL(`id`, ''), IFNULL(CRC32(CONVERT(`t``x` USING utf8mb4)), ''), \
             IFNULL(CRC32(`b`), ''), IFNULL((`f` + 0e0), '')))"
        );
        assert_eq!(
            row_hash(&[("a", HashClass::Plain), ("b", HashClass::Plain)], false),
            "CRC32(CONCAT_WS('|', `a`, `b`))"
        );
        assert_eq!(HashClass::of("varchar", Some("latin1")), HashClass::Text);
        assert_eq!(HashClass::of("varchar", Some("binary")), HashClass::Binary);
        assert_eq!(HashClass::of("BLOB", None), HashClass::Binary);
        assert_eq!(HashClass::of("json", None), HashClass::Text);
        assert_eq!(HashClass::of("decimal", None), HashClass::Plain);
        assert_eq!(HashClass::of("float", None), HashClass::Float);
    }

    #[test]
    fn key_lists() {
        assert_eq!(key_in(&["id"], 3), "`id` IN (?, ?, ?)");
        assert_eq!(
            key_in(&["a", "b"], 2),
            "((`a` = ? AND `b` = ?) OR (`a` = ? AND `b` = ?))"
        );
    }

    #[test]
    fn keyset_comparisons() {
        assert_eq!(key_after(&["id"]), "`id` > ?");
        assert_eq!(key_at_most(&["id"]), "`id` <= ?");
        assert_eq!(
            key_after(&["a", "b", "c"]),
            "(`a` > ? OR `a` = ? AND `b` > ? OR `a` = ? AND `b` = ? AND `c` > ?)"
        );
        assert_eq!(
            key_at_most(&["a", "b"]),
            "(`a` < ? OR `a` = ? AND `b` <= ?)"
        );
        assert_eq!(key_params(&[1, 2, 3]), [1, 1, 2, 1, 2, 3]);
        assert_eq!(
            key_after(&["a", "b"]).matches('?').count(),
            key_params(&[1, 2]).len()
        );
    }

    #[test]
    fn digest_queries_read_key_ranges_in_key_order() {
        let q = key_range_hashes("d", "t", &["a", "b"], "H", true, true, Some("PRIMARY"));
        assert_eq!(
            q,
            "SELECT `a`, `b`, H FROM `d`.`t` FORCE INDEX (`PRIMARY`) WHERE (`a` > ? OR `a` = ? AND `b` > ?) \
             AND (`a` < ? OR `a` = ? AND `b` <= ?) ORDER BY `a`, `b`"
        );
        let q = key_range_hashes("d", "t", &["id"], "H", false, false, Some("email`x"));
        assert_eq!(
            q,
            "SELECT `id`, H FROM `d`.`t` FORCE INDEX (`email``x`) ORDER BY `id`"
        );
        assert!(
            key_range_hashes("d", "t", &["id"], "H", false, true, Some("PRIMARY"))
                .contains("WHERE `id` <= ? ORDER")
        );
        // The destination's, left to its optimizer.
        assert_eq!(
            key_range_hashes("d", "t", &["id"], "H", false, true, None),
            "SELECT `id`, H FROM `d`.`t` WHERE `id` <= ? ORDER BY `id`"
        );
    }
}
