//! The changes question, `GET /<db>/?resume=…`: given each table's resume
//! point, which tables have rows past it below the horizon. Every table is
//! asked with the very filter its change stream would use (`stream_select`
//! under one horizon, truncated to each timestamp column's precision), one
//! index probe each, many tables per statement; so "unchanged" means
//! exactly "the stream would be empty", and a copy at that resume point is
//! complete up to the horizon the answer gives. A table read by a named
//! cursor is asked about by it, under the horizon its stream would have.

use std::collections::{BTreeMap, BTreeSet};

use mysql::prelude::Queryable;
use mysql::Value;

use dbdump_shared::changes::{self, ChangesAnswer, Resume, TableChange};
use dbdump_shared::http as h;
use dbdump_shared::since::UtcTime;
use dbdump_shared::sql::take;

use crate::edge::http::{Outcome, Response};
use crate::error::ApiError;
use crate::horizon::wallclock;
use crate::inspect::cursor;
use crate::inspect::{self, TableMeta};
use crate::source::Source;
use crate::sql::{self, Bound};
use crate::streams::stream;

/// Tables probed per statement.
const PROBES_PER_STATEMENT: usize = 50;

/// Whether a request for `/<db>/` asks the changes question.
pub fn asked(query: &str) -> bool {
    h::parse_query(query).is_ok_and(|pairs| pairs.iter().any(|(k, _)| k == changes::PARAM))
}

/// One table to probe: its metadata (with a named cursor as its timestamp
/// column), where the client stands and the horizon its stream would have.
struct Probe {
    table: TableMeta,
    /// `(since, after_key)`; none: any row counts.
    resume: Option<(UtcTime, Vec<Value>)>,
    /// The fingerprint of the columns its stream sends.
    columns: u64,
    /// In the terms of its timestamp column: for a DATETIME cursor in
    /// another zone, that zone's wall clock at the horizon.
    horizon: UtcTime,
}

fn date_value(t: UtcTime) -> Value {
    Value::Date(t.year, t.month, t.day, t.hour, t.minute, t.second, t.micro)
}

impl Probe {
    /// The table's change-stream query from the resume point (selecting
    /// the timestamp only) and its parameters, under its horizon.
    fn query(&self, db: &str) -> (String, Vec<Value>) {
        let t = &self.table;
        let ts = t.ts().name.as_str();
        let horizon = date_value(self.horizon.truncate(t.ts().fsp));
        let (bound, params) = match &self.resume {
            None => (Bound::All, vec![horizon]),
            Some((since, key)) => (
                Bound::After,
                sql::after_params(date_value(*since), horizon, key),
            ),
        };
        let index = t.timestamp_index.as_deref();
        let query = sql::stream_select(db, &t.name, index, &[ts], ts, &t.key_names(), bound);
        (query, params)
    }
}

/// Parses `resume` (the only parameter) into (table, resume) pairs.
fn parse(query: &str) -> Result<Vec<(String, Resume)>, ApiError> {
    let bad = ApiError::BadRequest;
    let mut resume = None;
    for (k, v) in h::parse_query(query).map_err(bad)? {
        match k.as_str() {
            changes::PARAM if resume.is_none() => resume = Some(v),
            changes::PARAM => return Err(bad("query parameter resume given twice".into())),
            other => {
                return Err(bad(format!(
                    "unknown query parameter {other:?}; the changes question takes resume only"
                )))
            }
        }
    }
    let points = changes::parse_resume(&resume.unwrap_or_default())
        .map_err(|e| bad(format!("resume: {e}")))?;
    if points.is_empty() || points.len() > changes::MAX_TABLES {
        return Err(bad(format!(
            "resume: name from 1 to {} tables, not {}",
            changes::MAX_TABLES,
            points.len()
        )));
    }
    Ok(points)
}

/// Answers the changes question for `db`.
pub fn answer(
    source: &Source,
    db: &str,
    query: &str,
    resp: &mut Response<'_>,
) -> Result<Outcome, ApiError> {
    let points = parse(query)?;
    let mut conn = source.conn()?;
    inspect::require_database(&mut conn, db, source.allowed())?;
    let tables = read_as_asked(&mut conn, db, &points)?;
    let hz = source.horizon.current(&mut conn)?;
    source.tell_holder(&format!("`{db}` (changes question)"), &hz);
    // A DATETIME cursor's horizon is its zone's wall clock at the horizon:
    // one look per zone.
    let mut walls: BTreeMap<String, UtcTime> = BTreeMap::new();
    let mut probes = Vec::with_capacity(points.len());
    for ((name, resume), table) in points.iter().zip(tables) {
        let param = format!("resume of table `{name}`");
        let in_words = |e: ApiError| ApiError::BadRequest(format!("{param}: {e}"));
        // The columns are checked as the stream would: a copy that excludes
        // its key learns it now, not once a row changes.
        let columns = stream::Params {
            exclude: resume.exclude_columns.clone(),
            ..stream::Params::default()
        };
        let sent = stream::select_columns(&table, &columns).map_err(in_words)?;
        let after = match &resume.after {
            None => None,
            Some((since, key)) => {
                let since = UtcTime::parse(since)
                    .map_err(|e| ApiError::BadRequest(format!("{param}: since: {e}")))?;
                Some((since, stream::decode_key(&table, key, &param)?))
            }
        };
        let zone = resume
            .cursor
            .as_ref()
            .and_then(|c| c.cursor_zone.as_deref());
        let horizon = match zone.filter(|_| table.ts().data_type.eq_ignore_ascii_case("datetime")) {
            Some(z) if walls.contains_key(z) => walls[z],
            _ => {
                let at = wallclock::cursor_horizon(&mut conn, &table, zone, hz.at)?;
                if let Some(z) = zone.filter(|_| at != hz.at) {
                    walls.insert(z.to_string(), at);
                }
                at
            }
        };
        let columns = changes::columns_fingerprint(sent.iter().map(|&i| {
            let c = &table.columns[i];
            (c.name.as_str(), c.column_type.as_str())
        }));
        probes.push(Probe {
            table,
            resume: after,
            columns,
            horizon,
        });
    }
    let source_time: String = conn
        .query_first(sql::UTC_NOW)?
        .ok_or_else(|| ApiError::Internal("UTC_TIMESTAMP() returned nothing".into()))?;
    let changed = changed(&mut conn, db, &probes)?;
    let tables = probes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let fsp = p.table.ts().fsp;
            let changed = changed.contains(&i);
            TableChange {
                table: p.table.name.clone(),
                changed,
                horizon: p.horizon.truncate(fsp).format(fsp),
                horizon_utc: (p.horizon != hz.at).then(|| hz.at.format(6)),
                estimated_rows: changed.then(|| estimate(&mut conn, db, p)).flatten(),
                columns: Some(p.columns),
            }
        })
        .collect::<Vec<_>>();
    let count = changed.len() as u64;
    let body = ChangesAnswer {
        database: db.to_string(),
        source_time,
        tables,
    };
    resp.json(200, &body, &[]);
    Ok(Outcome { rows: Some(count) })
}

