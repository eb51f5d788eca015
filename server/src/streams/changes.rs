//! The changes question, `GET /<db>/?resume=…`: given each table's resume
//! point, which tables have rows past it below the horizon. Every table is
//! asked with the very filter its change stream would use (`stream_select`
//! under one horizon, truncated to each timestamp column's precision), one
//! index probe each, many tables per statement; so "unchanged" means
//! exactly "the stream would be empty", and a copy at that resume point is
//! complete up to the horizon the answer gives. A table read by a named
//! cursor is asked about by it, under the horizon its stream would have.
//!
//! A table synced by digests or whole has no cursor to probe: its entry
//! gives the horizon of the comparison its copy last came out of equal
//! (`compared`), and the answer is "unchanged" only when the source can
//! tell: InnoDB on MariaDB sets `information_schema.TABLES.UPDATE_TIME` at
//! every commit to the start of the committing transaction, and every
//! transaction still open at a horizon's reading started at or after that
//! horizon. So an `UPDATE_TIME` before the compared horizon (whole seconds,
//! as it is kept) means nothing committed since that comparison's snapshots.
//! Anything else (NULL after a restart or eviction, another engine, MySQL,
//! a source account that cannot see transactions) counts as changed.

use std::collections::{BTreeMap, BTreeSet};

use mysql::prelude::Queryable;
use mysql::Value;

use dbdump_shared::changes::{self, ChangesAnswer, Resume, TableChange};
use dbdump_shared::http as h;
use dbdump_shared::since::UtcTime;
use dbdump_shared::sql::take;
use dbdump_shared::wire::Method;

use crate::edge::http::{Outcome, Response};
use crate::error::ApiError;
use crate::horizon::wallclock;
use crate::inspect::cursor::{self, Named};
use crate::inspect::{self, TableMeta};
use crate::source::Source;
use crate::sql;
use crate::streams::params::{decode_key, select_columns, Params, Rows};
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
    /// For a table synced by digests or whole: the horizon of its last
    /// equal comparison (no probe: `UPDATE_TIME` tells).
    compared: Option<UtcTime>,
}

impl Probe {
    /// The table's change-stream query from the resume point (selecting
    /// the timestamp only) and its parameters, under its horizon.
    fn query(&self, db: &str) -> (String, Vec<Value>) {
        let t = &self.table;
        let rows = match &self.resume {
            None => Rows::Everything,
            Some((since, key)) => Rows::After(*since, key.clone()),
        };
        let ts = t.cursor().map_or("", |c| c.name.as_str());
        stream::select(db, t, &[ts], &rows, self.horizon.truncate(t.cursor_fsp()))
    }

