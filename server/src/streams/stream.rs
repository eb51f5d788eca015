//! The change stream of one table: parse the request's parameters, choose
//! the columns, run one ordered SELECT below the horizon and write it as
//! NDJSON while the driver streams it (rows are never collected).

use mysql::prelude::Queryable;
use mysql::{Row, Value};
use serde_json::value::RawValue;

use dbdump_shared::dberror::describe;
use dbdump_shared::since::UtcTime;
use dbdump_shared::value::{self, ValueCodec};
use dbdump_shared::wire::{self, Column, Header, Trailer};
use dbdump_shared::{http as h, signals};

use crate::edge::http::Response;
use crate::error::ApiError;
use crate::inspect::TableMeta;
use crate::sql::{self, Bound};

/// Most keys one `keys` request may list.
pub const MAX_KEYS: usize = 1000;

/// The query parameters of a stream request.
#[derive(Debug, Default, PartialEq)]
pub struct Params {
    pub since: Option<UtcTime>,
    /// JSON array of key values in wire encoding.
    pub after_key: Option<String>,
    /// Only rows with a timestamp before this (or none): an upper bound
    /// below the horizon.
    pub before: Option<UtcTime>,
    /// JSON array of keys (each an array of key values): only those rows.
    pub keys: Option<String>,
    pub include: Option<Vec<String>>,
    pub exclude: Vec<String>,
    /// The named cursor column (`cursor=`), for a table without an
    /// auto-updating TIMESTAMP column (see `inspect::cursor`).
    pub cursor: Option<String>,
    /// The time zone a DATETIME cursor's values are written in (see `horizon::wallclock`).
    pub cursor_zone: Option<String>,
}

pub fn column_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

impl Params {
    pub fn parse(query: &str) -> Result<Params, ApiError> {
        let mut p = Params::default();
        let mut seen = std::collections::HashSet::new();
        for (k, v) in h::parse_query(query).map_err(ApiError::BadRequest)? {
            if !seen.insert(k.clone()) {
                return Err(ApiError::BadRequest(format!(
                    "query parameter {k} given twice"
                )));
            }
            match k.as_str() {
                "since" => p.since = Some(UtcTime::parse(&v).map_err(|e| ApiError::BadRequest(format!("since: {e}")))?),
                "after_key" => p.after_key = Some(v),
                "before" => p.before = Some(UtcTime::parse(&v).map_err(|e| ApiError::BadRequest(format!("before: {e}")))?),
                "keys" => p.keys = Some(v),
                "include_columns" => p.include = Some(column_list(&v)),
                "exclude_columns" => p.exclude = column_list(&v),
                "cursor" => p.cursor = Some(v),
                "cursor_zone" => p.cursor_zone = Some(v),
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "unknown query parameter {other:?}; known: since, after_key, before, keys, include_columns, exclude_columns, cursor, cursor_zone"
                    )))
                }
            }
        }
        if p.cursor_zone.is_some() && p.cursor.is_none() {
            return Err(ApiError::BadRequest(
                "cursor_zone needs cursor: it says how a named DATETIME cursor's values read"
                    .into(),
            ));
        }
        if p.after_key.is_some() && p.since.is_none() {
            return Err(ApiError::BadRequest("after_key needs since".into()));
        }
        if p.keys.is_some() && p.since.is_some() {
            return Err(ApiError::BadRequest(
                "keys asks for rows by key: it cannot be combined with since/after_key".into(),
            ));
        }
        Ok(p)
    }
}

