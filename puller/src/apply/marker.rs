//! The mark of a first copy in progress, kept in the destination table's
//! comment (no state table): the horizon every range is read under and the
//! key ranges' boundaries, with the table's own comment to put back when
//! the copy is done. A table whose comment carries the mark is a first copy
//! to resume, whatever rows it already holds: each range in key order, so
//! each holds a prefix of itself, and goes on after its greatest key.
//! The mark also names the secondary indexes the copy dropped, to build
//! them after the rows (sorting once instead of inserting at random) and
//! put them back with the comment, in one statement.

use mysql::prelude::Queryable;
use mysql::Value;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use dbdump_shared::value::{self, ValueCodec};
use dbdump_shared::wire::{Column, Encoding};

use crate::apply::destination::Destination;
use crate::apply::failure::TableError;
use crate::sql;

/// How a marked comment begins.
pub const PREFIX: &str = "dbdump:first-copy ";
/// The longest table comment MariaDB and MySQL keep (characters).
const MAX_COMMENT: usize = 2048;

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Mark {
    /// The horizon every range is read under (`before=`), as the ranges
    /// answer gave it; for a table without a cursor, the time the copy's
    /// snapshots all come after.
    pub horizon: String,
    /// Where the ranges end: range i holds the keys after boundary i-1 up
    /// to and including boundary i (the first from the start, the last to
    /// the end).
    pub boundaries: Vec<Box<RawValue>>,
    /// The table's own comment, put back when the copy is done.
    pub comment: String,
    /// The secondary indexes dropped for the copy, built when it is done.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<sql::Index>,
}

impl Mark {
    /// The comment that carries the mark, with fewer ranges (every other
    /// boundary dropped, the ranges merged) until it fits; `None` when even
    /// one range does not (a table comment of its own near the limit).
    pub fn fit(mut self) -> Option<(Mark, String)> {
        loop {
            let text = format!("{PREFIX}{}", ascii(&serde_json::to_string(&self).ok()?));
            if text.chars().count() <= MAX_COMMENT {
                return Some((self, text));
            }
            if self.boundaries.is_empty() {
                if self.deferred.is_empty() {
                    return None;
                }
                // Indexes kept is a slower copy; no mark is no resume.
                self.deferred.clear();
                continue;
            }
            let kept: Vec<Box<RawValue>> = self.boundaries.into_iter().skip(1).step_by(2).collect();
            self.boundaries = kept;
        }
    }

    /// The mark a comment carries, if it does.
    pub fn parse(comment: &str) -> Option<Mark> {
        serde_json::from_str(comment.strip_prefix(PREFIX)?).ok()
    }
}

/// JSON with every non-ASCII character written as `\uXXXX` escapes:
/// MariaDB keeps table comments in utf8mb3, where a character outside the
/// BMP (an emoji in a key) silently becomes `?`, and a mark read back
/// wrong would resume its ranges in the wrong places. Outside strings JSON
/// is ASCII, so escaping every such character keeps it the same value.
fn ascii(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

fn db_err(doing: &str) -> impl Fn(mysql::Error) -> TableError + '_ {
    move |e| TableError::database(doing, &e)
}

/// The table's comment now.
pub fn comment(dest: &mut Destination, table: &str) -> Result<String, TableError> {
    let database = dest.database.clone();
    let rows: Vec<mysql::Row> = dest
        .conn()
        .exec(sql::TABLE_COMMENT, (&database, table))
        .map_err(db_err("reading the table comment"))?;
    for mut r in rows {
        let (schema, t): (String, String) = (
            dbdump_shared::sql::take(&mut r, 0)?,
            dbdump_shared::sql::take(&mut r, 1)?,
        );
        if schema == database && t == table {
            return Ok(dbdump_shared::sql::take::<Option<String>>(&mut r, 2)?.unwrap_or_default());
        }
    }
    Ok(String::new())
}

/// The tables of the destination database that carry a mark (a first
/// copy to resume), in one query, their names in lower case.
pub fn marked_tables(
    dest: &mut Destination,
) -> Result<std::collections::HashSet<String>, TableError> {
    let database = dest.database.clone();
    let rows: Vec<mysql::Row> = dest
        .conn()
        .exec(sql::MARKED_TABLES, (&database,))
        .map_err(db_err("reading which tables carry a first copy's mark"))?;
    let mut out = std::collections::HashSet::new();
    for mut r in rows {
        let (schema, t): (String, String) = (
            dbdump_shared::sql::take(&mut r, 0)?,
            dbdump_shared::sql::take(&mut r, 1)?,
        );
        if schema.eq_ignore_ascii_case(&database) {
            // Lower case: a destination with lower_case_table_names may
            // spell the name otherwise than the source does.
            out.insert(t.to_lowercase());
        }
    }
    Ok(out)
}

/// Sets the table's comment: the mark, or the table's own back.
pub fn set(dest: &mut Destination, table: &str, text: &str) -> Result<(), TableError> {
    let statement = sql::set_comment(&dest.database, table, text);
    let doing = format!("setting the comment of destination table `{table}`");
    dest.conn()
        .query_drop(statement)
        .map_err(|e| TableError::database(&doing, &e))
}

