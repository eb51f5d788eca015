//! How each table is synced: by its auto-updating TIMESTAMP column; by
//! digests when it has a key but no such column; whole when it has no key;
//! or (named cursors) by a column its application (or a `DEFAULT
//! CURRENT_TIMESTAMP`) sets, named with `cursor=`: DATETIME or TIMESTAMP,
//! an INT or BIGINT of Unix time (`cursor_unit=s` or `ms`), or 14
//! characters of `YYYYMMDDHHMMSS`. Names from requests are only ever
//! compared with what `information_schema` returns.

use mysql::prelude::Queryable;
use mysql::Value;

use dbdump_shared::cursor::{kind_of, CursorKind, Unit};
use dbdump_shared::sql::take;
use dbdump_shared::wire::Method;

use crate::error::ApiError;
use crate::inspect::{ColumnMeta, TableMeta};
use crate::sql;

/// A cursor a request names: `cursor=` and, for an integer column of Unix
/// time, `cursor_unit=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Named<'a> {
    pub column: &'a str,
    pub unit: Option<Unit>,
}

impl<'a> Named<'a> {
    /// From the request's `cursor` and `cursor_unit` (a unit without a
    /// cursor, or an unknown one, is a 400).
    pub fn from_params(
        cursor: Option<&'a str>,
        unit: Option<&str>,
    ) -> Result<Option<Named<'a>>, ApiError> {
        let unit = unit
            .map(|u| {
                Unit::parse(u).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "cursor_unit must be s (Unix seconds) or ms (milliseconds), not {u:?}"
                    ))
                })
            })
            .transpose()?;
        match (cursor, unit) {
            (Some(column), unit) => Ok(Some(Named { column, unit })),
            (None, Some(_)) => Err(ApiError::BadRequest(
                "cursor_unit needs cursor: it says how an integer cursor's values read".into(),
            )),
            (None, None) => Ok(None),
        }
    }
}

/// What kind of cursor a column could be, for the listing: `datetime`,
/// `unix` (an INT or BIGINT that is not an AUTO_INCREMENT) or
/// `yyyymmddhhmmss`; none for a generated column or any other type.
pub fn candidate_kind(c: &ColumnMeta) -> Option<&'static str> {
    if c.generated || c.extra.to_ascii_lowercase().contains("auto_increment") {
        return None;
    }
    let unit = ["int", "integer", "bigint"]
        .iter()
        .any(|t| c.data_type.eq_ignore_ascii_case(t))
        .then_some(Unit::Seconds);
    kind_of(&c.data_type, &c.column_type, unit)
        .ok()
        .map(CursorKind::family)
}