/// Indexes of the columns to send, in table order. The timestamp and key
/// columns are always sent (the stream is ordered and resumed by them):
/// `include_columns` need not name them, `exclude_columns` may not.
/// Generated columns are never sent: the destination computes them (and
/// refuses values for them).
pub fn select_columns(t: &TableMeta, p: &Params) -> Result<Vec<usize>, ApiError> {
    let lookup = |name: &String, param: &str| {
        t.column(name).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "unknown column `{name}` in {param} of table `{}`",
                t.name
            ))
        })
    };
    let mut wanted: Vec<bool> = vec![p.include.is_none(); t.columns.len()];
    if let Some(include) = &p.include {
        for name in include {
            let i = lookup(name, "include_columns")?;
            if t.columns[i].generated {
                return Err(ApiError::BadRequest(format!(
                    "column `{name}` of table `{}` is generated: it is never sent, the destination computes it",
                    t.name
                )));
            }
            wanted[i] = true;
        }
    }
    for name in &p.exclude {
        wanted[lookup(name, "exclude_columns")?] = false;
    }
    for (i, c) in t.columns.iter().enumerate() {
        if c.generated {
            wanted[i] = false;
        }
    }
    if !wanted.iter().any(|w| *w) {
        return Err(ApiError::BadRequest(
            "nothing left to select: include_columns/exclude_columns leave no column".into(),
        ));
    }
    for i in t.timestamp.iter().chain(&t.key) {
        if p.exclude.contains(&t.columns[*i].name) {
            return Err(ApiError::BadRequest(format!(
                "column `{}` cannot be excluded: it is the timestamp or part of the primary key",
                t.columns[*i].name
            )));
        }
        wanted[*i] = true;
    }
    Ok((0..t.columns.len()).filter(|&i| wanted[i]).collect())
}

fn wire_column(t: &TableMeta, i: usize) -> Column {
    let c = &t.columns[i];
    Column {
        name: c.name.clone(),
        sql_type: c.column_type.clone(),
        encoding: c.encoding(),
    }
}

fn date_value(t: UtcTime) -> Value {
    Value::Date(t.year, t.month, t.day, t.hour, t.minute, t.second, t.micro)
}

/// Decodes `after_key` into one value per key column.
fn key_values(t: &TableMeta, raw: &str) -> Result<Vec<Value>, ApiError> {
    decode_key(t, raw, "after_key")
}

/// Decodes a key (a JSON array with one value per key column, in wire
/// encoding) of parameter `param`; errors are 400s naming it.
pub fn decode_key(t: &TableMeta, raw: &str, param: &str) -> Result<Vec<Value>, ApiError> {
    let bad = |m: String| ApiError::BadRequest(format!("{param}: {m}"));
    let items: Vec<&RawValue> =
        serde_json::from_str(raw).map_err(|e| bad(format!("not a JSON array: {e}")))?;
    if items.len() != t.key.len() {
        return Err(bad(format!(
            "expected {} key values, got {}",
            t.key.len(),
            items.len()
        )));
    }
    items
        .iter()
        .zip(&t.key)
        .map(|(item, &i)| {
            let v = value::decode_value(item, &wire_column(t, i)).map_err(bad)?;
            if v == Value::NULL {
                return Err(bad("key values cannot be null".into()));
            }
            Ok(v)
        })
        .collect()
}

/// Decodes `keys`: a JSON array of 1 to [`MAX_KEYS`] keys.
fn keys_values(t: &TableMeta, raw: &str) -> Result<Vec<Vec<Value>>, ApiError> {
    let items: Vec<&RawValue> = serde_json::from_str(raw)
        .map_err(|e| ApiError::BadRequest(format!("keys: not a JSON array of keys: {e}")))?;
    if items.is_empty() || items.len() > MAX_KEYS {
        return Err(ApiError::BadRequest(format!(
            "keys: give from 1 to {MAX_KEYS} keys, not {}",
            items.len()
        )));
    }
    items
        .iter()
        .map(|k| decode_key(t, k.get(), "keys"))
        .collect()
}

