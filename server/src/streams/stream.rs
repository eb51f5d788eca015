//! The change stream of one table: choose the columns, run one ordered
//! SELECT below the horizon (which rows: `params`) and write it as NDJSON
//! while the driver streams it (rows are never collected).

use mysql::prelude::Queryable;
use mysql::{Row, Value};
use serde_json::value::RawValue;

use dbdump_shared::dberror::describe;
use dbdump_shared::signals;
use dbdump_shared::since::UtcTime;
use dbdump_shared::sql::key_params;
use dbdump_shared::value::{self, ValueCodec};
use dbdump_shared::wire::{self, Column, Header, Trailer};

use crate::edge::http::Response;
use crate::error::ApiError;
use crate::inspect::TableMeta;
use crate::sql::{self, Bound, Cursor, StreamSelect};
use crate::streams::params::{select_columns, wire_column, Params, Rows};

/// The query of a stream over `columns` of `t` holding `rows`, below
/// `horizon` (in the cursor's terms, at its precision), and its parameters.
pub fn select(
    db: &str,
    t: &TableMeta,
    columns: &[&str],
    rows: &Rows,
    horizon: UtcTime,
) -> (String, Vec<Value>) {
    let kind = t.cursor_kind;
    let bounds = kind.bounds();
    let cursor = t.cursor().map(|c| Cursor {
        column: c.name.as_str(),
        index: t.timestamp_index.as_deref(),
        bounded: bounds.is_some(),
    });
    let h = kind.value_of(horizon);
    // "Below the horizon": under it, and (for an integer or text cursor)
    // past the greatest time, where the values that are no time sort.
    let mut below = Vec::new();
    if cursor.is_some() {
        below.push(h.clone());
        below.extend(bounds.map(|(_, greatest)| greatest));
    }
    let (bound, params) = match rows {
        Rows::Everything => (Bound::All, below),
        Rows::Since(s) => (Bound::Since, vec![kind.value_of(*s), h]),
        Rows::After(s, key) => (Bound::After, sql::after_params(kind.value_of(*s), h, key)),
        Rows::Keys(keys) => {
            below.extend(keys.iter().flatten().cloned());
            (Bound::Keys(keys.len()), below)
        }
        Rows::KeyRange(after, until) => {
            below.extend(after.as_deref().map(key_params).unwrap_or_default());
            below.extend(until.as_deref().map(key_params).unwrap_or_default());
            let bound = Bound::KeyRange {
                after: after.is_some(),
                until: until.is_some(),
            };
            (bound, below)
        }
    };
    let key = t.key_names();
    let query = sql::stream_select(&StreamSelect {
        db,
        table: &t.name,
        columns,
        cursor,
        key: &key,
        key_index: t.key_index.as_deref(),
        bound,
    });
    (query, params)
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
    let asked = p.rows(t)?;
    // Without a cursor the horizon only dates the snapshot: full precision.
    let fsp = if t.cursor().is_some() {
        t.cursor_fsp()
    } else {
        6
    };
    let instant = instant.filter(|_| p.before.is_none_or(|b| b >= horizon));
    let horizon = match p.before {
        Some(before) if before < horizon => before,
        _ => horizon,
    };
    let horizon = horizon.truncate(fsp);
    let names: Vec<&str> = selected
        .iter()
        .map(|&i| t.columns[i].name.as_str())
        .collect();
    let key_names = t.key_names();
    let (query, params) = select(db, t, &names, &asked, horizon);
    dbdump_shared::debug!("stream query: {query}");
    let mut result = conn.exec_iter(query, params)?;
    let codecs = ValueCodec::for_columns(result.columns().as_ref());
    let position = |i: usize| selected.iter().position(|&s| s == i).unwrap_or(0);
    let ts_pos = t.timestamp.map(position);
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
        timestamp_column: t.cursor().map(|c| c.name.clone()),
        key: key_names.iter().map(|s| s.to_string()).collect(),
        since: p.since.map(|s| s.format(6)),
        after_key: p
            .after_key
            .as_ref()
            .and_then(|k| RawValue::from_string(k.clone()).ok()),
        horizon: horizon.format(fsp),
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
            let ts = ts_pos
                .and_then(|pos| t.cursor_kind.time_of(row.as_ref(pos)?))
                .map(|at| at.format(fsp));
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
        horizon: horizon.format(fsp),
    };
    out.write_all(&wire::trailer_line(&trailer))
        .map_err(|e| finished_but_gone(rows, e))?;
    out.flush().map_err(|e| finished_but_gone(rows, e))?;
    Ok(rows)
}
