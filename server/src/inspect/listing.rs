//! The `GET /<db>/` answer: the tables synced as they are, then those that
//! could be synced by a named cursor with each candidate column and what
//! its declaration says about who sets it.

use std::collections::{BTreeMap, BTreeSet};

use mysql::prelude::Queryable;
use mysql::Value;

use dbdump_shared::sql::take;
use dbdump_shared::wire::{CursorCandidate, CursorTable, TableList};

use crate::error::ApiError;
use crate::inspect::cursor::{index_leaders, is_temporal, unsyncable_reason};
use crate::inspect::{self, ColumnMeta, TableMeta};
use crate::sql;

fn on_update_current_timestamp(c: &ColumnMeta) -> bool {
    c.extra
        .to_ascii_lowercase()
        .contains("on update current_timestamp")
}

/// The `GET /<db>/` answer: the tables synced as they are, then those that
/// could be synced by a named cursor, each list parents before children.
pub fn listing(conn: &mut impl Queryable, db: &str) -> Result<TableList, ApiError> {
    let all = inspect::tables(conn, db, None)?;
    let edges = inspect::foreign_keys(conn, db)?;
    let (automatic, others): (Vec<TableMeta>, Vec<TableMeta>) = all
        .into_iter()
        .partition(|t| unsyncable_reason(t).is_none());
    let cursorable: Vec<TableMeta> = others
        .into_iter()
        .filter(|t| t.timestamp.is_none() && !t.key.is_empty())
        .filter(|t| t.columns.iter().any(is_temporal))
        .collect();
    let mut cursor_tables = Vec::new();
    if !cursorable.is_empty() {
        let declared = declarations(conn, db)?;
        let indexed: BTreeSet<(String, String)> = index_leaders(conn, db, None)?
            .into_iter()
            .map(|l| (l.table, l.leader))
            .collect();
        for t in inspect::in_order(cursorable, &edges) {
            let candidates = t
                .columns
                .iter()
                .filter(|c| is_temporal(c))
                .map(|c| {
                    let at = (t.name.clone(), c.name.clone());
                    let (nullable, default_current_timestamp) =
                        declared.get(&at).copied().unwrap_or_default();
                    CursorCandidate {
                        column: c.name.clone(),
                        sql_type: c.column_type.clone(),
                        nullable,
                        indexed: indexed.contains(&at),
                        default_current_timestamp,
                        on_update_current_timestamp: on_update_current_timestamp(c),
                    }
                })
                .collect();
            cursor_tables.push(CursorTable {
                table: t.name.clone(),
                key: t.key_names().iter().map(|s| s.to_string()).collect(),
                candidates,
            });
        }
    }
    Ok(TableList {
        database: db.to_string(),
        tables: inspect::in_order(automatic, &edges)
            .iter()
            .map(TableMeta::info)
            .collect(),
        cursor_tables,
    })
}

/// What the declaration of a DATETIME/TIMESTAMP column says: whether it
/// is nullable, and whether it defaults to `CURRENT_TIMESTAMP`.
type Declared = BTreeMap<(String, String), (bool, bool)>;

/// The declarations of every DATETIME/TIMESTAMP column of `db`, by (table, column).
fn declarations(conn: &mut impl Queryable, db: &str) -> Result<Declared, ApiError> {
    let rows: Vec<mysql::Row> = conn.exec(sql::TEMPORAL_COLUMNS, vec![Value::from(db)])?;
    let mut out = BTreeMap::new();
    for mut r in rows {
        let text = |r: &mut mysql::Row, i| take::<String>(r, i).map_err(ApiError::Internal);
        let (schema, table, column) = (text(&mut r, 0)?, text(&mut r, 1)?, text(&mut r, 2)?);
        let nullable = text(&mut r, 3)?.eq_ignore_ascii_case("YES");
        let default = take::<Option<String>>(&mut r, 4).map_err(ApiError::Internal)?;
        // MariaDB says `current_timestamp()`, MySQL `CURRENT_TIMESTAMP`.
        let now = default.is_some_and(|d| d.to_ascii_lowercase().starts_with("current_timestamp"));
        if schema == db {
            out.insert((table, column), (nullable, now));
        }
    }
    Ok(out)
}