    /// The precision its horizon is told at.
    fn fsp(&self) -> u8 {
        if self.compared.is_some() {
            6
        } else {
            self.table.cursor_fsp()
        }
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
        let columns = Params {
            exclude: resume.exclude_columns.clone(),
            ..Params::default()
        };
        let sent = select_columns(&table, &columns).map_err(in_words)?;
        let time = |what: &str, text: &str| {
            UtcTime::parse(text).map_err(|e| ApiError::BadRequest(format!("{param}: {what}: {e}")))
        };
        let after = match &resume.after {
            None => None,
            Some((since, key)) => Some((time("since", since)?, decode_key(&table, key, &param)?)),
        };
        let compared = resume
            .compared
            .as_deref()
            .map(|c| time("compared", c))
            .transpose()?;
        let zone = resume
            .cursor
            .as_ref()
            .and_then(|c| c.cursor_zone.as_deref());
        let datetime = table
            .cursor()
            .is_some_and(|c| c.data_type.eq_ignore_ascii_case("datetime"));
        let horizon = match zone.filter(|_| datetime) {
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
            compared,
        });
    }
    let source_time: String = conn
        .query_first(sql::UTC_NOW)?
        .ok_or_else(|| ApiError::Internal("UTC_TIMESTAMP() returned nothing".into()))?;
    let mut changed = changed(&mut conn, db, &probes)?;
    changed.extend(changed_since(
        &mut conn,
        db,
        &probes,
        source.update_times_tell(),
    )?);
    let tables = probes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let fsp = p.fsp();
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
    for (i, ((name, resume), table)) in points.iter().zip(found).enumerate() {
        match (&resume.cursor, &resume.compared) {
            (Some(c), _) => {
                let unit = c.cursor_unit.as_deref();
                let param = format!("resume of table `{name}`");
                let named_cursor = Named::from_params(Some(c.cursor.as_str()), unit)
                    .map_err(|e| ApiError::BadRequest(format!("{param}: {e}")))?
                    .ok_or_else(|| ApiError::Internal("a cursor without its name".into()))?;
                named.push((i, (table, named_cursor)));
                read.push(None);
            }
            (None, Some(_)) => {
                match cursor::method(&table) {
                    Ok(Method::Digest | Method::Whole) => {}
                    Ok(m) => {
                        return Err(ApiError::BadRequest(format!(
                            "resume of table `{name}`: compared is for tables synced by digests \
                             or whole; `{name}` is synced by its {} column",
                            m.name()
                        )))
                    }
                    Err(why) => return Err(ApiError::NotFound(why)),
                }
                read.push(Some(table));
            }
            (None, None) => {
                if let Some(reason) = cursor::timestamp_reason(&table) {
                    return Err(ApiError::NotFound(reason));
                }
                read.push(Some(table));
            }
        }
    }
    let (at, named): (Vec<usize>, Vec<(TableMeta, Named<'_>)>) = named.into_iter().unzip();
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
    let numbered: Vec<(usize, &Probe)> = probes
        .iter()
        .enumerate()
        .filter(|(_, p)| p.compared.is_none())
        .collect();
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

/// The indexes of the probes of tables synced by digests or whole that
/// may have changed since their compared horizon (see the module's doc):
/// all of them unless `trusted` (MariaDB, transactions visible).
fn changed_since(
    conn: &mut impl Queryable,
    db: &str,
    probes: &[Probe],
    trusted: bool,
) -> Result<BTreeSet<usize>, ApiError> {
    let asked: Vec<(usize, &Probe, UtcTime)> = probes
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some((i, p, p.compared?)))
        .collect();
    let mut changed: BTreeSet<usize> = asked.iter().map(|(i, _, _)| *i).collect();
    if !trusted || asked.is_empty() {
        return Ok(changed);
    }
    let names: Vec<&str> = asked
        .iter()
        .map(|(_, p, _)| p.table.name.as_str())
        .collect();
    let mut params = vec![Value::from(db)];
    params.extend(names.iter().map(|n| Value::from(*n)));
    let rows: Vec<mysql::Row> = conn.exec(sql::update_times(names.len()), params)?;
    for mut row in rows {
        let internal = ApiError::Internal;
        let schema: String = take(&mut row, 0).map_err(internal)?;
        let table: String = take(&mut row, 1).map_err(internal)?;
        let engine: Option<String> = take(&mut row, 2).map_err(internal)?;
        let updated = match row.as_ref(3) {
            Some(Value::Date(y, mo, d, h, mi, s, us)) => {
                Some(UtcTime::from_parts(*y, *mo, *d, *h, *mi, *s, *us))
            }
            _ => None,
        };
        let innodb = engine.is_some_and(|e| e.eq_ignore_ascii_case("InnoDB"));
        for (i, _, compared) in asked.iter().filter(|(_, p, _)| p.table.name == table) {
            // UPDATE_TIME holds whole seconds: a commit in the compared
            // horizon's own second may have come after it.
            let before = updated.is_some_and(|u| u < compared.truncate(0));
            if schema == db && innodb && before {
                changed.remove(i);
            }
        }
    }
    Ok(changed)
}

/// The optimizer's estimate of the rows a changed table's stream holds
/// (none if it will not say): for progress reports and the puller's
/// choices of speed (a first copy's ranges), never of what is copied.
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