/// The columns of `t` that could be its cursor, best first: DATETIME and
/// TIMESTAMP, then 14-character times, then integers of Unix time (not
/// the key's columns), each in table order.
pub fn candidates(t: &TableMeta) -> Vec<(&ColumnMeta, &'static str)> {
    let mut found: Vec<(usize, &ColumnMeta, &'static str)> = t
        .columns
        .iter()
        .enumerate()
        .filter(|(i, _)| !t.key.contains(i))
        .filter_map(|(_, c)| {
            let kind = candidate_kind(c)?;
            let rank = ["datetime", "yyyymmddhhmmss", "unix"]
                .iter()
                .position(|k| *k == kind)
                .unwrap_or(3);
            Some((rank, c, kind))
        })
        .collect();
    found.sort_by_key(|(rank, _, _)| *rank);
    found.into_iter().map(|(_, c, kind)| (c, kind)).collect()
}

/// What the refusal of a table without an auto-updating column adds: how
/// to name a cursor, when the table has columns that could be one.
pub fn hint(t: &TableMeta) -> String {
    let candidates: Vec<String> = candidates(t)
        .into_iter()
        .map(|(c, kind)| match kind {
            "unix" => format!("`{}` ({}, Unix time: add :s or :ms)", c.name, c.column_type),
            "yyyymmddhhmmss" => format!("`{}` ({}, YYYYMMDDHHMMSS)", c.name, c.column_type),
            _ => format!("`{}` ({})", c.name, c.column_type),
        })
        .collect();
    if candidates.is_empty() || t.key.is_empty() {
        return String::new();
    }
    format!(
        "; to sync it by a column its application sets, name the column with cursor= \
         (dbd_puller: -t {}.COLUMN, with :s or :ms for Unix time): {}",
        t.name,
        candidates.join(", ")
    )
}

/// How `t` is synced when no cursor is named, or why it cannot be.
pub fn method(t: &TableMeta) -> Result<Method, String> {
    if let Some(&i) = t.key.iter().find(|&&i| t.columns[i].generated) {
        return Err(format!(
            "table `{}`: primary key column `{}` is generated",
            t.name, t.columns[i].name
        ));
    }
    Ok(match (t.key.is_empty(), t.timestamp) {
        (false, Some(_)) => Method::Timestamp,
        (false, None) => Method::Digest,
        (true, _) => Method::Whole,
    })
}

/// Why `t` is no table synced by its auto-updating TIMESTAMP column, when
/// a request needs one (a changes entry without a cursor, `since=`).
pub fn timestamp_reason(t: &TableMeta) -> Option<String> {
    match method(t) {
        Ok(Method::Timestamp) => None,
        Ok(Method::Digest) => Some(format!(
            "table `{}` has no auto-updating TIMESTAMP column (ON UPDATE CURRENT_TIMESTAMP): it is \
             synced by digests{}",
            t.name,
            hint(t)
        )),
        Ok(_) => Some(format!(
            "table `{}` has no primary key nor UNIQUE key over NOT NULL columns: it is copied whole",
            t.name
        )),
        Err(why) => Some(why),
    }
}

/// Table `t` of `db` as a stream, digest or schema request reads it: by
/// its auto-updating column, by digests or whole when it has none (see
/// [`method`]), or by `cursor` when the request names one; an error when
/// it cannot be read so.
pub fn syncable(
    conn: &mut impl Queryable,
    db: &str,
    t: TableMeta,
    cursor: Option<Named<'_>>,
) -> Result<TableMeta, ApiError> {
    let Some(named) = cursor else {
        return match method(&t) {
            Ok(_) => Ok(t),
            Err(why) => Err(ApiError::NotFound(why)),
        };
    };
    let mut t = choose(t, named)?;
    let leaders = index_leaders(conn, db, Some(&t.name))?;
    t.timestamp_index = cursor_index(&leaders, &t.name, named.column);
    Ok(t)
}

/// Tables of `db` read by the cursors named, as [`syncable`] takes each,
/// with one look at the indexes for all.
pub fn by_cursors(
    conn: &mut impl Queryable,
    db: &str,
    named: Vec<(TableMeta, Named<'_>)>,
) -> Result<Vec<TableMeta>, ApiError> {
    if named.is_empty() {
        return Ok(Vec::new());
    }
    let leaders = index_leaders(conn, db, None)?;
    named
        .into_iter()
        .map(|(t, named)| {
            let mut t = choose(t, named)?;
            t.timestamp_index = cursor_index(&leaders, &t.name, named.column);
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

/// `t` with the column `named` as the cursor, if that column can be one.
/// A table that has an auto-updating column keeps it: naming another one
/// is fine (it sees every change too), naming any other column is refused,
/// since it could only miss changes the auto-updating one shows.
pub fn choose(mut t: TableMeta, named: Named<'_>) -> Result<TableMeta, ApiError> {
    let name = named.column;
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
    let kind = match kind_of(&c.data_type, &c.column_type, named.unit) {
        Ok(kind) => kind,
        Err(_) if candidate_kind(c).is_none() => {
            return bad(format!(
                "column `{}`.`{name}` is {}, not DATETIME or TIMESTAMP, an INT or BIGINT of \
                 Unix time, or 14 characters of YYYYMMDDHHMMSS",
                t.name, c.column_type
            ))
        }
        Err(why) => return bad(format!("column `{}`.`{name}`: {why}", t.name)),
    };
    if let Some(auto) = t.timestamp.filter(|&a| a != i && !c.is_auto_timestamp()) {
        return bad(format!(
            "table `{0}` has the auto-updating column `{1}`, which shows every insert and update; \
             `{name}` could miss some, so it is not taken: name `{1}` or no cursor",
            t.name, t.columns[auto].name
        ));
    }
    if t.key.is_empty() {
        return Err(ApiError::NotFound(format!(
            "table `{}` has no primary key nor UNIQUE key over NOT NULL columns: a cursor needs a \
             key to resume by (without one the table is copied whole)",
            t.name
        )));
    }
    t.timestamp = Some(i);
    t.cursor_kind = kind;
    match method(&t) {
        Ok(_) => Ok(t),
        Err(why) => Err(ApiError::NotFound(why)),
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
        let mut t = TableMeta::new("t".into(), columns);
        t.timestamp = auto;
        t.key = vec![0];
        t.key_index = Some("PRIMARY".into());
        t
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

    fn named(column: &str) -> Named<'_> {
        Named { column, unit: None }
    }

    fn refusal(t: TableMeta, name: &str) -> (u16, String) {
        let e = choose(t, named(name)).expect_err("refused");
        (e.status(), e.to_string())
    }

    #[test]
    fn a_datetime_or_timestamp_column_becomes_the_cursor() {
        let t = choose(rails(), named("updated_at")).unwrap();
        assert_eq!(t.ts().name, "updated_at");
        assert_eq!(t.cursor_kind, CursorKind::Temporal);
        let t = choose(
            table(vec![col("id", "int", ""), col("at", "TIMESTAMP", "")], None),
            named("at"),
        )
        .unwrap();
        assert_eq!(t.timestamp, Some(1));
    }

    #[test]
    fn integers_need_their_unit_and_fourteen_characters_are_times() {
        let moodle = || {
            let mut modified = col("timemodified", "bigint", "");
            modified.column_type = "bigint(10)".into();
            let mut touched = col("page_touched", "binary", "");
            touched.column_type = "binary(14)".into();
            table(
                vec![col("id", "bigint", "auto_increment"), modified, touched],
                None,
            )
        };
        let unit = Named {
            column: "timemodified",
            unit: Some(Unit::Millis),
        };
        let t = choose(moodle(), unit).unwrap();
        assert_eq!(t.cursor_kind, CursorKind::Unix(Unit::Millis));
        assert_eq!(t.cursor_fsp(), 3);
        let (status, m) = refusal(moodle(), "timemodified");
        assert_eq!(status, 400);
        assert!(
            m.contains("name the unit") && m.contains("bigint(10)"),
            "{m}"
        );
        let t = choose(moodle(), named("page_touched")).unwrap();
        assert_eq!((t.cursor_kind, t.cursor_fsp()), (CursorKind::Digits14, 0));
        let e = choose(
            moodle(),
            Named {
                column: "page_touched",
                unit: Some(Unit::Seconds),
            },
        );
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("only for INT and BIGINT"));
        let h = hint(&moodle());
        assert!(
            h.contains(
                "`page_touched` (binary(14), YYYYMMDDHHMMSS), `timemodified` (bigint(10), Unix time"
            ) && !h.contains("`id`"),
            "{h}"
        );
        assert_eq!(
            Named::from_params(Some("c"), Some("ms"))
                .unwrap()
                .unwrap()
                .unit,
            Some(Unit::Millis)
        );
        assert_eq!(
            Named::from_params(Some("c"), Some("h"))
                .unwrap_err()
                .status(),
            400
        );
        assert_eq!(
            Named::from_params(None, Some("s")).unwrap_err().status(),
            400
        );
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
        assert_eq!(choose(auto(), named("ts")).unwrap().timestamp, Some(2));
        assert_eq!(choose(auto(), named("ts2")).unwrap().timestamp, Some(3));
        let (status, m) = refusal(auto(), "created");
        assert_eq!(status, 400);
        assert!(m.contains("auto-updating column `ts`"), "{m}");
    }

    #[test]
    fn every_table_has_a_method() {
        let auto = table(
            vec![
                col("id", "int", ""),
                col("ts", "timestamp", "on update current_timestamp()"),
            ],
            Some(1),
        );
        assert_eq!(method(&auto), Ok(Method::Timestamp));
        assert_eq!(method(&rails()), Ok(Method::Digest));
        let mut keyless = rails();
        keyless.key.clear();
        assert_eq!(method(&keyless), Ok(Method::Whole));
        let mut generated = rails();
        generated.columns[0].generated = true;
        assert!(method(&generated).unwrap_err().contains("generated"));
        assert!(timestamp_reason(&auto).is_none());
        assert!(timestamp_reason(&rails())
            .unwrap()
            .contains("synced by digests"));
        assert!(timestamp_reason(&keyless)
            .unwrap()
            .contains("no primary key"));
    }

    #[test]
    fn the_refusal_of_a_table_names_its_candidates() {
        let h = hint(&rails());
        assert!(
            h.contains("-t t.COLUMN") && h.contains("`created_at` (datetime), `updated_at`"),
            "{h}"
        );
        let none = table(
            vec![col("id", "int", "auto_increment"), col("v", "double", "")],
            None,
        );
        assert_eq!(hint(&none), "");
    }
}
