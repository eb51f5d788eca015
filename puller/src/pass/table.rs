//! One table's sync, by its method. A table read by a cursor resumes from
//! the destination's newest (cursor, key), streams what changed and
//! applies it, then converges when the schedule says so. A table synced by
//! digests gets its first copy streamed whole in key order into an empty
//! destination table, and afterwards, whenever it is due, a comparison that
//! moves only what differs, deletes included. A keyless table is compared
//! as a whole and replaced, atomically, when it differs.

use std::time::{Duration, Instant};

use dbdump_shared::debug;
use dbdump_shared::wire::Header;

use crate::apply::destination::Destination;
use crate::apply::failure::TableError;
use crate::apply::transfer::{self, Report};
use crate::config::tables::Named;
use crate::config::Config;
use crate::converge::whole::{self, Whole};
use crate::converge::{self, Converged, Mode};
use crate::pass::first_copy::Copied;
use crate::pass::tables::{ByCursor, Planned};
use crate::schema;
use crate::source::client::Client;
use crate::source::requests::stream_path;

/// What one table's sync did.
#[derive(Debug)]
pub struct Synced {
    pub rows: u64,
    pub elapsed: Duration,
    /// How: `by timestamp `ts``, `by digests`, `whole`, …
    pub method: String,
    /// The horizon of the stream applied: every source row older than it
    /// is now on the destination.
    pub horizon: String,
    /// The horizon in UTC, when `horizon` is an application's wall-clock
    /// time (freshness is told by this one).
    pub horizon_utc: Option<String>,
    /// The convergence pass, if one ran.
    pub converged: Option<Converged>,
    /// The comparison of a keyless table, if one ran.
    pub whole: Option<Whole>,
    /// The first copy by key ranges, if one ran in this pass.
    pub first_copy: Option<Copied>,
    /// Bytes read from the server for this table.
    pub bytes: u64,
    /// Columns `--create-tables` added to the destination in this pass.
    pub columns_added: Vec<String>,
}

impl Synced {
    /// The UTC time the copy is complete up to.
    pub fn fresh_to(&self) -> &str {
        self.horizon_utc.as_deref().unwrap_or(&self.horizon)
    }

    /// A table with nothing new, complete up to `horizon`.
    pub fn unchanged(method: String, horizon: &str, horizon_utc: Option<&str>) -> Synced {
        Synced {
            rows: 0,
            elapsed: Duration::ZERO,
            method,
            horizon: horizon.to_string(),
            horizon_utc: horizon_utc.map(str::to_string),
            converged: None,
            whole: None,
            first_copy: None,
            bytes: 0,
            columns_added: Vec::new(),
        }
    }
}

/// How a table's sync ended.
pub enum Outcome {
    Synced(Synced),
    /// Its rows could not be brought (nothing to show for it).
    Failed(TableError),
    /// Its rows came, but its comparison failed (the guard, a cut-off
    /// digest): nothing to back off for.
    ComparisonFailed(Synced, String),
}

/// Creates `table` with `--create-tables` if it is missing.
fn create(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    table: &str,
    cursor: Option<&Named>,
) -> Result<(), TableError> {
    if cfg.create_tables {
        schema::create_if_missing(cfg, client, dest, table, cursor)?;
    }
    Ok(())
}

/// Streams `path` into `table` (with `--create-tables`, reshaping it to
/// the stream's columns first).
fn stream(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    table: &str,
    cursor: Option<&Named>,
    path: &str,
    estimate: Option<u64>,
) -> Result<(transfer::Applied, Vec<String>), TableError> {
    debug!("GET {path}");
    let mut columns_added = Vec::new();
    let mut reconcile = |dest: &mut Destination, header: &Header| {
        if cfg.create_tables {
            columns_added = schema::reconcile(cfg, client, dest, table, cursor, &header.columns)?;
        }
        Ok(())
    };
    let applied = transfer::apply_stream(
        client,
        dest,
        table,
        path,
        &mut reconcile,
        Report::Own(estimate),
    )?;
    Ok((applied, columns_added))
}

