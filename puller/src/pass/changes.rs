//! Before a pass's streams: ask the server, in one request (or a few, for
//! very many tables), which tables have rows past the destination's resume
//! points below its horizon, so that a poll costs a stream per table that
//! changed rather than per table. An unchanged table is complete up to the
//! answer's horizon without a stream of its own. Anything that goes wrong
//! here (an older server, a table dropped since the listing) only means
//! that those tables get their stream as before.

use std::collections::{HashMap, HashSet};

use mysql::prelude::Queryable;

use dbdump_shared::changes::{self, ChangesAnswer, NamedCursor, Resume};
use dbdump_shared::http::percent_encode;
use dbdump_shared::sql::take;
use dbdump_shared::{debug, warn};

use crate::apply::destination::Destination;
use crate::config::Config;
use crate::pass::schedule::Schedule;
use crate::pass::tables::{ByCursor, How, Planned};
use crate::source::client::{Client, ClientError};
use crate::source::clock;
use crate::source::retry::with_busy_retry;
use crate::sql;

/// Longest query string of one request (the server takes request lines
/// up to 16 KiB).
const QUERY_BUDGET: usize = 12 * 1024;

/// What the server said about the tables of one pass.
#[derive(Default)]
pub struct Survey {
    /// Tables with nothing new, and the horizon each is complete up to
    /// (with, for a wall-clock cursor, that horizon in UTC).
    unchanged: HashMap<String, (String, Option<String>)>,
    /// Tables with something new (or a changed shape).
    changed: HashSet<String>,
    /// The source's estimate of the rows of each changed table's stream.
    estimates: HashMap<String, u64>,
}

impl Survey {
    /// The horizon `table` is complete up to, if it has nothing new, and
    /// for a wall-clock cursor that horizon in UTC.
    pub fn unchanged(&self, table: &str) -> Option<(&str, Option<&str>)> {
        self.unchanged
            .get(table)
            .map(|(h, utc)| (h.as_str(), utc.as_deref()))
    }

    pub fn estimate(&self, table: &str) -> Option<u64> {
        self.estimates.get(table).copied()
    }

    /// Whether `table` has changed, if the server was asked.
    pub fn changed(&self, table: &str) -> Option<bool> {
        if self.changed.contains(table) {
            Some(true)
        } else {
            self.unchanged.contains_key(table).then_some(false)
        }
    }
}

/// Asks about every listed table that exists on the destination, by its
/// auto-updating column or by the cursor it is read by; a table synced by
/// digests or whole, by the horizon of its last equal comparison (one the
/// schedule knows of).
pub fn survey(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    tables: &[Planned],
    schedule: &Schedule,
) -> Survey {
    let mut survey = Survey::default();
    let existing = match existing_tables(dest) {
        Ok(names) => names,
        Err(e) => {
            debug!("no changes question this pass: {e}");
            return survey;
        }
    };
    // A table planned twice (by two cursors) gets both its streams: one
    // answer per name could not tell them apart.
    let mut planned: HashMap<&str, usize> = HashMap::new();
    for t in tables {
        *planned.entry(t.name.as_str()).or_default() += 1;
    }
    // Tables read by a cursor are asked about in requests of their own,
    // after the others, and tables synced by digests after those: a server
    // from before cursors (or digests) were asked about refuses their
    // entries, and the answers to earlier requests count.
    let (mut entries, mut by_cursor, mut by_digest) = (Vec::new(), Vec::new(), Vec::new());
    for p in tables {
        let name = &p.name;
        if planned.get(name.as_str()) != Some(&1) || !existing.contains(name) {
            continue;
        }
        let exclude_columns: Vec<String> =
            cfg.excluded(name).iter().map(|c| c.to_string()).collect();
        let info = match &p.how {
            How::Cursor(ByCursor {
                info: Some(info), ..
            }) => info,
            How::Digest { .. } | How::Whole => {
                if let Some(h) = schedule.compared_horizon(name) {
                    let point = Resume {
                        exclude_columns,
                        compared: Some(h.to_string()),
                        ..Resume::default()
                    };
                    by_digest.push(percent_encode(&changes::resume_entry(name, &point)));
                }
                continue;
            }
            _ => continue,
        };
        // A table whose resume point cannot be read gets its stream, which
        // tells what is wrong.
        let Ok(resume) = dest.resume_point(name, &info.timestamp_column, &info.key, p.kind())
        else {
            continue;
        };
        // Excluded columns and the cursor go along, as in the stream.
        let cursor = p.cursor();
        let point = Resume {
            after: resume.map(|r| (r.since.to_string(), r.after_key)),
            exclude_columns,
            cursor: cursor.map(|c| NamedCursor {
                cursor: c.column.clone(),
                cursor_zone: Some(cfg.app_time_zone.clone()),
                cursor_unit: c.unit.map(|u| u.name().to_string()),
            }),
            compared: None,
        };
        let entry = percent_encode(&changes::resume_entry(name, &point));
        match cursor {
            None => entries.push(entry),
            Some(_) => by_cursor.push(entry),
        }
    }
    let base = format!(
        "/{}/?{}=",
        percent_encode(&cfg.source_database),
        changes::PARAM
    );
    // With --create-tables, a table whose columns differ from the source's
    // (a column added there) needs its stream even without new rows.
    let shapes = if cfg.create_tables {
        match column_shapes(cfg, dest) {
            Ok(s) => Some(s),
            Err(e) => {
                debug!("no changes question this pass: {e}");
                return survey;
            }
        }
    } else {
        None
    };
    let mut requests = batches(&entries, QUERY_BUDGET);
    requests.extend(batches(&by_cursor, QUERY_BUDGET));
    requests.extend(batches(&by_digest, QUERY_BUDGET));
    for batch in requests {
        let path = format!("{base}%7B{}%7D", batch.join("%2C"));
        match with_busy_retry(|| client.get_json::<ChangesAnswer>(&path)) {
            Ok(answer) => survey.absorb(answer, shapes.as_ref()),
            Err(e) => {
                match &e {
                    // A dbd_server from before the question, or a table gone since the listing.
                    ClientError::Status {
                        status: 400 | 404, ..
                    } => {
                        debug!("changes question not answered: {e}")
                    }
                    _ => warn!("changes question not answered ({e}); every table gets its stream"),
                }
                return survey;
            }
        }
    }
    survey
}

