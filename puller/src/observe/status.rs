//! The puller's own account of how fresh the copy is, for shell loops and
//! monitors: per table its last success, horizon (the source time it is
//! complete up to), lag, rows applied and last error; per pass its start,
//! end and outcome. The document's layout only: `monitor` keeps it up to
//! date and writes it, `metrics` renders it for Prometheus.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use dbdump_shared::since::UtcTime;

use crate::observe::dry_run::{Summary, TablePreview};

/// Version of the status document's layout.
pub const FORMAT: u32 = 1;

/// A point in time, for people (RFC 3339, UTC) and for arithmetic (Unix
/// seconds): `jq 'now - .updated_unix'`.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Stamp {
    pub at: String,
    pub unix: f64,
}

impl Stamp {
    pub fn now() -> Stamp {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64);
        let mut at = UtcTime::from_unix_micros(micros).format(3);
        at.replace_range(10..11, "T");
        at.push('Z');
        Stamp {
            at,
            unix: micros as f64 / 1e6,
        }
    }
}

#[derive(Serialize, Clone, Debug)]
pub struct Puller {
    pub pid: u32,
    pub version: &'static str,
    /// `http(s)://host:port/database`.
    pub source: String,
    /// `host:port/database`.
    pub destination: String,
    pub started: Stamp,
    pub poll_interval_seconds: Option<f64>,
}

#[derive(Serialize, Clone, Debug)]
pub struct Pass {
    /// Counted from 1 since the puller started.
    pub number: u64,
    pub started: Stamp,
    /// None while it runs.
    pub ended: Option<Stamp>,
    /// `running`, `ok` (every table synced), `failed` (a table or the
    /// whole pass failed) or `interrupted` (SIGTERM/SIGINT).
    pub outcome: &'static str,
    /// Tables synced or failed so far.
    pub tables: usize,
    pub failed: usize,
    pub rows: u64,
    /// Why the whole pass failed (server or destination unreachable).
    pub error: Option<String>,
}

#[derive(Serialize, Clone, Debug, Default)]
pub struct Table {
    /// `pending` (not synced since the puller started), `ok`, `failed`, or
    /// `not_synced` (the server cannot sync it: `last_error` says why).
    pub state: &'static str,
    /// How it is synced: `timestamp`, `cursor`, `digest` or `whole` (`none`
    /// for a table not synced).
    pub method: &'static str,
    pub last_success: Option<Stamp>,
    /// The source time (UTC) up to which the copy is complete.
    pub horizon: Option<String>,
    pub horizon_unix: Option<f64>,
    /// The source's clock minus the horizon, at the end of the latest pass.
    pub lag_seconds: Option<f64>,
    pub rows_last_pass: u64,
    /// Rows applied since the puller started.
    pub rows_total: u64,
    pub last_error: Option<String>,
    pub last_error_at: Option<Stamp>,
    /// Passes in a row in which this table failed; 0 after a success.
    pub consecutive_failures: u64,
    pub failures_total: u64,
    /// What `--dry-run` found a pass would do to it (only in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<TablePreview>,
}

#[derive(Serialize, Clone, Debug, Default)]
pub struct Passes {
    pub ok: u64,
    pub failed: u64,
    pub interrupted: u64,
}

/// The status document.
#[derive(Serialize, Clone, Debug)]
pub struct Status {
    pub format: u32,
    pub puller: Puller,
    pub updated: Stamp,
    /// The latest pass, perhaps still running.
    pub pass: Option<Pass>,
    /// The one before it.
    pub previous_pass: Option<Pass>,
    pub passes: Passes,
    pub tables: BTreeMap<String, Table>,
    /// What `--dry-run` found in all (only in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<Summary>,
    /// The destination database, for the metrics' labels.
    #[serde(skip)]
    pub database: String,
}
