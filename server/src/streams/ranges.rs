//! The ranges request (`GET /<db>/<table>/ranges?count=N`): where a table's
//! key ranges of about equal size begin and end, for a first copy that
//! streams them at once, each in key order, all under one horizon. When the
//! key's first column is an integer, its least and greatest values divide
//! evenly and one index dive per boundary finds the key there (skewed keys
//! give uneven ranges, never wrong ones); otherwise one read of the keys in
//! order picks every n-th, n from the optimizer's row estimate.

use mysql::prelude::Queryable;
use mysql::{Row, Value};
use serde_json::value::RawValue;

use dbdump_shared::http as h;
use dbdump_shared::ranges::{KeyRanges, MAX_COUNT};
use dbdump_shared::since::UtcTime;
use dbdump_shared::sql::take;
use dbdump_shared::value::{self, ValueCodec};
use dbdump_shared::wire::PROTOCOL;

use crate::error::ApiError;
use crate::inspect::TableMeta;
use crate::sql;
use crate::streams::params::wire_column;

/// The query parameters of a ranges request.
#[derive(Debug, Default, PartialEq)]
pub struct Params {
    pub count: usize,
    pub cursor: Option<String>,
    pub cursor_zone: Option<String>,
    pub cursor_unit: Option<String>,
}

impl Params {
    pub fn parse(query: &str) -> Result<Params, ApiError> {
        let bad = ApiError::BadRequest;
        let mut p = Params {
            count: 4,
            ..Params::default()
        };
        let mut seen = std::collections::HashSet::new();
        for (k, v) in h::parse_query(query).map_err(bad)? {
            if !seen.insert(k.clone()) {
                return Err(bad(format!("query parameter {k} given twice")));
            }
            match k.as_str() {
                "count" => {
                    p.count = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_COUNT).contains(n))
                        .ok_or_else(|| bad(format!("count must be from 1 to {MAX_COUNT}, not {v:?}")))?
                }
                "cursor" => p.cursor = Some(v),
                "cursor_zone" => p.cursor_zone = Some(v),
                "cursor_unit" => p.cursor_unit = Some(v),
                other => {
                    return Err(bad(format!(
                        "unknown query parameter {other:?}; known: count, cursor, cursor_zone, cursor_unit"
                    )))
                }
            }
        }
        Ok(p)
    }
}

/// Whether a column type is an integer one (its values divide).
fn integer(data_type: &str) -> bool {
    [
        "tinyint",
        "smallint",
        "mediumint",
        "int",
        "integer",
        "bigint",
    ]
    .iter()
    .any(|t| data_type.eq_ignore_ascii_case(t))
}

