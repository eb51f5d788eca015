//! Schema discovery: which databases are exposed, their base tables with
//! columns, auto-updating TIMESTAMP column and key (the primary key, else
//! the first UNIQUE key over NOT NULL columns, as InnoDB clusters such a
//! table by it). Names from requests are only ever compared against what
//! `information_schema` returns.

use std::collections::BTreeMap;

use mysql::prelude::Queryable;
use mysql::Value;

use dbdump_shared::cursor::CursorKind;
use dbdump_shared::sql::{take, HashClass};
use dbdump_shared::wire::{Encoding, TableInfo};

use crate::error::ApiError;
use crate::sql;

/// Schemas never exposed unless named in `--source-databases`.
pub const SYSTEM_SCHEMAS: &[&str] = &["mysql", "information_schema", "performance_schema", "sys"];

#[derive(Clone, Debug)]
pub struct ColumnMeta {
    pub name: String,
    pub column_type: String,
    pub data_type: String,
    pub charset: Option<String>,
    pub extra: String,
    pub fsp: u8,
    /// A virtual or stored generated column (never sent: the destination
    /// computes it).
    pub generated: bool,
    pub nullable: bool,
}

impl ColumnMeta {
    /// A column of the given type and `extra`, as the tests spell one.
    #[cfg(test)]
    pub fn plain(name: &str, data_type: &str, extra: &str) -> ColumnMeta {
        ColumnMeta {
            name: name.into(),
            column_type: data_type.into(),
            data_type: data_type.into(),
            charset: None,
            extra: extra.into(),
            fsp: 0,
            generated: false,
            nullable: false,
        }
    }

    /// The auto-updating TIMESTAMP forms of MySQL 8 (`DEFAULT_GENERATED on
    /// update CURRENT_TIMESTAMP[(n)]`) and MariaDB (`on update
    /// current_timestamp([n])`).
    pub fn is_auto_timestamp(&self) -> bool {
        self.data_type.eq_ignore_ascii_case("timestamp")
            && self
                .extra
                .to_ascii_lowercase()
                .contains("on update current_timestamp")
    }

    /// Whether EXTRA says generated (`VIRTUAL GENERATED`, `STORED
    /// GENERATED`; MariaDB also `PERSISTENT GENERATED`), not MySQL's
    /// `DEFAULT_GENERATED` of an expression default.
    pub fn is_generated(extra: &str) -> bool {
        let e = extra.to_ascii_lowercase();
        [
            "virtual generated",
            "stored generated",
            "persistent generated",
        ]
        .iter()
        .any(|g| e.contains(g))
    }

    /// How this column's values enter a row's digest hash.
    pub fn hash_class(&self) -> HashClass {
        HashClass::of(&self.data_type, self.charset.as_deref())
    }

    /// The wire encoding of this column's values, from its declared type (the
    /// stream itself takes it from the result metadata; both agree).
    pub fn encoding(&self) -> Encoding {
        Encoding::of(&self.data_type, self.charset.as_deref())
    }
}

#[derive(Clone, Debug)]
pub struct TableMeta {
    pub name: String,
    pub columns: Vec<ColumnMeta>,
    /// Index into `columns` of the first auto-updating TIMESTAMP column, or
    /// of the cursor a request named.
    pub timestamp: Option<usize>,
    /// How the values of that column hold time.
    pub cursor_kind: CursorKind,
    /// Indexes into `columns` of the key, in key order: the primary key,
    /// else the first UNIQUE key over NOT NULL columns; empty: no key.
    pub key: Vec<usize>,
    /// The index the key is (`PRIMARY` or the UNIQUE key's name).
    pub key_index: Option<String>,
    /// The narrowest index the timestamp column leads, if any.
    pub timestamp_index: Option<String>,
}

impl TableMeta {
    /// A table of these columns without a timestamp or key yet, as
    /// discovery (and tests) start one.
    pub fn new(name: String, columns: Vec<ColumnMeta>) -> TableMeta {
        TableMeta {
            name,
            columns,
            timestamp: None,
            cursor_kind: CursorKind::Temporal,
            key: Vec::new(),
            key_index: None,
            timestamp_index: None,
        }
    }

    /// The timestamp (or cursor) column; only for a table that has one.
    pub fn ts(&self) -> &ColumnMeta {
        &self.columns[self.timestamp.unwrap_or(0)]
    }

    /// The timestamp (or cursor) column, if the table is read by one.
    pub fn cursor(&self) -> Option<&ColumnMeta> {
        self.timestamp.map(|i| &self.columns[i])
    }

    /// Fractional digits of the cursor's values (0 without a cursor).
    pub fn cursor_fsp(&self) -> u8 {
        self.cursor().map_or(0, |c| self.cursor_kind.fsp(c.fsp))
    }

