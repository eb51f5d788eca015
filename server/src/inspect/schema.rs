//! A table's definition (`GET /<db>/<table>/schema`), read from
//! `information_schema` and sent in structured parts: columns with their
//! types, character sets, defaults, `ON UPDATE`, generated expressions;
//! keys; foreign keys; CHECK constraints; engine and table options. Triggers,
//! AUTO_INCREMENT counters and DEFINERs are not part of it.

use mysql::prelude::Queryable;

use dbdump_shared::schema::{
    CheckDefinition, ColumnDefinition, ForeignKeyDefinition, Generated, IndexColumn,
    IndexDefinition, IndexKind, TableDefinition,
};
use dbdump_shared::sql::take;
use dbdump_shared::wire::PROTOCOL;

use crate::error::ApiError;
use crate::sql;

type Row = mysql::Row;

fn rows(
    conn: &mut impl Queryable,
    query: &str,
    db: &str,
    table: &str,
) -> Result<Vec<Row>, ApiError> {
    let all: Vec<Row> = conn.exec(query, (db, table))?;
    // information_schema compares names without regard to case: keep exact
    // matches only (the first two columns are always schema and table).
    Ok(all
        .into_iter()
        .filter(|r| {
            let name = |i| r.get_opt::<String, usize>(i).and_then(Result::ok);
            name(0).as_deref() == Some(db) && name(1).as_deref() == Some(table)
        })
        .collect())
}

fn get<T: mysql::prelude::FromValue>(r: &mut Row, i: usize) -> Result<T, ApiError> {
    take(r, i).map_err(ApiError::Internal)
}

/// The parameters a schema request takes: `cursor` (and `cursor_unit`), for
/// a table synced by a named cursor (the table must be syncable the way it
/// will be).
pub fn cursor_params(query: &str) -> Result<(Option<String>, Option<String>), ApiError> {
    let (mut cursor, mut unit) = (None, None);
    for (k, v) in dbdump_shared::http::parse_query(query).map_err(ApiError::BadRequest)? {
        let slot = match k.as_str() {
            "cursor" => &mut cursor,
            "cursor_unit" => &mut unit,
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter {other:?}; the schema request takes only cursor and cursor_unit"
                )))
            }
        };
        if slot.replace(v).is_some() {
            return Err(ApiError::BadRequest(format!(
                "query parameter {k} given twice"
            )));
        }
    }
    Ok((cursor, unit))
}

/// The definition of `db`.`table` (which the caller found syncable).
pub fn definition(
    conn: &mut impl Queryable,
    db: &str,
    table: &str,
) -> Result<TableDefinition, ApiError> {
    let mariadb = conn.query_first::<i64, _>(sql::IS_MARIADB)?.unwrap_or(0) == 1;
    let mut t = rows(conn, sql::TABLE_DEFINITION, db, table)?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::NotFound(format!("table `{db}`.`{table}` not found")))?;
    let options: Option<String> = get(&mut t, 5)?;
    let mut definition = TableDefinition {
        protocol: PROTOCOL,
        database: db.to_string(),
        table: table.to_string(),
        engine: get::<Option<String>>(&mut t, 2)?.unwrap_or_default(),
        collation: get::<Option<String>>(&mut t, 3)?.unwrap_or_default(),
        charset: get::<Option<String>>(&mut t, 4)?.unwrap_or_default(),
        options: options
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        comment: get::<Option<String>>(&mut t, 6)?.unwrap_or_default(),
        database_charset: get(&mut t, 7)?,
        database_collation: get(&mut t, 8)?,
        columns: Vec::new(),
        indexes: Vec::new(),
        foreign_keys: Vec::new(),
        checks: Vec::new(),
    };
    for mut r in rows(conn, sql::COLUMN_DEFINITIONS, db, table)? {
        definition.columns.push(column(&mut r, mariadb)?);
    }
    definition.indexes = indexes(rows(conn, sql::INDEX_DEFINITIONS, db, table)?)?;
    definition.foreign_keys =
        foreign_keys(db, rows(conn, sql::FOREIGN_KEY_DEFINITIONS, db, table)?)?;
    let checks = match rows(conn, sql::CHECK_DEFINITIONS, db, table) {
        Ok(r) => r,
        Err(_) => rows(conn, sql::CHECK_DEFINITIONS_MYSQL, db, table).unwrap_or_default(),
    };
    for mut r in checks {
        let name: String = get(&mut r, 2)?;
        let level: String = get(&mut r, 3)?;
        let clause: String = get(&mut r, 4)?;
        let column = level
            .eq_ignore_ascii_case("column")
            .then(|| definition.columns.iter_mut().find(|c| c.name == name))
            .flatten();
        match column {
            Some(c) => c.check = Some(clause),
            None => definition.checks.push(CheckDefinition { name, clause }),
        }
    }
    Ok(definition)
}

