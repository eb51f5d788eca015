//! SQL helpers: names no other test uses, quoting identifiers and string
//! literals, and running statements to read their rows as text.

use mysql::prelude::Queryable;

use crate::{lossy, next_id};

/// Rows as the text protocol gives them: every value as text, or NULL.
pub type Rows = Vec<Vec<Option<String>>>;

/// Column `col` of the first row, if any and not NULL.
pub(crate) fn cell(rows: Rows, col: usize) -> Option<String> {
    rows.into_iter().next()?.into_iter().nth(col)?
}

/// `prefix` plus pid and counter, lower-cased to `[a-z0-9_]`: a database or
/// table name that no other test (or test process) uses.
pub fn unique_name(prefix: &str) -> String {
    let name = format!("{prefix}_{}", next_id()).to_ascii_lowercase();
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Quotes an identifier for SQL.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `` `database`.`table` ``, quoted for SQL.
pub fn qualified(database: &str, table: &str) -> String {
    format!("{}.{}", ident(database), ident(table))
}

/// Quotes a string literal for SQL.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Runs `sql` and returns the first result set with columns. Reads every
/// result set: `query_drop` would silently ignore an error in any statement
/// but the first.
pub(crate) fn run_sql(conn: &mut mysql::Conn, sql: &str) -> mysql::Result<Rows> {
    let text = |v| match v {
        mysql::Value::NULL => None,
        mysql::Value::Bytes(b) => Some(lossy(&b)),
        // The text protocol sends nothing else; stay readable if it did.
        other => Some(other.as_sql(true)),
    };
    let mut result = conn.query_iter(sql)?;
    let mut first = None;
    loop {
        let has_columns = !result.columns().as_ref().is_empty();
        let Some(set) = result.iter() else { break };
        let rows = set.map(|row| Ok(mysql::Row::unwrap(row?).into_iter().map(text).collect()));
        let rows = rows.collect::<mysql::Result<Rows>>()?;
        if has_columns && first.is_none() {
            first = Some(rows);
        }
    }
    Ok(first.unwrap_or_default())
}