/// Each table asked about as its stream would read it: by its
/// auto-updating column, or by the cursor its entry names.
fn read_as_asked(
    conn: &mut impl Queryable,
    db: &str,
    points: &[(String, Resume)],
) -> Result<Vec<TableMeta>, ApiError> {
    let mut metas: BTreeMap<String, TableMeta> = inspect::tables(conn, db, None)?
        .into_iter()
        .map(|t| (t.name.clone(), t))
        .collect();
    let mut found = Vec::with_capacity(points.len());
    for (name, _) in points {
        let table = metas
            .remove(name)
            .ok_or_else(|| ApiError::NotFound(format!("table `{db}`.`{name}` not found")))?;
        found.push(table);
    }
    let mut named = Vec::new();
    let mut read = Vec::with_capacity(points.len());
    for (i, ((_, resume), table)) in points.iter().zip(found).enumerate() {
        match &resume.cursor {
            Some(c) => {
                named.push((i, (table, c.cursor.as_str())));
                read.push(None);
            }
            None => {
                if let Some(reason) = cursor::unsyncable_reason(&table) {
                    return Err(ApiError::NotFound(reason));
                }
                read.push(Some(table));
            }
        }
    }
    let (at, named): (Vec<usize>, Vec<(TableMeta, &str)>) = named.into_iter().unzip();
    for (i, table) in at.into_iter().zip(cursor::by_cursors(conn, db, named)?) {
        read[i] = Some(table);
    }
    Ok(read.into_iter().flatten().collect())
}

/// The indexes of the probes whose stream would hold a row.
fn changed(
    conn: &mut impl Queryable,
    db: &str,
    probes: &[Probe],
) -> Result<BTreeSet<usize>, ApiError> {
    let mut found = BTreeSet::new();
    let numbered: Vec<(usize, &Probe)> = probes.iter().enumerate().collect();
    for batch in numbered.chunks(PROBES_PER_STATEMENT) {
        let mut queries = Vec::with_capacity(batch.len());
        let mut params = Vec::new();
        for (i, probe) in batch {
            let (query, p) = probe.query(db);
            queries.push((*i, query));
            params.extend(p);
        }
        let statement = sql::any_rows(&queries);
        dbdump_shared::debug!("changes query: {statement}");
        let rows: Vec<mysql::Row> = conn.exec(statement, params)?;
        for mut row in rows {
            let i: u64 = take(&mut row, 0).map_err(ApiError::Internal)?;
            found.insert(i as usize);
        }
    }
    Ok(found)
}

/// The optimizer's estimate of the rows a changed table's stream holds
/// (none if it will not say): for progress reports, never for decisions.
fn estimate(conn: &mut impl Queryable, db: &str, p: &Probe) -> Option<u64> {
    let (query, params) = p.query(db);
    let mut result = conn.exec_iter(sql::explain(&query), params).ok()?;
    let column = result
        .columns()
        .as_ref()
        .iter()
        .position(|c| c.name_str().eq_ignore_ascii_case("rows"))?;
    let mut most: Option<u64> = None;
    for row in result.by_ref() {
        let rows = match row.ok()?.as_ref(column) {
            Some(Value::Int(n)) => u64::try_from(*n).ok(),
            Some(Value::UInt(n)) => Some(*n),
            Some(Value::Bytes(b)) => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        };
        most = most.max(rows);
    }
    most
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters() {
        assert!(asked("resume=%7B%7D"));
        assert!(!asked(""));
        assert!(!asked("since=2020-01-01"));
        let p = parse("resume=%7B%22t%22%3Anull%7D").unwrap();
        assert_eq!(p, [("t".to_string(), Resume::default())]);
        for bad in [
            "resume=%7B%7D",
            "resume=x",
            "resume=%7B%22t%22%3A1%7D",
            "resume=%7B%22t%22%3Anull%7D&since=2020-01-01",
            "resume=%7B%22t%22%3Anull%7D&resume=%7B%7D",
        ] {
            assert_eq!(parse(bad).unwrap_err().status(), 400, "{bad}");
        }
    }
}
