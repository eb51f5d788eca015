//! The digest stream of one table (`GET /<db>/<table>/digest`): for each
//! requested key range, the source database hashes every row (or only its
//! key) in key order, and dbd_server folds the hashes into chunks of
//! `chunk_rows` rows as they stream by, writing one line per chunk; a
//! keyless table's digest is one chunk of all its rows. Every range is read
//! in one consistent snapshot; nothing is collected, so memory stays flat
//! whatever the table's size.

use mysql::prelude::Queryable;
use mysql::{Row, Value};

use dbdump_shared::dberror::describe;
use dbdump_shared::digest::{
    self, chunk_line, Digest, DigestHeader, DigestTrailer, Kind, DEFAULT_CHUNK_ROWS, MAX_CHUNK_ROWS,
};
use dbdump_shared::since::UtcTime;
use dbdump_shared::sql::{key_params, key_range_hashes, row_hash, HashClass};
use dbdump_shared::value::{self, ValueCodec};
use dbdump_shared::wire::{self, Column};
use dbdump_shared::{http as h, signals};

use crate::edge::http::Response;
use crate::error::ApiError;
use crate::inspect::TableMeta;
use crate::sql;
use crate::streams::params::{self as stream, column_list};

/// One key range of a request, decoded: `(after, until]`.
type Range = (Option<Vec<Value>>, Option<Vec<Value>>);

/// The query parameters of a digest request.
#[derive(Debug, PartialEq)]
pub struct Params {
    pub kind: Kind,
    pub chunk_rows: u64,
    /// Raw `ranges` (decoded against the key once the table is known).
    pub ranges: Option<String>,
    /// The stream's column selection: what a `row` digest covers.
    pub columns: stream::Params,
}

impl Params {
    pub fn parse(query: &str) -> Result<Params, ApiError> {
        let bad = ApiError::BadRequest;
        let mut p = Params {
            kind: Kind::Row,
            chunk_rows: DEFAULT_CHUNK_ROWS,
            ranges: None,
            columns: stream::Params::default(),
        };
        let mut seen = std::collections::HashSet::new();
        for (k, v) in h::parse_query(query).map_err(bad)? {
            if !seen.insert(k.clone()) {
                return Err(bad(format!("query parameter {k} given twice")));
            }
            match k.as_str() {
                "kind" => {
                    p.kind = Kind::parse(&v)
                        .ok_or_else(|| bad(format!("kind must be key or row, not {v:?}")))?
                }
                "chunk_rows" => {
                    p.chunk_rows = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_CHUNK_ROWS).contains(n))
                        .ok_or_else(|| {
                            bad(format!(
                                "chunk_rows must be a number from 1 to {MAX_CHUNK_ROWS}, not {v:?}"
                            ))
                        })?
                }
                "ranges" => p.ranges = Some(v),
                "include_columns" => p.columns.include = Some(column_list(&v)),
                "exclude_columns" => p.columns.exclude = column_list(&v),
                "cursor" => p.columns.cursor = Some(v),
                "cursor_unit" => p.columns.cursor_unit = Some(v),
                other => {
                    return Err(bad(format!(
                        "unknown query parameter {other:?}; known: kind, chunk_rows, ranges, \
                         include_columns, exclude_columns, cursor, cursor_unit"
                    )))
                }
            }
        }
        Ok(p)
    }

    /// The ranges asked for (the whole table by default), decoded.
    fn ranges(&self, t: &TableMeta) -> Result<Vec<Range>, ApiError> {
        let Some(text) = &self.ranges else {
            return Ok(vec![(None, None)]);
        };
        if t.key.is_empty() {
            return Err(ApiError::BadRequest(format!(
                "table `{}` has no key: its digest is one of the whole table, without ranges",
                t.name
            )));
        }
        let key = |raw: &Option<Box<serde_json::value::RawValue>>| {
            raw.as_ref()
                .map(|k| stream::decode_key(t, k.get(), "ranges"))
                .transpose()
        };
        digest::parse_ranges(text)
            .map_err(ApiError::BadRequest)?
            .iter()
            .map(|(after, until)| Ok((key(after)?, key(until)?)))
            .collect()
    }
}

/// The columns a digest of `kind` hashes, as table column indexes: the key,
/// or what the stream would send.
fn hashed_columns(t: &TableMeta, p: &Params) -> Result<Vec<usize>, ApiError> {
    let selected = stream::select_columns(t, &p.columns)?;
    if t.key.is_empty() && p.kind == Kind::Key {
        return Err(ApiError::BadRequest(format!(
            "table `{}` has no key: only a row digest (kind=row) of the whole table",
            t.name
        )));
    }
    Ok(match p.kind {
        Kind::Key => t.key.clone(),
        Kind::Row => selected,
    })
}