/// One part of one index of a destination table, as information_schema
/// tells it: the index's name, whether it is unique, its type, the column
/// (none for an expression), prefix length and order.
struct IndexRow {
    name: String,
    unique: bool,
    btree: bool,
    column: Option<String>,
    prefix: Option<u64>,
    desc: bool,
    /// Its place in the index, from 1.
    seq: u64,
}

fn index_rows(dest: &mut Destination, table: &str) -> Result<Vec<IndexRow>, TableError> {
    use dbdump_shared::sql::take;
    let database = dest.database.clone();
    let rows: Vec<mysql::Row> = dest
        .conn()
        .exec(sql::TABLE_INDEXES, (&database, table))
        .map_err(db_err("reading the table's indexes"))?;
    let mut out = Vec::new();
    for mut r in rows {
        let (schema, t): (String, String) = (take(&mut r, 0)?, take(&mut r, 1)?);
        if schema != database || t != table {
            continue;
        }
        out.push(IndexRow {
            name: take(&mut r, 2)?,
            unique: take::<i64>(&mut r, 3)? == 0,
            btree: take::<String>(&mut r, 4)?.eq_ignore_ascii_case("BTREE"),
            column: take(&mut r, 5)?,
            prefix: take(&mut r, 6)?,
            desc: take::<Option<String>>(&mut r, 7)?.as_deref() == Some("D"),
            seq: take(&mut r, 8)?,
        });
    }
    Ok(out)
}

/// The secondary indexes of `table` a first copy can build after its
/// rows: every non-unique B-tree index of plain columns, or none when one
/// is anything else (an expression, full-text), so that the indexes keep
/// their order. Unique ones stay: they are what an upsert matches on.
pub fn deferrable(dest: &mut Destination, table: &str) -> Result<Vec<sql::Index>, TableError> {
    let mut out: Vec<sql::Index> = Vec::new();
    let rows = index_rows(dest, table)?;
    // Each index's parts in a run, in order; else better keep the indexes
    // than build them again wrong.
    let in_order = rows
        .iter()
        .enumerate()
        .all(|(i, r)| match i.checked_sub(1) {
            Some(p) if rows[p].name == r.name => r.seq == rows[p].seq + 1,
            _ => r.seq == 1,
        });
    if !in_order {
        return Ok(Vec::new());
    }
    for row in rows {
        if row.unique {
            continue;
        }
        let Some(column) = row.column.filter(|_| row.btree) else {
            return Ok(Vec::new());
        };
        let part = sql::IndexPart {
            column,
            prefix: row.prefix,
            desc: row.desc,
        };
        match out.last_mut() {
            Some(last) if last.name == row.name => last.parts.push(part),
            _ => out.push(sql::Index {
                name: row.name,
                parts: vec![part],
            }),
        }
    }
    Ok(out)
}

/// Drops the indexes the mark defers.
pub fn drop_deferred(dest: &mut Destination, table: &str, mark: &Mark) -> Result<(), TableError> {
    let statement = sql::drop_indexes(&dest.database, table, &mark.deferred);
    dest.conn()
        .query_drop(statement)
        .map_err(db_err("dropping secondary indexes for the first copy"))
}

/// Ends a first copy: builds the deferred indexes the table lacks and puts
/// its own comment back, in one statement (interrupted, it leaves the mark
/// and the next run ends the copy again).
pub fn finish(dest: &mut Destination, table: &str, mark: &Mark) -> Result<(), TableError> {
    let present = index_rows(dest, table)?;
    let missing: Vec<sql::Index> = mark
        .deferred
        .iter()
        .filter(|i| !present.iter().any(|p| p.name.eq_ignore_ascii_case(&i.name)))
        .cloned()
        .collect();
    let statement = sql::finish_copy(&dest.database, table, &missing, &mark.comment);
    let doing =
        format!("ending the first copy of destination table `{table}` (its indexes and comment)");
    dest.conn()
        .query_drop(statement)
        .map_err(|e| TableError::database(&doing, &e))
}

/// Sets the mark and reads it back: a comment the destination keeps other
/// than it was written (cut, or characters changed) is no mark to resume
/// from, so the table's own comment goes back and the copy is not marked.
pub fn set_checked(
    dest: &mut Destination,
    table: &str,
    text: &str,
    own: &str,
) -> Result<(), TableError> {
    set(dest, table, text)?;
    if comment(dest, table)? == text {
        return Ok(());
    }
    set(dest, table, own)?;
    Err("the destination keeps the comment other than it was written".into())
}

/// The key columns of `table` on the destination, as a stream would
/// describe them (what the boundaries' values are decoded against).
pub fn key_columns(
    dest: &mut Destination,
    table: &str,
    key: &[String],
) -> Result<Vec<Column>, TableError> {
    let types = dest.column_types(table)?;
    key.iter()
        .map(|k| {
            let c = types
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(k))
                .ok_or_else(|| format!("destination table `{table}` has no key column `{k}`"))?;
            Ok(Column {
                name: c.name.clone(),
                sql_type: c.column_type.clone(),
                encoding: Encoding::of(&c.data_type, c.charset.as_deref()),
            })
        })
        .collect()
}

