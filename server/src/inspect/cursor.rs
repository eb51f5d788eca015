//! Which tables can be synced, and by which column: by an auto-updating
//! TIMESTAMP column, or (named cursors) by a DATETIME or TIMESTAMP column
//! that its application (or a `DEFAULT CURRENT_TIMESTAMP`) sets, named
//! with `cursor=`. Names from requests are only ever compared with what
//! `information_schema` returns.

use mysql::prelude::Queryable;
use mysql::Value;

use dbdump_shared::sql::take;

use crate::error::ApiError;
use crate::inspect::{ColumnMeta, TableMeta};
use crate::sql;

/// Whether a column can be a cursor: DATETIME or TIMESTAMP, any precision,
/// and not generated (a generated column is never sent).
pub fn is_temporal(c: &ColumnMeta) -> bool {
    !c.generated
        && ["datetime", "timestamp"]
            .iter()
            .any(|t| c.data_type.eq_ignore_ascii_case(t))
}

/// What the refusal of a table without an auto-updating column adds: how
/// to name a cursor, when the table has columns that could be one.
pub fn hint(t: &TableMeta) -> String {
    let candidates: Vec<String> = t
        .columns
        .iter()
        .filter(|c| is_temporal(c))
        .map(|c| format!("`{}` ({})", c.name, c.column_type))
        .collect();
    if candidates.is_empty() || t.key.is_empty() {
        return String::new();
    }
    format!(
        "; to sync it by a column its application sets, name the column with cursor= \
         (dbd_puller: -t {}.COLUMN): {}",
        t.name,
        candidates.join(", ")
    )
}

/// Why this table cannot be synced, if it cannot.
pub fn unsyncable_reason(t: &TableMeta) -> Option<String> {
    if t.timestamp.is_none() {
        Some(format!(
            "table `{}` has no auto-updating TIMESTAMP column (ON UPDATE CURRENT_TIMESTAMP){}",
            t.name,
            hint(t)
        ))
    } else if t.key.is_empty() {
        Some(format!("table `{}` has no primary key", t.name))
    } else if let Some(&i) = t.key.iter().find(|&&i| t.columns[i].generated) {
        Some(format!(
            "table `{}`: primary key column `{}` is generated",
            t.name, t.columns[i].name
        ))
    } else {
        None
    }
}

/// Table `t` of `db` as a stream or digest request reads it: by its
/// auto-updating column, or by `cursor` when the request names one; an
/// error when it cannot be read so.
pub fn syncable(
    conn: &mut impl Queryable,
    db: &str,
    t: TableMeta,
    cursor: Option<&str>,
) -> Result<TableMeta, ApiError> {
    let Some(name) = cursor else {
        return syncable_as_is(t);
    };
    let mut t = choose(t, name)?;
    let leaders = index_leaders(conn, db, Some(&t.name))?;
    t.timestamp_index = cursor_index(&leaders, &t.name, name);
    Ok(t)
}

/// Tables of `db` read by the cursors named, as [`syncable`] takes each,
/// with one look at the indexes for all.
pub fn by_cursors(
    conn: &mut impl Queryable,
    db: &str,
    named: Vec<(TableMeta, &str)>,
) -> Result<Vec<TableMeta>, ApiError> {
    if named.is_empty() {
        return Ok(Vec::new());
    }
    let leaders = index_leaders(conn, db, None)?;
    named
        .into_iter()
        .map(|(t, name)| {
            let mut t = choose(t, name)?;
            t.timestamp_index = cursor_index(&leaders, &t.name, name);
            Ok(t)
        })
        .collect()
}

/// The narrowest index of `table` that starts with its cursor `column`.
fn cursor_index(leaders: &[Leader], table: &str, column: &str) -> Option<String> {
    leaders
        .iter()
        .filter(|l| l.table == table && l.leader == column)
        .min_by(|a, b| (a.width, &a.index).cmp(&(b.width, &b.index)))
        .map(|l| l.index.clone())
}

/// `t` with its column `name` as the cursor, if that column can be one.
/// A table that has an auto-updating column keeps it: naming another one
/// is fine (it sees every change too), naming any other column is refused,
/// since it could only miss changes the auto-updating one shows.
pub fn choose(mut t: TableMeta, name: &str) -> Result<TableMeta, ApiError> {
    let bad = |m: String| Err(ApiError::BadRequest(format!("cursor: {m}")));
    let Some(i) = t.column(name) else {
        return bad(format!("table `{}` has no column `{name}`", t.name));
    };
    let c = &t.columns[i];
    if c.generated {
        return bad(format!(
            "column `{}`.`{name}` is generated: it is never sent, so it cannot be the cursor",
            t.name
        ));
    }
    if !is_temporal(c) {
        return bad(format!(
            "column `{}`.`{name}` is {}, not DATETIME or TIMESTAMP",
            t.name, c.column_type
        ));
    }
    if let Some(auto) = t.timestamp.filter(|&a| a != i && !c.is_auto_timestamp()) {
        return bad(format!(
            "table `{0}` has the auto-updating column `{1}`, which shows every insert and update; \
             `{name}` could miss some, so it is not taken: name `{1}` or no cursor",
            t.name, t.columns[auto].name
        ));
    }
    t.timestamp = Some(i);
    syncable_as_is(t)
}