    pub fn key_names(&self) -> Vec<&str> {
        self.key
            .iter()
            .map(|&i| self.columns[i].name.as_str())
            .collect()
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    pub fn info(&self) -> TableInfo {
        TableInfo {
            table: self.name.clone(),
            timestamp_column: self.ts().name.clone(),
            key: self.key_names().iter().map(|s| s.to_string()).collect(),
            timestamp_indexed: self.timestamp_index.is_some(),
        }
    }
}

/// Databases this server exposes, sorted.
pub fn databases(
    conn: &mut impl Queryable,
    allowed: Option<&[String]>,
) -> Result<Vec<String>, ApiError> {
    let all = rows(conn, sql::SCHEMAS, Vec::new())?
        .into_iter()
        .map(|mut r| text(&mut r, 0))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(all
        .into_iter()
        .filter(|name| match allowed {
            Some(list) => list.iter().any(|a| a == name),
            None => !SYSTEM_SCHEMAS.iter().any(|s| s.eq_ignore_ascii_case(name)),
        })
        .collect())
}

/// Checks that `db` exists and is exposed, else 404 (the same answer for
/// both, so that probing does not reveal unexposed schemas).
pub fn require_database(
    conn: &mut impl Queryable,
    db: &str,
    allowed: Option<&[String]>,
) -> Result<(), ApiError> {
    if databases(conn, allowed)?.iter().any(|d| d == db) {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("database `{db}` not found")))
    }
}

fn rows(
    conn: &mut impl Queryable,
    query: &str,
    params: Vec<Value>,
) -> Result<Vec<mysql::Row>, ApiError> {
    Ok(conn.exec(query, params)?)
}

fn text(row: &mut mysql::Row, i: usize) -> Result<String, ApiError> {
    take::<String>(row, i).map_err(ApiError::Internal)
}

/// (schema, table, column) triples of a metadata query.
pub fn triples(
    conn: &mut impl Queryable,
    query: &str,
    params: Vec<Value>,
) -> Result<Vec<[String; 3]>, ApiError> {
    rows(conn, query, params)?
        .into_iter()
        .map(|mut r| Ok([text(&mut r, 0)?, text(&mut r, 1)?, text(&mut r, 2)?]))
        .collect()
}

/// All base tables of `db` (or only `only`), with their columns, primary
/// key and whether the timestamp column leads an index.
pub fn tables(
    conn: &mut impl Queryable,
    db: &str,
    only: Option<&str>,
) -> Result<Vec<TableMeta>, ApiError> {
    let one = only.is_some();
    let params: Vec<Value> = std::iter::once(Value::from(db))
        .chain(only.map(Value::from))
        .collect();
    // information_schema compares names case-insensitively; keep exact matches only.
    let exact = |s: &str, t: &str| s == db && only.is_none_or(|o| o == t);

    let mut by_name: BTreeMap<String, TableMeta> = BTreeMap::new();
    let with_schema_again = params.iter().cloned().chain([Value::from(db)]).collect();
    for mut r in rows(conn, &sql::columns(one), with_schema_again)? {
        let (schema, table) = (text(&mut r, 0)?, text(&mut r, 1)?);
        if !exact(&schema, &table) {
            continue;
        }
        let col = ColumnMeta {
            name: text(&mut r, 2)?,
            column_type: text(&mut r, 3)?,
            data_type: text(&mut r, 4)?,
            charset: take::<Option<String>>(&mut r, 5).map_err(ApiError::Internal)?,
            extra: text(&mut r, 6)?,
            fsp: take::<Option<u64>>(&mut r, 7)
                .map_err(ApiError::Internal)?
                .unwrap_or(0)
                .min(6) as u8,
            generated: false,
            nullable: text(&mut r, 8)?.eq_ignore_ascii_case("YES"),
        };
        let col = ColumnMeta {
            generated: ColumnMeta::is_generated(&col.extra),
            ..col
        };
        let t = by_name
            .entry(table.clone())
            .or_insert_with(|| TableMeta::new(table, Vec::new()));
        if t.timestamp.is_none() && col.is_auto_timestamp() {
            t.timestamp = Some(t.columns.len());
        }
        t.columns.push(col);
    }
    for [schema, table, column] in triples(conn, &sql::primary_keys(one), params.clone())? {
        if let Some(t) = by_name.get_mut(&table).filter(|_| exact(&schema, &table)) {
            if let Some(i) = t.column(&column) {
                t.key.push(i);
                t.key_index = Some("PRIMARY".into());
            }
        }
    }
    stand_in_keys(conn, &mut by_name, &params, &exact)?;
    let mut widths: BTreeMap<String, u64> = BTreeMap::new();
    for mut r in rows(conn, &sql::index_leaders(one), params)? {
        let (schema, table, index) = (text(&mut r, 0)?, text(&mut r, 1)?, text(&mut r, 2)?);
        let leader = take::<Option<String>>(&mut r, 3).map_err(ApiError::Internal)?;
        let width = take::<u64>(&mut r, 4).map_err(ApiError::Internal)?;
        let Some(t) = by_name.get_mut(&table).filter(|_| exact(&schema, &table)) else {
            continue;
        };
        if t.timestamp.is_none() || leader.as_deref() != Some(t.ts().name.as_str()) {
            continue;
        }
        // Narrowest first, then by name, whatever order the rows come in.
        let best = widths.get(&table).copied();
        let better = match (best, &t.timestamp_index) {
            (Some(w), Some(name)) => (width, &index) < (w, name),
            _ => true,
        };
        if better {
            widths.insert(table.clone(), width);
            t.timestamp_index = Some(index);
        }
    }
    Ok(by_name.into_values().collect())
}

