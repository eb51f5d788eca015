//! The `GET /<db>/` answer: the tables synced by their auto-updating
//! column, those that could be synced by a named cursor (each candidate
//! column, its kind, and what its declaration says about who sets it), and
//! every table with how it is synced when no cursor is named.

use std::collections::{BTreeMap, BTreeSet};

use mysql::prelude::Queryable;
use mysql::Value;

use dbdump_shared::sql::take;
use dbdump_shared::wire::{CursorCandidate, CursorTable, Method, TableEntry, TableList};

use crate::error::ApiError;
use crate::inspect::cursor::{self, candidates, index_leaders};
use crate::inspect::{self, ColumnMeta, TableMeta};
use crate::sql;

fn on_update_current_timestamp(c: &ColumnMeta) -> bool {
    c.extra
        .to_ascii_lowercase()
        .contains("on update current_timestamp")
}

/// The `GET /<db>/` answer: the tables synced by their auto-updating
/// column, those that could be synced by a named cursor, and every table
/// with how a client that names no cursor syncs it; each list parents
/// before children.
pub fn listing(conn: &mut impl Queryable, db: &str) -> Result<TableList, ApiError> {
    let edges = inspect::foreign_keys(conn, db)?;
    let all = inspect::in_order(inspect::tables(conn, db, None)?, &edges);
    let needs_candidates = all
        .iter()
        .any(|t| !t.key.is_empty() && !candidates(t).is_empty());
    let (declared, indexed) = if needs_candidates {
        let indexed: BTreeSet<(String, String)> = index_leaders(conn, db, None)?
            .into_iter()
            .map(|l| (l.table, l.leader))
            .collect();
        (declarations(conn, db)?, indexed)
    } else {
        Default::default()
    };
    let candidates_of = |t: &TableMeta| -> Vec<CursorCandidate> {
        if t.key.is_empty() {
            return Vec::new();
        }
        candidates(t)
            .into_iter()
            .map(|(c, kind)| {
                let at = (t.name.clone(), c.name.clone());
                CursorCandidate {
                    column: c.name.clone(),
                    sql_type: c.column_type.clone(),
                    kind: kind.to_string(),
                    nullable: c.nullable,
                    indexed: indexed.contains(&at),
                    default_current_timestamp: declared.get(&at).copied().unwrap_or_default(),
                    on_update_current_timestamp: on_update_current_timestamp(c),
                }
            })
            .collect()
    };
    let mut list = TableList {
        database: db.to_string(),
        tables: Vec::new(),
        cursor_tables: Vec::new(),
        every_table: Vec::with_capacity(all.len()),
    };
    for t in &all {
        let method = cursor::method(t);
        let candidates = candidates_of(t);
        if method == Ok(Method::Timestamp) {
            list.tables.push(t.info());
        } else if t.timestamp.is_none() && !candidates.is_empty() && method.is_ok() {
            list.cursor_tables.push(CursorTable {
                table: t.name.clone(),
                key: t.key_names().iter().map(|s| s.to_string()).collect(),
                candidates: candidates.clone(),
            });
        }
        list.every_table.push(TableEntry {
            table: t.name.clone(),
            method: method.clone().unwrap_or(Method::None),
            timestamp_column: t.cursor().map(|c| c.name.clone()),
            key: t.key_names().iter().map(|s| s.to_string()).collect(),
            key_index: t.key_index.clone(),
            cursors: candidates,
            why: method.err(),
        });
    }
    Ok(list)
}

/// Whether each DATETIME/TIMESTAMP column defaults to `CURRENT_TIMESTAMP`.
type Declared = BTreeMap<(String, String), bool>;

/// The declarations of every DATETIME/TIMESTAMP column of `db`, by (table, column).
fn declarations(conn: &mut impl Queryable, db: &str) -> Result<Declared, ApiError> {
    let rows: Vec<mysql::Row> = conn.exec(sql::TEMPORAL_COLUMNS, vec![Value::from(db)])?;
    let mut out = BTreeMap::new();
    for mut r in rows {
        let text = |r: &mut mysql::Row, i| take::<String>(r, i).map_err(ApiError::Internal);
        let (schema, table, column) = (text(&mut r, 0)?, text(&mut r, 1)?, text(&mut r, 2)?);
        let default = take::<Option<String>>(&mut r, 4).map_err(ApiError::Internal)?;
        // MariaDB says `current_timestamp()`, MySQL `CURRENT_TIMESTAMP`.
        let now = default.is_some_and(|d| d.to_ascii_lowercase().starts_with("current_timestamp"));
        if schema == db {
            out.insert((table, column), now);
        }
    }
    Ok(out)
}