fn decode(raw: &RawValue, columns: &[Column]) -> Result<Vec<Value>, TableError> {
    let items: Vec<&RawValue> = serde_json::from_str(raw.get())
        .map_err(|e| format!("bad key in the first-copy mark: {e}"))?;
    if items.len() != columns.len() {
        return Err(format!(
            "the first-copy mark's key {} does not fit the table's key",
            raw.get()
        )
        .into());
    }
    Ok(items
        .iter()
        .zip(columns)
        .map(|(v, c)| value::decode_value(v, c))
        .collect::<Result<Vec<_>, _>>()?)
}

/// The greatest key the destination holds in `(after, until]`, as JSON in
/// wire encoding: where an interrupted range goes on.
pub fn greatest_key_in(
    dest: &mut Destination,
    table: &str,
    columns: &[Column],
    after: Option<&RawValue>,
    until: Option<&RawValue>,
) -> Result<Option<String>, TableError> {
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let query = sql::greatest_key_in(
        &dest.database,
        table,
        &names,
        after.is_some(),
        until.is_some(),
    );
    let mut params = Vec::new();
    for bound in [after, until].into_iter().flatten() {
        params.extend(dbdump_shared::sql::key_params(&decode(bound, columns)?));
    }
    let mut result = dest
        .conn()
        .exec_iter(query, params)
        .map_err(db_err("reading where a first copy's range stopped"))?;
    let codecs = ValueCodec::for_columns(result.columns().as_ref());
    let Some(row) = result.next() else {
        return Ok(None);
    };
    let row = row.map_err(db_err("reading where a first copy's range stopped"))?;
    let mut json = b"[".to_vec();
    for (i, codec) in codecs.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        value::encode_value(&mut json, row.as_ref(i).unwrap_or(&Value::NULL), *codec)
            .map_err(|e| format!("key of `{table}`: {e}"))?;
    }
    json.push(b']');
    Ok(Some(String::from_utf8(json).map_err(|e| e.to_string())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_string()).unwrap()
    }

    #[test]
    fn marks_read_back_and_shrink_to_fit() {
        let mark = Mark {
            horizon: "2026-12-03 01:00:00.123".into(),
            boundaries: vec![raw("[250000]"), raw("[500000]"), raw("[750000]")],
            comment: "Orders, it's said".into(),
            deferred: vec![sql::Index {
                name: "by_ts".into(),
                parts: vec![],
            }],
        };
        let (mark, text) = mark.fit().unwrap();
        assert!(
            text.starts_with("dbdump:first-copy {\"horizon\":\"2026-12-03 01:00:00.123\""),
            "{text}"
        );
        let back = Mark::parse(&text).unwrap();
        assert_eq!(back.boundaries.len(), 3);
        assert_eq!(back.comment, mark.comment);
        assert_eq!(back.deferred, mark.deferred);
        // Characters outside ASCII are escapes: utf8mb3 comments keep them.
        let (_, text) = Mark {
            horizon: "h".into(),
            boundaries: vec![raw(r#"["😀 Ä"]"#)],
            comment: "é".into(),
            deferred: vec![],
        }
        .fit()
        .unwrap();
        assert!(text.is_ascii(), "{text}");
        assert!(
            text.contains(r"\ud83d\ude00 \u00c4") && text.contains(r"\u00e9"),
            "{text}"
        );
        let back = Mark::parse(&text).unwrap();
        assert_eq!(back.comment, "é");
        let key: Vec<String> = serde_json::from_str(back.boundaries[0].get()).unwrap();
        assert_eq!(key, ["😀 Ä"]);
        assert!(Mark::parse("Orders").is_none());
        // Long keys: fewer ranges until the comment fits; never too long.
        let long = format!("[\"{}\"]", "k".repeat(600));
        let mark = Mark {
            horizon: "h".into(),
            boundaries: (0..7).map(|_| raw(&long)).collect(),
            comment: String::new(),
            deferred: vec![],
        };
        let (mark, text) = mark.fit().unwrap();
        assert!(
            text.chars().count() <= MAX_COMMENT && mark.boundaries.len() == 3,
            "{}",
            mark.boundaries.len()
        );
        let own = Mark {
            horizon: "h".into(),
            boundaries: vec![],
            comment: "c".repeat(2040),
            deferred: vec![],
        };
        assert!(own.fit().is_none());
        // Indexes the mark has no room for are kept, not the mark.
        let crowded = Mark {
            horizon: "h".into(),
            boundaries: vec![],
            comment: "c".repeat(1900),
            deferred: (0..5)
                .map(|i| sql::Index {
                    name: format!("index_{i}"),
                    parts: vec![],
                })
                .collect(),
        };
        let (mark, _) = crowded.fit().unwrap();
        assert!(mark.deferred.is_empty());
    }
}