/// Runs the stream for `t` and writes it to `resp`. Returns the rows sent.
/// Errors before the first byte become a normal error response (the
/// caller's job); errors after it end the stream with an error line. When
/// the client goes away, or the server stops, `cancel` ends the query on the
/// source instead of reading the rest of it.
/// `instant` is the horizon in UTC when `horizon` is on an application's
/// wall clock (told in the header, for freshness).
#[allow(clippy::too_many_arguments)]
pub fn run(
    conn: &mut impl Queryable,
    db: &str,
    t: &TableMeta,
    p: &Params,
    horizon: UtcTime,
    instant: Option<UtcTime>,
    resp: &mut Response<'_>,
    cancel: &dyn Fn(),
) -> Result<u64, ApiError> {
    let selected = select_columns(t, p)?;
    let ts_fsp = t.ts().fsp;
    let instant = instant.filter(|_| p.before.is_none_or(|b| b >= horizon));
    let horizon = match p.before {
        Some(before) if before < horizon => before,
        _ => horizon,
    };
    let horizon = horizon.truncate(ts_fsp);
    let names: Vec<&str> = selected
        .iter()
        .map(|&i| t.columns[i].name.as_str())
        .collect();
    let key_names = t.key_names();
    let (bound, params) = match (&p.since, &p.after_key) {
        (None, _) if p.keys.is_some() => {
            let keys = keys_values(t, p.keys.as_deref().unwrap_or_default())?;
            let mut params = vec![date_value(horizon)];
            params.extend(keys.iter().flatten().cloned());
            (Bound::Keys(keys.len()), params)
        }
        (None, _) => (Bound::All, vec![date_value(horizon)]),
        (Some(s), None) => (Bound::Since, vec![date_value(*s), date_value(horizon)]),
        (Some(s), Some(k)) => {
            let keys = key_values(t, k)?;
            (
                Bound::After,
                sql::after_params(date_value(*s), date_value(horizon), &keys),
            )
        }
    };
    let query = sql::stream_select(
        db,
        &t.name,
        t.timestamp_index.as_deref(),
        &names,
        &t.ts().name,
        &key_names,
        bound,
    );
    dbdump_shared::debug!("stream query: {query}");
    let mut result = conn.exec_iter(query, params)?;
    let codecs = ValueCodec::for_columns(result.columns().as_ref());
    let position = |i: usize| selected.iter().position(|&s| s == i).unwrap_or(0);
    let ts_pos = position(t.timestamp.unwrap_or(0));
    let key_pos: Vec<usize> = t.key.iter().map(|&i| position(i)).collect();
    let columns: Vec<Column> = selected
        .iter()
        .zip(&codecs)
        .map(|(&i, codec)| Column {
            encoding: codec.encoding,
            ..wire_column(t, i)
        })
        .collect();
    let header = Header {
        protocol: wire::PROTOCOL,
        database: db.to_string(),
        table: t.name.clone(),
        columns,
        timestamp_column: t.ts().name.clone(),
        key: key_names.iter().map(|s| s.to_string()).collect(),
        since: p.since.map(|s| s.format(6)),
        after_key: p
            .after_key
            .as_ref()
            .and_then(|k| RawValue::from_string(k.clone()).ok()),
        horizon: horizon.format(ts_fsp),
        horizon_utc: instant.map(|i| i.format(6)),
    };
    let mut rows = 0u64;
    // Once every row is read there is no query left to cancel, and the
    // pooled session is healthy: keep it.
    let finished_but_gone = |rows: u64, e: std::io::Error| {
        ApiError::Internal(format!("client went away after {rows} rows ({e})"))
    };
    let gone = |rows: u64, e: std::io::Error| {
        cancel();
        ApiError::Internal(format!(
            "client went away after {rows} rows ({e}); source query cancelled"
        ))
    };
    let out = resp.stream(wire::NDJSON).map_err(|e| gone(0, e))?;
    out.write_all(&wire::header_line(&header))
        .map_err(|e| gone(0, e))?;

    let mut last: Option<Row> = None;
    let mut line = Vec::with_capacity(4096);
    for row in result.by_ref() {
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                let msg = format!(
                    "source database error mid-stream after {rows} rows: {}",
                    describe(&e)
                );
                let err = match ApiError::from(e) {
                    ApiError::SourceUnavailable(_) => ApiError::SourceUnavailable(msg),
                    _ => ApiError::Internal(msg),
                };
                let _ = out.write_all(&wire::error_line(err.status(), &err.to_string()));
                return Err(err);
            }
        };
        line.clear();
        line.push(b'[');
        for (i, codec) in codecs.iter().enumerate() {
            if i > 0 {
                line.push(b',');
            }
            let v = row.as_ref(i).unwrap_or(&Value::NULL);
            if let Err(e) = value::encode_value(&mut line, v, *codec) {
                let msg = format!("column `{}`: {e}", names[i]);
                let _ = out.write_all(&wire::error_line(500, &msg));
                return Err(ApiError::Internal(msg));
            }
        }
        line.extend_from_slice(b"]\n");
        out.write_all(&line).map_err(|e| gone(rows, e))?;
        rows += 1;
        last = Some(row);
        if rows.is_multiple_of(1024) && signals::stop_requested() {
            let _ = out.write_all(&wire::error_line(503, "server is shutting down; retry"));
            cancel();
            return Err(ApiError::Busy);
        }
    }
    let (last_timestamp, last_key) = match &last {
        None => (None, None),
        Some(row) => {
            let encode = |pos: usize| {
                let mut buf = Vec::new();
                let _ = value::encode_value(
                    &mut buf,
                    row.as_ref(pos).unwrap_or(&Value::NULL),
                    codecs[pos],
                );
                String::from_utf8(buf).unwrap_or_default()
            };
            let ts: Option<String> = serde_json::from_str(&encode(ts_pos)).ok().flatten();
            let key = format!(
                "[{}]",
                key_pos
                    .iter()
                    .map(|&p| encode(p))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            (ts, RawValue::from_string(key).ok())
        }
    };
    let trailer = Trailer {
        rows,
        last_timestamp,
        last_key,
        horizon: horizon.format(ts_fsp),
    };
    out.write_all(&wire::trailer_line(&trailer))
        .map_err(|e| finished_but_gone(rows, e))?;
    out.flush().map_err(|e| finished_but_gone(rows, e))?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::ColumnMeta;

    fn table() -> TableMeta {
        let col = |name: &str, ty: &str| ColumnMeta::plain(name, ty, "");
        TableMeta {
            name: "t".into(),
            columns: vec![
                col("id", "int"),
                col("a", "varchar"),
                col("b", "blob"),
                col("ts", "timestamp"),
            ],
            timestamp: Some(3),
            key: vec![0],
            timestamp_index: Some("ts".into()),
        }
    }

    fn params(q: &str) -> Result<Params, ApiError> {
        Params::parse(q)
    }

    #[test]
    fn parses_parameters() {
        let p = params("since=2014-09-01+01:23:45&include_columns=a,b&exclude_columns=b").unwrap();
        assert_eq!(p.since.unwrap().format(0), "2014-09-01 01:23:45");
        assert_eq!(p.include, Some(vec!["a".into(), "b".into()]));
        assert_eq!(p.exclude, vec!["b".to_string()]);
        assert!(params("since=garbage")
            .unwrap_err()
            .to_string()
            .contains("since"));
        assert!(params("sinse=2014-01-01")
            .unwrap_err()
            .to_string()
            .contains("unknown query parameter"));
        assert!(params("since=2014-01-01&since=2014-01-02").is_err());
        assert!(params("after_key=[1]").is_err());
        assert_eq!(params("").unwrap(), Params::default());
        let p = params("cursor=updated_at&cursor_zone=Europe%2FBerlin").unwrap();
        assert_eq!(p.cursor.as_deref(), Some("updated_at"));
        assert_eq!(p.cursor_zone.as_deref(), Some("Europe/Berlin"));
        assert!(params("cursor_zone=UTC")
            .unwrap_err()
            .to_string()
            .contains("needs cursor"));
    }

    #[test]
    fn column_selection_keeps_order_key_and_timestamp() {
        let t = table();
        assert_eq!(
            select_columns(&t, &params("").unwrap()).unwrap(),
            [0, 1, 2, 3]
        );
        assert_eq!(
            select_columns(&t, &params("include_columns=b").unwrap()).unwrap(),
            [0, 2, 3]
        );
        assert_eq!(
            select_columns(&t, &params("exclude_columns=a,b").unwrap()).unwrap(),
            [0, 3]
        );
        let err = select_columns(&t, &params("include_columns=nope").unwrap()).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains("`nope`"));
        let err = select_columns(&t, &params("exclude_columns=ts").unwrap()).unwrap_err();
        assert!(err.to_string().contains("cannot be excluded"));
        let err = select_columns(&t, &params("include_columns=a&exclude_columns=a").unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("nothing left"));
        let err = select_columns(&t, &params("include_columns=").unwrap()).unwrap_err();
        assert!(err.to_string().contains("nothing left"));
    }

    #[test]
    fn after_key_is_checked() {
        let t = table();
        assert_eq!(key_values(&t, "[5]").unwrap(), vec![Value::Int(5)]);
        assert!(key_values(&t, "[5,6]").is_err());
        assert!(key_values(&t, "[null]").is_err());
        assert!(key_values(&t, "5").is_err());
        assert!(key_values(&t, "[").is_err());
    }
}