/// One COLUMNS row. EXTRA holds `auto_increment`, `on update
/// current_timestamp(n)`, `VIRTUAL GENERATED`/`STORED GENERATED`,
/// `INVISIBLE` (MariaDB) and MySQL's `DEFAULT_GENERATED`.
fn column(r: &mut Row, mariadb: bool) -> Result<ColumnDefinition, ApiError> {
    let name: String = get(r, 2)?;
    let sql_type: String = get(r, 3)?;
    let nullable = get::<String>(r, 4)? == "YES";
    let raw_default: Option<String> = get(r, 5)?;
    let extra: String = get::<Option<String>>(r, 8)?.unwrap_or_default();
    let lower = extra.to_ascii_lowercase();
    let expression: Option<String> = get(r, 9)?;
    let generated = crate::inspect::ColumnMeta::is_generated(&extra).then(|| Generated {
        expression: expression.unwrap_or_default(),
        stored: lower.contains("stored") || lower.contains("persistent"),
    });
    let on_update = lower.find("on update ").map(|at| {
        extra[at + "on update ".len()..]
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string()
    });
    let default = match raw_default {
        _ if generated.is_some() => None,
        None => None,
        // MariaDB: already SQL.
        Some(d) if mariadb => Some(d),
        // MySQL: an expression is flagged, a literal is bare text.
        Some(d) if lower.contains("default_generated") => Some(d),
        Some(d) => Some(quote_literal(&d)),
    };
    Ok(ColumnDefinition {
        name,
        sql_type,
        nullable,
        default,
        charset: get(r, 6)?,
        collation: get(r, 7)?,
        auto_increment: lower.contains("auto_increment"),
        on_update,
        generated,
        invisible: lower.split_whitespace().any(|w| w == "invisible"),
        comment: get::<Option<String>>(r, 10)?.unwrap_or_default(),
        check: None,
    })
}

/// A MySQL literal default as an SQL string literal.
fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

fn indexes(rows: Vec<Row>) -> Result<Vec<IndexDefinition>, ApiError> {
    let mut out: Vec<IndexDefinition> = Vec::new();
    for mut r in rows {
        let name: String = get(&mut r, 2)?;
        let non_unique: i64 = get(&mut r, 3)?;
        let seq: i64 = get(&mut r, 4)?;
        let column: Option<String> = get(&mut r, 5)?;
        let prefix: Option<u32> = get(&mut r, 6)?;
        let order: Option<String> = get(&mut r, 7)?;
        let index_type: String = get(&mut r, 8)?;
        let comment: String = get::<Option<String>>(&mut r, 9)?.unwrap_or_default();
        let Some(column) = column else {
            // A functional index (MySQL 8): not reproducible here.
            continue;
        };
        let part = IndexColumn {
            name: column,
            // A SPATIAL key lists the geometry's internal length (32), which
            // is not a prefix anyone could give.
            prefix: prefix.filter(|_| index_type != "SPATIAL"),
            descending: order.as_deref() == Some("D"),
        };
        match out.iter_mut().find(|i| i.name == name) {
            Some(i) if seq > 1 => i.columns.push(part),
            _ => out.push(IndexDefinition {
                kind: match (name.as_str(), index_type.as_str(), non_unique) {
                    ("PRIMARY", _, _) => IndexKind::Primary,
                    (_, "FULLTEXT", _) => IndexKind::Fulltext,
                    (_, "SPATIAL", _) => IndexKind::Spatial,
                    (_, _, 0) => IndexKind::Unique,
                    _ => IndexKind::Index,
                },
                name,
                columns: vec![part],
                comment,
            }),
        }
    }
    Ok(out)
}

fn foreign_keys(db: &str, rows: Vec<Row>) -> Result<Vec<ForeignKeyDefinition>, ApiError> {
    let mut out: Vec<ForeignKeyDefinition> = Vec::new();
    for mut r in rows {
        let name: String = get(&mut r, 2)?;
        let column: String = get(&mut r, 3)?;
        let ref_db: String = get(&mut r, 4)?;
        let ref_table: String = get(&mut r, 5)?;
        let ref_column: String = get(&mut r, 6)?;
        let on_update: String = get(&mut r, 7)?;
        let on_delete: String = get(&mut r, 8)?;
        match out.iter_mut().find(|f| f.name == name) {
            Some(f) => {
                f.columns.push(column);
                f.referenced_columns.push(ref_column);
            }
            None => out.push(ForeignKeyDefinition {
                name,
                columns: vec![column],
                references_database: (ref_db != db).then_some(ref_db),
                references: ref_table,
                referenced_columns: vec![ref_column],
                on_delete,
                on_update,
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_literals_are_quoted_as_sql() {
        assert_eq!(quote_literal("G"), "'G'");
        assert_eq!(quote_literal("it's \\ ok"), "'it''s \\\\ ok'");
    }
}
