//! Acts on what a comparison found, after checking it is sane: the guard
//! against mass deletes, deleting destination rows the source no longer
//! has, and re-fetching rows that are missing or different through the
//! ordinary change stream (by key). Deletes run first: on a
//! case-insensitive key, a row re-fetched under another spelling of its key
//! must not be deleted after it arrived.

use mysql::prelude::Queryable;
use mysql::Value;

use dbdump_shared::dberror;
use dbdump_shared::http::percent_encode;

use crate::apply::destination::Destination;
use crate::apply::transfer::{self, Report};
use crate::source::client::Client;
use crate::sql;

/// Keys per DELETE statement (each its own transaction).
const DELETE_BATCH: usize = 500;
/// Longest `keys` parameter (percent-encoded) of one re-fetch request.
const MAX_KEYS_TEXT: usize = 12_000;
/// Most keys per re-fetch request (the server's limit).
const MAX_KEYS: usize = 1000;

/// The mass-delete guard of one table.
pub struct Guard {
    pub table: String,
    /// Most destination rows a pass may delete, as a fraction.
    pub share: f64,
    /// `--force-deletes`: no limit.
    pub force: bool,
}

impl Guard {
    /// Before anything is narrowed: an empty source, or a source with far
    /// fewer rows than the destination, stops the table at once.
    pub fn check_totals(&self, source_rows: u64, dest_rows: u64) -> Result<(), String> {
        if self.force || dest_rows == 0 {
            return Ok(());
        }
        if source_rows == 0 {
            return Err(format!(
                "the source table `{}` reads as empty while the destination holds {dest_rows} rows; \
                 nothing was deleted. Check --source-database and the source; if it really is \
                 empty, rerun with --force-deletes",
                self.table
            ));
        }
        self.check(
            dest_rows.saturating_sub(source_rows),
            dest_rows,
            "at least ",
        )
    }

    /// `deletes` rows of `dest_rows` may go, or the table stops.
    pub fn check_deletes(&self, deletes: u64, dest_rows: u64) -> Result<(), String> {
        if self.force {
            return Ok(());
        }
        self.check(deletes, dest_rows, "")
    }

    fn check(&self, deletes: u64, dest_rows: u64, at_least: &str) -> Result<(), String> {
        if deletes == 0 || deletes as f64 <= self.share * dest_rows as f64 {
            return Ok(());
        }
        Err(format!(
            "refusing to delete {at_least}{deletes} of the {dest_rows} destination rows of `{}` \
             ({:.1} %, over --max-delete-percent {}); nothing was deleted. Check --source-database \
             and the source table; to delete them anyway, rerun with --force-deletes",
            self.table,
            100.0 * deletes as f64 / dest_rows.max(1) as f64,
            self.share * 100.0
        ))
    }
}

/// Deletes the rows with these primary keys (values as the destination
/// returned them); returns how many went.
pub fn delete(
    dest: &mut Destination,
    table: &str,
    key: &[String],
    keys: &[Vec<Value>],
) -> Result<u64, String> {
    let names: Vec<&str> = key.iter().map(String::as_str).collect();
    let mut deleted = 0;
    for batch in keys.chunks(DELETE_BATCH) {
        let query = sql::delete_keys(&dest.database, table, &names, batch.len());
        let params: Vec<Value> = batch.iter().flatten().cloned().collect();
        let conn = dest.conn();
        conn.exec_drop(query, params).map_err(|e| {
            format!(
                "deleting rows of destination table `{table}`: {}",
                dberror::describe(&e)
            )
        })?;
        deleted += conn.affected_rows();
    }
    Ok(deleted)
}

/// Re-fetches the rows with these keys (JSON, as the source sent them)
/// through the change stream and upserts them. Only rows older than
/// `before` (the horizon of the table's last complete pass) come: writing a
/// newer one could move the destination's resume point past rows that the
/// next pass has yet to bring (a table without a cursor has no resume
/// point, and no `before`). Returns the rows written.
pub fn refetch(
    client: &Client,
    dest: &mut Destination,
    stream_path: &str,
    table: &str,
    keys: &[String],
    before: Option<&str>,
) -> Result<u64, String> {
    let before = match before {
        Some(b) => format!("&before={}", percent_encode(b)),
        None => String::new(),
    };
    let mut written = 0;
    let mut start = 0;
    while start < keys.len() {
        let (mut end, mut text) = (start, 0);
        while end < keys.len() && end - start < MAX_KEYS {
            text += percent_encode(&keys[end]).len() + 3;
            if text > MAX_KEYS_TEXT && end > start {
                break;
            }
            end += 1;
        }
        let list = format!("[{}]", keys[start..end].join(","));
        let separator = if stream_path.contains('?') { '&' } else { '?' };
        let path = format!(
            "{stream_path}{separator}keys={}{before}",
            percent_encode(&list)
        );
        written += transfer::apply_stream(
            client,
            dest,
            table,
            &path,
            &mut |_, _| Ok(()),
            Report::Own(None),
        )?
        .rows;
        start = end;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(percent: f64, force: bool) -> Guard {
        Guard {
            table: "t".into(),
            share: percent / 100.0,
            force,
        }
    }

    #[test]
    fn the_guard_stops_empty_sources_and_mass_deletes() {
        let g = guard(50.0, false);
        let err = g.check_totals(0, 1000).unwrap_err();
        assert!(
            err.contains("reads as empty") && err.contains("1000 rows"),
            "{err}"
        );
        assert!(
            g.check_totals(0, 0).is_ok(),
            "both empty: nothing to delete"
        );
        let err = g.check_totals(300, 1000).unwrap_err();
        assert!(
            err.contains("at least 700 of the 1000") && err.contains("70.0 %"),
            "{err}"
        );
        assert!(g.check_totals(600, 1000).is_ok());
        assert!(
            g.check_deletes(500, 1000).is_ok(),
            "exactly the share is allowed"
        );
        let err = g.check_deletes(501, 1000).unwrap_err();
        assert!(
            err.contains("501 of the 1000") && err.contains("--force-deletes"),
            "{err}"
        );
        assert!(guard(0.0, false).check_deletes(1, 1000).is_err());
        assert!(guard(0.0, false).check_deletes(0, 1000).is_ok());
        let forced = guard(50.0, true);
        assert!(forced.check_totals(0, 1000).is_ok());
        assert!(forced.check_deletes(1000, 1000).is_ok());
    }
}
