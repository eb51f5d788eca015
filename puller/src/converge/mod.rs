//! Convergence: a table's comparison with the source, run right after its
//! incremental pass: find what differs (`compare`, against the
//! destination's own digests, `digests`), then delete what the source no
//! longer has and, for `--verify`, re-fetch what is missing or different
//! (`repair`); for `--dry-run`, only count what would be (`preview`).
//! Uses `apply`, `source`, `config` and `sql`; the pass calls it.
//!
//! Why no row that exists on the source is ever deleted: the comparison's
//! snapshots of the source are all taken after the table's incremental pass
//! ended, and nothing writes the table in between (this runs in the same
//! thread, before the next pass). So every destination row came from a
//! source state older than each snapshot, and a key missing from a snapshot
//! was deleted on the source. A row the source creates again afterwards
//! has a newer timestamp than the pass's horizon, so the next pass brings
//! it back.

use dbdump_shared::digest::Kind;
use dbdump_shared::http::percent_encode;

use crate::apply::destination::Destination;
use crate::config::tables::Named;
use crate::config::Config;
use crate::source::client::Client;
use crate::source::requests::{cursor_params, stream_path};

pub mod compare;
pub mod digests;
pub mod preview;
pub mod reading;
pub mod repair;
pub mod whole;

use compare::{Comparison, Found};
use repair::Guard;

/// What a convergence pass compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Keys only: deletes (`--deletes`).
    Deletes,
    /// Whole rows: deletes and repairs (`--verify`, `--force-resync`).
    Verify,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Deletes => "deletes",
            Mode::Verify => "verify",
        }
    }
}

/// What a convergence pass did, for the summary line.
#[derive(Debug)]
pub struct Converged {
    pub mode: Mode,
    pub elapsed: std::time::Duration,
    pub chunks: u64,
    pub differed: u64,
    pub deleted: u64,
    pub repaired: u64,
    /// The source's horizon (UTC) when the comparison began: a table
    /// synced by digests is complete up to it.
    pub horizon: Option<String>,
}

/// Finds what differs between `table` and the source's in `mode`, and
/// changes nothing; `examples` destination keys the source lacks are kept
/// as JSON too (for `--dry-run`).
pub fn compare(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    table: &str,
    cursor: Option<&Named>,
    mode: Mode,
    examples: usize,
) -> Result<Found, String> {
    let guard = Guard {
        table: table.to_string(),
        share: cfg.max_delete_share,
        force: cfg.force_deletes,
    };
    let excluded = cfg.excluded(table);
    let mut columns_param = if excluded.is_empty() {
        String::new()
    } else {
        format!("&exclude_columns={}", percent_encode(&excluded.join(",")))
    };
    for p in cursor_params(cfg, cursor, false) {
        columns_param.push('&');
        columns_param.push_str(&p);
    }
    let comparison = Comparison {
        client,
        path: format!(
            "/{}/{}/digest",
            percent_encode(&cfg.source_database),
            percent_encode(table)
        ),
        kind: match mode {
            Mode::Deletes => Kind::Key,
            Mode::Verify => Kind::Row,
        },
        columns_param,
        guard: &guard,
        examples,
    };
    comparison.run(dest, table)
}

/// Converges `table`. `horizon` is that of the incremental pass just
/// applied: repairs bring only rows older than it. A table synced by
/// digests has neither cursor nor horizon: its repairs bring the rows as
/// they are now.
pub fn converge(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    table: &str,
    cursor: Option<&Named>,
    mode: Mode,
    horizon: Option<&str>,
) -> Result<Converged, String> {
    let started = std::time::Instant::now();
    let found = compare(cfg, client, dest, table, cursor, mode, 0)?;
    let deleted = repair::delete(dest, table, &found.key, &found.extra)?;
    let repaired = if found.repair.is_empty() {
        0
    } else {
        let path = stream_path(cfg, table, cursor, None);
        repair::refetch(client, dest, &path, table, &found.repair, horizon)?
    };
    Ok(Converged {
        mode,
        elapsed: started.elapsed(),
        chunks: found.chunks,
        differed: found.differed,
        deleted,
        repaired,
        horizon: found.horizon,
    })
}