fn syncable_as_is(t: TableMeta) -> Result<TableMeta, ApiError> {
    match unsyncable_reason(&t) {
        Some(reason) => Err(ApiError::NotFound(reason)),
        None => Ok(t),
    }
}

/// One index of a table and the column it starts with.
pub struct Leader {
    pub table: String,
    pub index: String,
    pub leader: String,
    pub width: u64,
}

/// The indexes of `db` (or of its table `only`) with their first columns.
pub fn index_leaders(
    conn: &mut impl Queryable,
    db: &str,
    only: Option<&str>,
) -> Result<Vec<Leader>, ApiError> {
    let params: Vec<Value> = std::iter::once(Value::from(db))
        .chain(only.map(Value::from))
        .collect();
    let rows: Vec<mysql::Row> = conn.exec(sql::index_leaders(only.is_some()), params)?;
    let mut out = Vec::new();
    for mut r in rows {
        let internal = ApiError::Internal;
        let schema: String = take(&mut r, 0).map_err(internal)?;
        let table: String = take(&mut r, 1).map_err(internal)?;
        let index: String = take(&mut r, 2).map_err(internal)?;
        let leader: Option<String> = take(&mut r, 3).map_err(internal)?;
        let width: u64 = take(&mut r, 4).map_err(internal)?;
        // information_schema compares names case-insensitively.
        if let Some(leader) = leader.filter(|_| schema == db) {
            out.push(Leader {
                table,
                index,
                leader,
                width,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, data_type: &str, extra: &str) -> ColumnMeta {
        ColumnMeta::plain(name, data_type, extra)
    }

    fn table(columns: Vec<ColumnMeta>, auto: Option<usize>) -> TableMeta {
        TableMeta {
            name: "t".into(),
            columns,
            timestamp: auto,
            key: vec![0],
            timestamp_index: None,
        }
    }

    fn rails() -> TableMeta {
        table(
            vec![
                col("id", "bigint", ""),
                col("name", "varchar", ""),
                col("created_at", "datetime", ""),
                col("updated_at", "datetime", ""),
            ],
            None,
        )
    }

    fn refusal(t: TableMeta, name: &str) -> (u16, String) {
        let e = choose(t, name).expect_err("refused");
        (e.status(), e.to_string())
    }

    #[test]
    fn a_datetime_or_timestamp_column_becomes_the_cursor() {
        let t = choose(rails(), "updated_at").unwrap();
        assert_eq!(t.ts().name, "updated_at");
        let t = choose(
            table(vec![col("id", "int", ""), col("at", "TIMESTAMP", "")], None),
            "at",
        )
        .unwrap();
        assert_eq!(t.timestamp, Some(1));
    }

    #[test]
    fn other_columns_are_refused_with_their_name_and_type() {
        let (status, m) = refusal(rails(), "name");
        assert_eq!(status, 400);
        assert!(
            m.contains("`t`.`name` is varchar") && m.contains("DATETIME"),
            "{m}"
        );
        let (status, m) = refusal(rails(), "nope");
        assert_eq!(status, 400);
        assert!(m.contains("no column `nope`"), "{m}");
        let mut keyless = rails();
        keyless.key.clear();
        let (status, m) = refusal(keyless, "updated_at");
        assert_eq!(status, 404);
        assert!(m.contains("primary key"), "{m}");
    }

    #[test]
    fn an_auto_updating_table_keeps_its_guarantees() {
        let auto = || {
            table(
                vec![
                    col("id", "int", ""),
                    col("created", "timestamp", ""),
                    col("ts", "timestamp", "on update current_timestamp()"),
                    col("ts2", "timestamp", "on update current_timestamp()"),
                ],
                Some(2),
            )
        };
        assert_eq!(choose(auto(), "ts").unwrap().timestamp, Some(2));
        assert_eq!(choose(auto(), "ts2").unwrap().timestamp, Some(3));
        let (status, m) = refusal(auto(), "created");
        assert_eq!(status, 400);
        assert!(m.contains("auto-updating column `ts`"), "{m}");
    }

    #[test]
    fn the_refusal_of_a_table_names_its_candidates() {
        let h = hint(&rails());
        assert!(
            h.contains("-t t.COLUMN") && h.contains("`created_at` (datetime), `updated_at`"),
            "{h}"
        );
        let none = table(vec![col("id", "int", ""), col("v", "int", "")], None);
        assert_eq!(hint(&none), "");
    }
}