fn as_i128(v: &Value) -> Option<i128> {
    match v {
        Value::Int(n) => Some(i128::from(*n)),
        Value::UInt(n) => Some(i128::from(*n)),
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

/// Up to `count - 1` keys of `t`, increasing, splitting it into ranges of
/// about equal size, each as a JSON array in wire encoding, and whether
/// the table held no key at all.
fn boundaries(
    conn: &mut impl Queryable,
    db: &str,
    t: &TableMeta,
    count: usize,
) -> Result<(Vec<String>, bool), ApiError> {
    let key = t.key_names();
    let index = t.key_index.as_deref().unwrap_or("PRIMARY");
    let mut found: Vec<String> = Vec::new();
    let push =
        |found: &mut Vec<String>, row: &Row, codecs: &[ValueCodec]| -> Result<(), ApiError> {
            let mut json = b"[".to_vec();
            for (i, codec) in codecs.iter().enumerate().take(key.len()) {
                if i > 0 {
                    json.push(b',');
                }
                value::encode_value(&mut json, row.as_ref(i).unwrap_or(&Value::NULL), *codec)
                    .map_err(ApiError::Internal)?;
            }
            json.push(b']');
            let json = String::from_utf8(json).map_err(|e| ApiError::Internal(e.to_string()))?;
            if found.last() != Some(&json) {
                found.push(json);
            }
            Ok(())
        };
    let first = &t.columns[t.key[0]];
    if integer(&first.data_type) {
        let ends: Option<(Value, Value)> =
            conn.query_first(sql::first_column_bounds(db, &t.name, &first.name))?;
        let (Some(lo), Some(hi)) = ends
            .as_ref()
            .map_or((None, None), |(lo, hi)| (as_i128(lo), as_i128(hi)))
        else {
            return Ok((found, true));
        };
        let probe = sql::greatest_key_up_to(db, &t.name, &key, index);
        for i in 1..count as i128 {
            let at = lo + (hi - lo) * i / count as i128;
            let param = if at < 0 {
                Value::Int(at as i64)
            } else {
                Value::UInt(at as u64)
            };
            let mut result = conn.exec_iter(&probe, vec![param])?;
            let codecs = ValueCodec::for_columns(result.columns().as_ref());
            if let Some(row) = result.next() {
                push(&mut found, &row?, &codecs)?;
            }
        }
        return Ok((found, false));
    }
    let rows: Option<u64> = conn
        .exec_first::<Row, _, _>(sql::TABLE_ROWS, (db, &t.name))?
        .and_then(|mut r| take::<Option<u64>>(&mut r, 2).ok().flatten());
    let step = (rows.unwrap_or(0) / count as u64).max(1);
    let mut result = conn.query_iter(sql::keys_in_order(db, &t.name, &key, index))?;
    let codecs = ValueCodec::for_columns(result.columns().as_ref());
    let mut n = 0u64;
    for row in result.by_ref() {
        let row = row?;
        n += 1;
        if n.is_multiple_of(step) && found.len() + 1 < count {
            push(&mut found, &row, &codecs)?;
        }
    }
    Ok((found, n == 0))
}

/// The ranges of `t`, under `horizon` (in the cursor's terms; `instant`
/// the same in UTC when it differs).
pub fn answer(
    conn: &mut impl Queryable,
    db: &str,
    t: &TableMeta,
    count: usize,
    horizon: UtcTime,
    instant: Option<UtcTime>,
) -> Result<KeyRanges, ApiError> {
    if t.key.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "table `{}` has no key: it has no key ranges (it is copied whole)",
            t.name
        )));
    }
    let (boundaries, empty) = boundaries(conn, db, t, count)?;
    let boundaries = boundaries
        .into_iter()
        .map(|json| RawValue::from_string(json).map_err(|e| ApiError::Internal(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let rows: Option<u64> = conn
        .exec_first::<Row, _, _>(sql::TABLE_ROWS, (db, &t.name))?
        .and_then(|mut r| take::<Option<u64>>(&mut r, 2).ok().flatten());
    let fsp = if t.cursor().is_some() {
        t.cursor_fsp()
    } else {
        6
    };
    Ok(KeyRanges {
        protocol: PROTOCOL,
        database: db.to_string(),
        table: t.name.clone(),
        key: t.key.iter().map(|&i| wire_column(t, i)).collect(),
        boundaries,
        horizon: horizon.truncate(fsp).format(fsp),
        horizon_utc: instant.map(|i| i.format(6)),
        estimated_rows: rows,
        empty,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters() {
        assert_eq!(Params::parse("").unwrap().count, 4);
        let p = Params::parse("count=8&cursor=m&cursor_unit=s").unwrap();
        assert_eq!((p.count, p.cursor.as_deref()), (8, Some("m")));
        for bad in [
            "count=0",
            "count=65",
            "count=x",
            "since=2020-01-01",
            "count=2&count=3",
        ] {
            assert_eq!(Params::parse(bad).unwrap_err().status(), 400, "{bad}");
        }
        assert!(integer("BIGINT") && integer("tinyint") && !integer("varchar"));
        assert_eq!(as_i128(&Value::UInt(u64::MAX)), Some(i128::from(u64::MAX)));
    }
}