impl Survey {
    fn absorb(&mut self, answer: ChangesAnswer, shapes: Option<&HashMap<String, u64>>) {
        clock::observe(&answer.source_time);
        for t in answer.tables {
            let reshaped = shapes
                .is_some_and(|s| t.columns.is_none() || s.get(&t.table) != t.columns.as_ref());
            if t.changed || reshaped {
                if let Some(n) = t.estimated_rows {
                    self.estimates.insert(t.table.clone(), n);
                }
                self.changed.insert(t.table);
            } else {
                self.unchanged.insert(t.table, (t.horizon, t.horizon_utc));
            }
        }
    }
}

/// Splits `entries` into runs whose joined length stays within `budget`;
/// an entry too long for any request on its own is left out (its table
/// gets its stream).
fn batches(entries: &[String], budget: usize) -> Vec<Vec<&str>> {
    let mut out: Vec<Vec<&str>> = Vec::new();
    let mut used = 0;
    for e in entries.iter().filter(|e| e.len() + 6 <= budget) {
        let cost = e.len() + 3;
        if out.is_empty() || used + cost > budget {
            out.push(Vec::new());
            used = 6;
        }
        used += cost;
        if let Some(last) = out.last_mut() {
            last.push(e);
        }
    }
    out
}

/// The fingerprint of each destination table's columns as a stream of it
/// would carry them: generated and excluded columns left out.
fn column_shapes(cfg: &Config, dest: &mut Destination) -> Result<HashMap<String, u64>, String> {
    let database = dest.database.clone();
    let rows: Vec<mysql::Row> = dest
        .conn()
        .exec(sql::DATABASE_COLUMNS, (&database,))
        .map_err(|e| dbdump_shared::dberror::describe(&e))?;
    let mut columns: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for mut row in rows {
        let (schema, table): (String, String) = (take(&mut row, 0)?, take(&mut row, 1)?);
        let (name, sql_type): (String, String) = (take(&mut row, 2)?, take(&mut row, 3)?);
        let extra: Option<String> = take(&mut row, 4)?;
        let generated = extra
            .unwrap_or_default()
            .to_ascii_lowercase()
            .contains(" generated");
        let excluded = cfg
            .excluded(&table)
            .iter()
            .any(|x| x.eq_ignore_ascii_case(&name));
        if schema == database && !generated && !excluded {
            columns.entry(table).or_default().push((name, sql_type));
        }
    }
    Ok(columns
        .into_iter()
        .map(|(t, cols)| {
            let fingerprint =
                changes::columns_fingerprint(cols.iter().map(|(n, ty)| (n.as_str(), ty.as_str())));
            (t, fingerprint)
        })
        .collect())
}

/// The base tables of the destination database, by exact name.
fn existing_tables(dest: &mut Destination) -> Result<HashSet<String>, String> {
    let database = dest.database.clone();
    let rows: Vec<mysql::Row> = dest
        .conn()
        .exec(sql::TABLE_NAMES, (&database,))
        .map_err(|e| dbdump_shared::dberror::describe(&e))?;
    let mut names = HashSet::new();
    for mut row in rows {
        let (schema, table): (String, String) = (take(&mut row, 0)?, take(&mut row, 1)?);
        // information_schema compares names case-insensitively.
        if schema == database {
            names.insert(table);
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_stay_within_the_budget() {
        let entries: Vec<String> = (0..10).map(|i| format!("{i:0>20}")).collect();
        let runs = batches(&entries, 70);
        assert_eq!(
            runs.iter().map(Vec::len).collect::<Vec<_>>(),
            [2, 2, 2, 2, 2]
        );
        for run in &runs {
            assert!(6 + run.iter().map(|e| e.len() + 3).sum::<usize>() <= 70);
        }
        let long = vec!["x".repeat(100), "y".into()];
        assert_eq!(batches(&long, 70), [["y"]]);
        assert!(batches(&[], 70).is_empty());
    }
}