/// Checks everything a request can get wrong before any byte is written.
pub fn validate(t: &TableMeta, p: &Params) -> Result<(), ApiError> {
    hashed_columns(t, p)?;
    p.ranges(t)?;
    Ok(())
}

/// Runs the digest of `t` and writes it to `resp`; returns the chunks sent.
/// Errors before the first byte become a normal error response; after it,
/// an error line ends the stream. `cancel` ends the source query when the
/// client goes away.
/// `horizon` is the one read just before: every transaction that began
/// before it is in the digest's snapshot.
pub fn run(
    conn: &mut impl Queryable,
    db: &str,
    t: &TableMeta,
    p: &Params,
    horizon: UtcTime,
    resp: &mut Response<'_>,
    cancel: &dyn Fn(),
) -> Result<u64, ApiError> {
    let hashed = hashed_columns(t, p)?;
    let ranges = p.ranges(t)?;
    let hash_input: Vec<(&str, HashClass)> = hashed
        .iter()
        .map(|&i| {
            let c = &t.columns[i];
            (c.name.as_str(), c.hash_class())
        })
        .collect();
    let hash = row_hash(&hash_input, p.kind == Kind::Row);
    let key = t.key_names();
    let header = DigestHeader {
        protocol: wire::PROTOCOL,
        database: db.to_string(),
        table: t.name.clone(),
        kind: p.kind,
        hash: "crc32".into(),
        columns: hashed
            .iter()
            .map(|&i| Column {
                name: t.columns[i].name.clone(),
                sql_type: t.columns[i].column_type.clone(),
                encoding: t.columns[i].encoding(),
            })
            .collect(),
        key: key.iter().map(|s| s.to_string()).collect(),
        chunk_rows: p.chunk_rows,
        ranges: ranges.len(),
        horizon: Some(horizon.format(6)),
    };
    let mut snapshot = Snapshot::open(conn)?;
    write_digests(
        snapshot.conn(),
        db,
        t,
        &key,
        &hash,
        &ranges,
        &header,
        resp,
        cancel,
    )
}

/// The digest's transaction: rolled back when dropped, on every path,
/// unwinding from a panic included. A session must never go back to the
/// pool inside it: the next stream served on it would read the old
/// snapshot under a new horizon (and purge would be held back). A killed
/// session fails the rollback, and the pool replaces it.
struct Snapshot<'a, Q: Queryable> {
    conn: &'a mut Q,
}

impl<'a, Q: Queryable> Snapshot<'a, Q> {
    fn open(conn: &'a mut Q) -> Result<Self, ApiError> {
        for q in sql::START_SNAPSHOT {
            if let Err(e) = conn.query_drop(q) {
                let _ = conn.query_drop(sql::ROLLBACK);
                return Err(e.into());
            }
        }
        Ok(Snapshot { conn })
    }

    fn conn(&mut self) -> &mut Q {
        self.conn
    }
}

impl<Q: Queryable> Drop for Snapshot<'_, Q> {
    fn drop(&mut self) {
        let _ = self.conn.query_drop(sql::ROLLBACK);
    }
}