/// A table read by a cursor, then converged in `mode` if given.
pub fn by_cursor(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    planned: &Planned,
    by: &ByCursor,
    estimate: Option<u64>,
    mut mode: Option<Mode>,
) -> Outcome {
    let started = Instant::now();
    let (table, method) = (planned.name.as_str(), planned.method());
    let cursor = by.named.as_ref();
    let kind = cursor.map_or(dbdump_shared::cursor::CursorKind::Temporal, |n| n.kind);
    let synced = (|| {
        if by.info.is_some() {
            create(cfg, client, dest, table, cursor)?;
        }
        // Without the server's description (a -t table it does not list)
        // there is no resume point: ask for everything and let the server
        // explain.
        let resume = match &by.info {
            Some(i) => {
                dest.columns(table)?;
                dest.resume_point(table, &i.timestamp_column, &i.key, kind)?
            }
            None => None,
        };
        let path = stream_path(cfg, table, cursor, resume.as_ref());
        stream(cfg, client, dest, table, cursor, &path, estimate)
    })();
    let (applied, columns_added) = match synced {
        Ok(s) => s,
        Err(e) => return Outcome::Failed(e),
    };
    let mut synced = Synced {
        rows: applied.rows,
        elapsed: started.elapsed(),
        method,
        horizon: applied.horizon,
        horizon_utc: applied.horizon_utc,
        converged: None,
        whole: None,
        first_copy: None,
        bytes: 0,
        columns_added,
    };
    // Columns just added hold their default everywhere: the source's
    // values for rows whose timestamps did not move come by a --verify.
    if !synced.columns_added.is_empty() {
        mode = Some(Mode::Verify);
    }
    let Some(mode) = mode else {
        return Outcome::Synced(synced);
    };
    match converge::converge(
        cfg,
        client,
        dest,
        table,
        cursor,
        mode,
        Some(&synced.horizon),
    ) {
        Ok(c) => {
            synced.converged = Some(c);
            Outcome::Synced(synced)
        }
        Err(e) => Outcome::ComparisonFailed(synced, e),
    }
}

/// A table synced by digests: its first copy into an empty destination
/// table, or (when `due`) a comparison that repairs what differs. Returns
/// the outcome and the horizon an equal copy is now complete up to.
pub fn by_digest(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    table: &str,
    method: String,
    due: bool,
    unchanged: Option<&str>,
) -> (Outcome, Option<String>) {
    let started = Instant::now();
    if let Err(e) = create(cfg, client, dest, table, None) {
        return (Outcome::Failed(e), None);
    }
    if !due {
        let s = Synced::unchanged(method, unchanged.unwrap_or_default(), None);
        return (Outcome::Synced(s), None);
    }
    let synced = |rows, horizon: String, columns_added| Synced {
        rows,
        elapsed: started.elapsed(),
        method: method.clone(),
        horizon,
        horizon_utc: None,
        converged: None,
        whole: None,
        first_copy: None,
        bytes: 0,
        columns_added,
    };
    // An empty destination table gets the whole table in key order: a
    // first copy needs no comparison.
    let first_copy = (|| {
        dest.columns(table)?;
        if !dest.is_empty(table)? {
            return Ok(None);
        }
        let path = stream_path(cfg, table, None, None);
        stream(cfg, client, dest, table, None, &path, None).map(Some)
    })();
    match first_copy {
        Err(e) => return (Outcome::Failed(e), None),
        Ok(Some((applied, added))) => {
            let horizon = applied.horizon.clone();
            return (
                Outcome::Synced(synced(applied.rows, applied.horizon, added)),
                Some(horizon),
            );
        }
        Ok(None) => {}
    }
    let added = if cfg.create_tables {
        match schema::reconcile_by_definition(cfg, client, dest, table) {
            Ok(added) => added,
            Err(e) => return (Outcome::Failed(e), None),
        }
    } else {
        Vec::new()
    };
    match converge::converge(cfg, client, dest, table, None, Mode::Verify, None) {
        Ok(c) => {
            let horizon = c.horizon.clone();
            let mut s = synced(0, horizon.clone().unwrap_or_default(), added);
            s.elapsed = Duration::ZERO;
            s.converged = Some(c);
            (Outcome::Synced(s), horizon)
        }
        Err(e) => {
            let s = synced(0, unchanged.unwrap_or_default().to_string(), added);
            (Outcome::ComparisonFailed(s, e), None)
        }
    }
}

/// A keyless table: compared whole when `due`, and replaced when it
/// differs. Returns the outcome and the horizon an equal copy is now
/// complete up to.
pub fn whole(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    table: &str,
    method: String,
    due: bool,
    unchanged: Option<&str>,
) -> (Outcome, Option<String>) {
    let started = Instant::now();
    if let Err(e) = create(cfg, client, dest, table, None) {
        return (Outcome::Failed(e), None);
    }
    if !due {
        let s = Synced::unchanged(method, unchanged.unwrap_or_default(), None);
        return (Outcome::Synced(s), None);
    }
    if let Err(e) = dest.columns(table) {
        return (Outcome::Failed(e), None);
    }
    match whole::whole(cfg, client, dest, table) {
        Ok(w) => {
            let horizon = w.horizon.clone();
            let s = Synced {
                rows: w.copied,
                elapsed: started.elapsed(),
                method,
                horizon: horizon.clone().unwrap_or_default(),
                horizon_utc: None,
                converged: None,
                whole: Some(w),
                first_copy: None,
                bytes: 0,
                columns_added: Vec::new(),
            };
            (Outcome::Synced(s), horizon)
        }
        Err(e) => (Outcome::Failed(e), None),
    }
}