/// For each table without a primary key, the first UNIQUE key (in the
/// server's key order) whose columns are all NOT NULL, whole (no prefix)
/// and not generated: the rows' identity, as InnoDB clusters by it.
fn stand_in_keys(
    conn: &mut impl Queryable,
    by_name: &mut BTreeMap<String, TableMeta>,
    params: &[Value],
    exact: &dyn Fn(&str, &str) -> bool,
) -> Result<(), ApiError> {
    if by_name.values().all(|t| !t.key.is_empty()) {
        return Ok(());
    }
    // (table) -> its unique keys in the order listed, each with
    // (seq, column, usable) parts.
    type Parts = Vec<(u64, String, bool)>;
    let mut keys: BTreeMap<String, Vec<(String, Parts)>> = BTreeMap::new();
    let one = params.len() > 1;
    for mut r in rows(conn, &sql::unique_keys(one), params.to_vec())? {
        let (schema, table, index) = (text(&mut r, 0)?, text(&mut r, 1)?, text(&mut r, 2)?);
        let seq = take::<u64>(&mut r, 3).map_err(ApiError::Internal)?;
        let column = text(&mut r, 4)?;
        let prefix = take::<Option<u64>>(&mut r, 5).map_err(ApiError::Internal)?;
        let nullable = text(&mut r, 6)?.eq_ignore_ascii_case("YES");
        if !exact(&schema, &table) {
            continue;
        }
        let list = keys.entry(table).or_default();
        let usable = prefix.is_none() && !nullable;
        match list.iter_mut().find(|(name, _)| *name == index) {
            Some((_, parts)) => parts.push((seq, column, usable)),
            None => list.push((index, vec![(seq, column, usable)])),
        }
    }
    for (table, list) in keys {
        let Some(t) = by_name.get_mut(&table).filter(|t| t.key.is_empty()) else {
            continue;
        };
        for (index, mut parts) in list {
            parts.sort_by_key(|(seq, _, _)| *seq);
            let columns: Option<Vec<usize>> = parts
                .iter()
                .map(|(_, c, usable)| {
                    let i = t.column(c)?;
                    (*usable && !t.columns[i].generated && !t.columns[i].nullable).then_some(i)
                })
                .collect();
            if let Some(columns) = columns {
                t.key = columns;
                t.key_index = Some(index);
                break;
            }
        }
    }
    Ok(())
}

/// The one table a request names, if it exists.
pub fn table(conn: &mut impl Queryable, db: &str, table: &str) -> Result<TableMeta, ApiError> {
    tables(conn, db, Some(table))?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::NotFound(format!("table `{db}`.`{table}` not found")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(data_type: &str, extra: &str) -> ColumnMeta {
        ColumnMeta::plain("c", data_type, extra)
    }

    #[test]
    fn recognises_both_auto_update_spellings() {
        assert!(col("timestamp", "on update current_timestamp()").is_auto_timestamp());
        assert!(col("timestamp", "on update current_timestamp(6)").is_auto_timestamp());
        assert!(
            col("timestamp", "DEFAULT_GENERATED on update CURRENT_TIMESTAMP").is_auto_timestamp()
        );
        assert!(col(
            "timestamp",
            "DEFAULT_GENERATED on update CURRENT_TIMESTAMP(3)"
        )
        .is_auto_timestamp());
        assert!(!col("timestamp", "DEFAULT_GENERATED").is_auto_timestamp());
        assert!(!col("datetime", "on update current_timestamp()").is_auto_timestamp());
    }

    #[test]
    fn generated_columns_but_not_generated_defaults() {
        assert!(ColumnMeta::is_generated("VIRTUAL GENERATED"));
        assert!(ColumnMeta::is_generated("STORED GENERATED"));
        assert!(ColumnMeta::is_generated("PERSISTENT GENERATED"));
        assert!(!ColumnMeta::is_generated("DEFAULT_GENERATED"));
        assert!(!ColumnMeta::is_generated(
            "DEFAULT_GENERATED on update CURRENT_TIMESTAMP"
        ));
        assert!(!ColumnMeta::is_generated(""));
    }

    #[test]
    fn encodings_from_declared_types() {
        assert_eq!(col("bigint", "").encoding(), Encoding::Number);
        assert_eq!(col("varbinary", "").encoding(), Encoding::Base64);
        assert_eq!(col("decimal", "").encoding(), Encoding::String);
        let mut c = col("varchar", "");
        c.charset = Some("binary".into());
        assert_eq!(c.encoding(), Encoding::Base64);
    }
}