/// The part of [`run`] inside the snapshot.
#[allow(clippy::too_many_arguments)]
fn write_digests(
    conn: &mut impl Queryable,
    db: &str,
    t: &TableMeta,
    key: &[&str],
    hash: &str,
    ranges: &[Range],
    header: &DigestHeader,
    resp: &mut Response<'_>,
    cancel: &dyn Fn(),
) -> Result<u64, ApiError> {
    let gone = |chunks: u64, e: std::io::Error| {
        cancel();
        ApiError::Internal(format!(
            "client went away after {chunks} chunks ({e}); source query cancelled"
        ))
    };
    let out = resp.stream(wire::NDJSON).map_err(|e| gone(0, e))?;
    let mut head = b"{\"header\":".to_vec();
    let _ = serde_json::to_writer(&mut head, header);
    head.extend_from_slice(b"}\n");
    out.write_all(&head).map_err(|e| gone(0, e))?;

    let (mut chunks, mut rows) = (0u64, 0u64);
    let mut line = Vec::with_capacity(256);
    // A keyless table's rows have no order: its digest is one chunk.
    let whole = key.is_empty();
    for (index, (after, until)) in ranges.iter().enumerate() {
        // Through the key, in key order: chunks fold as rows stream by.
        let query = if whole {
            sql::whole_hashes(db, &t.name, hash)
        } else {
            key_range_hashes(
                db,
                &t.name,
                key,
                hash,
                after.is_some(),
                until.is_some(),
                t.key_index.as_deref(),
            )
        };
        dbdump_shared::debug!("digest query: {query}");
        let mut params = after.as_deref().map(key_params).unwrap_or_default();
        params.extend(until.as_deref().map(key_params).unwrap_or_default());
        let mut result = conn.exec_iter(query, params)?;
        let codecs = ValueCodec::for_columns(result.columns().as_ref());
        let mut digest = Digest::default();
        let mut last: Option<Row> = None;
        let fail = |out: &mut dyn std::io::Write, err: ApiError| {
            let _ = out.write_all(&wire::error_line(err.status(), &err.to_string()));
            err
        };
        for row in result.by_ref() {
            let row = match row {
                Ok(r) => r,
                Err(e) => {
                    let msg = format!(
                        "source database error mid-digest after {rows} rows: {}",
                        describe(&e)
                    );
                    let err = match ApiError::from(e) {
                        ApiError::SourceUnavailable(_) => ApiError::SourceUnavailable(msg),
                        _ => ApiError::Internal(msg),
                    };
                    return Err(fail(out, err));
                }
            };
            let h = match row.as_ref(key.len()) {
                Some(Value::Int(v)) => u32::try_from(*v).ok(),
                Some(Value::UInt(v)) => u32::try_from(*v).ok(),
                _ => None,
            };
            let Some(h) = h else {
                return Err(fail(
                    out,
                    ApiError::Internal("the source returned no row hash".into()),
                ));
            };
            digest.add(h);
            rows += 1;
            last = Some(row);
            if digest.rows == header.chunk_rows && !whole {
                encode_chunk(&mut line, index, last.as_ref(), &codecs, key.len(), &digest)
                    .map_err(|e| fail(out, e))?;
                out.write_all(&line).map_err(|e| gone(chunks, e))?;
                chunks += 1;
                digest = Digest::default();
                // Out in small batches, so that the client compares its
                // side while this one is still being read.
                if chunks.is_multiple_of(32) {
                    out.flush().map_err(|e| gone(chunks, e))?;
                }
                if chunks.is_multiple_of(256) && signals::stop_requested() {
                    let _ = out.write_all(&wire::error_line(503, "server is shutting down; retry"));
                    cancel();
                    return Err(ApiError::Busy);
                }
            }
        }
        if digest.rows > 0 {
            encode_chunk(&mut line, index, last.as_ref(), &codecs, key.len(), &digest)
                .map_err(|e| fail(out, e))?;
            out.write_all(&line).map_err(|e| gone(chunks, e))?;
            chunks += 1;
        }
    }
    let mut trailer = b"{\"trailer\":".to_vec();
    let _ = serde_json::to_writer(&mut trailer, &DigestTrailer { chunks, rows });
    trailer.extend_from_slice(b"}\n");
    let finished = |e: std::io::Error| {
        ApiError::Internal(format!("client went away after {chunks} chunks ({e})"))
    };
    out.write_all(&trailer).map_err(finished)?;
    out.flush().map_err(finished)?;
    Ok(chunks)
}

/// The chunk line of `digest`, whose last row is `row` (its key: the first
/// `width` columns), into `line`.
fn encode_chunk(
    line: &mut Vec<u8>,
    range: usize,
    row: Option<&Row>,
    codecs: &[ValueCodec],
    width: usize,
    digest: &Digest,
) -> Result<(), ApiError> {
    let mut key = Vec::with_capacity(64);
    encode_key(&mut key, row, codecs, width)?;
    line.clear();
    chunk_line(line, range, &key, digest);
    Ok(())
}

/// Writes the key of `row` (its first `width` columns) as a JSON array.
fn encode_key(
    out: &mut Vec<u8>,
    row: Option<&Row>,
    codecs: &[ValueCodec],
    width: usize,
) -> Result<(), ApiError> {
    out.push(b'[');
    for (i, codec) in codecs.iter().enumerate().take(width) {
        if i > 0 {
            out.push(b',');
        }
        let v = row.and_then(|r| r.as_ref(i)).unwrap_or(&Value::NULL);
        value::encode_value(out, v, *codec)
            .map_err(|e| ApiError::Internal(format!("key column {i}: {e}")))?;
    }
    out.push(b']');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_parameters() {
        let p = Params::parse("kind=key&chunk_rows=32&ranges=%5B%5Bnull%2Cnull%5D%5D").unwrap();
        assert_eq!((p.kind, p.chunk_rows), (Kind::Key, 32));
        assert_eq!(p.ranges.as_deref(), Some("[[null,null]]"));
        let p = Params::parse("exclude_columns=a,b").unwrap();
        assert_eq!((p.kind, p.chunk_rows), (Kind::Row, DEFAULT_CHUNK_ROWS));
        assert_eq!(p.columns.exclude, ["a", "b"]);
        for bad in [
            "kind=all",
            "chunk_rows=0",
            "chunk_rows=100001",
            "chunk_rows=x",
            "since=2020-01-01",
            "kind=key&kind=row",
        ] {
            assert_eq!(Params::parse(bad).unwrap_err().status(), 400, "{bad}");
        }
    }
}
