//! One pass over the tables: ask which have anything new (`changes`); for
//! each that does, resume from the destination's newest (timestamp, key),
//! stream what changed from dbd_server and apply it, then converge it if
//! the schedule says so. A table fails alone, with a one-line reason; the
//! others go on.

use std::time::{Duration, Instant};

use dbdump_shared::http::percent_encode;
use dbdump_shared::wire::{Header, TableInfo, TableList};
use dbdump_shared::{debug, error, info, signals, warn};

use crate::apply::destination::Destination;
use crate::apply::failure::TableError;
use crate::apply::transfer::{self, with_busy_retry};
use crate::config::Config;
use crate::converge::{self, Converged, Mode};
use crate::observe::monitor::Monitor;
use crate::pass::changes;
use crate::pass::schedule::Schedule;
use crate::pass::tables::{self, Planned};
use crate::schema;
use crate::source::client::Client;
use crate::source::clock;
use crate::source::requests::stream_path;

/// What one table's sync did.
#[derive(Debug)]
pub struct Synced {
    pub rows: u64,
    pub elapsed: Duration,
    /// The horizon of the stream applied: every source row older than it
    /// is now on the destination.
    pub horizon: String,
    /// The horizon in UTC, when `horizon` is an application's wall-clock
    /// time (freshness is told by this one).
    pub horizon_utc: Option<String>,
    /// The convergence pass, if one ran.
    pub converged: Option<Converged>,
    /// Bytes read from the server for this table.
    pub bytes: u64,
    /// Columns `--create-tables` added to the destination in this pass.
    pub columns_added: Vec<String>,
}

impl Synced {
    /// The UTC time the copy is complete up to.
    fn fresh_to(&self) -> &str {
        self.horizon_utc.as_deref().unwrap_or(&self.horizon)
    }

    /// A table the changes question found with nothing new.
    fn unchanged(horizon: &str, horizon_utc: Option<&str>) -> Synced {
        Synced {
            rows: 0,
            elapsed: Duration::ZERO,
            horizon: horizon.to_string(),
            horizon_utc: horizon_utc.map(str::to_string),
            converged: None,
            bytes: 0,
            columns_added: Vec::new(),
        }
    }
}

/// The outcome of a pass: per table, rows applied or why it failed.
pub struct PassReport {
    pub tables: Vec<(String, Result<Synced, String>)>,
    /// A failure before any table could start (server or destination down).
    pub fatal: Option<String>,
    /// Of the failed tables, how many got their rows but failed their
    /// convergence pass (the guard, a cut-off digest): nothing to back off for.
    pub comparisons_failed: usize,
}

impl PassReport {
    pub fn ok(&self) -> bool {
        self.fatal.is_none() && self.tables.iter().all(|(_, r)| r.is_ok())
    }

    /// Whether every table's rows came: the server, network and
    /// destination work, whatever the comparisons said.
    pub fn transfers_ok(&self) -> bool {
        let failed = self.tables.iter().filter(|(_, r)| r.is_err()).count();
        self.fatal.is_none() && failed == self.comparisons_failed
    }
}

pub fn pass(
    cfg: &Config,
    client: &Client,
    schedule: &mut Schedule,
    monitor: &mut Monitor,
) -> PassReport {
    let mut report = PassReport {
        tables: Vec::new(),
        fatal: None,
        comparisons_failed: 0,
    };
    let listing_path = format!("/{}/", percent_encode(&cfg.source_database));
    let listing: TableList = match with_busy_retry(|| client.get_json(&listing_path)) {
        Ok(l) => l,
        Err(e) => {
            report.fatal = Some(format!(
                "cannot list tables of `{}` at {}: {e}",
                cfg.source_database,
                client.base()
            ));
            return report;
        }
    };
    let tables = tables::plan(&listing, cfg.tables.as_deref());
    let mut dest = match Destination::connect(cfg) {
        Ok(d) => d,
        Err(e) => {
            report.fatal = Some(e);
            return report;
        }
    };
    let names: Vec<String> = tables.iter().map(|t| t.name.clone()).collect();
    if cfg.create_tables {
        if let Err(e) = schema::ensure_database(
            cfg,
            client,
            &mut dest,
            tables
                .first()
                .map(|t| (t.name.as_str(), t.cursor.as_deref())),
        ) {
            report.fatal = Some(e);
            return report;
        }
    }
    let plan = schedule.next(cfg, &names);
    monitor.expect_tables(&names);
    let survey = changes::survey(cfg, client, &mut dest, &tables);
    for Planned { name, info, cursor } in tables {
        let cursor = cursor.as_deref();
        if signals::stop_requested() {
            break;
        }
        let before = client.bytes_read();
        let mut mode = plan.mode_for(&name);
        // Nothing new and no comparison due: complete up to the horizon
        // the server answered, without a stream.
        if let Some((horizon, utc)) = survey.unchanged(&name).filter(|_| mode.is_none()) {
            let synced = Synced::unchanged(horizon, utc);
            info!("table `{name}`: {}", summary(&synced));
            monitor.table_done(&name, Some((0, synced.fresh_to())), None);
            report.tables.push((name, Ok(synced)));
            continue;
        }
        let estimate = survey.estimate(&name);
        let created = if cfg.create_tables && info.is_some() {
            schema::create_if_missing(cfg, client, &mut dest, &name, cursor)
                .map_err(TableError::from)
        } else {
            Ok(false)
        };
        let synced = created.and_then(|_| {
            sync_table(
                cfg,
                client,
                &mut dest,
                &name,
                info.as_ref(),
                cursor,
                estimate,
            )
        });
        let mut synced = match synced {
            Ok(s) => s,
            Err(e) => {
                monitor.table_done(&name, None, Some(&e.message));
                // Its comparison is owed still: a queued one waits its turn.
                if mode.is_some() {
                    schedule.missed(&plan, cfg);
                }
                if e.refused_by_destination && cfg.ignore_database_errors {
                    // The table stays where its last good batch left it and
                    // is tried again next pass; the others, and the exit
                    // code, go on.
                    warn!("table `{name}` skipped (--ignore-database-errors): {e}");
                } else {
                    error!("table `{name}` failed: {e}");
                    report.tables.push((name, Err(e.into())));
                }
                continue;
            }
        };
        // Columns just added hold their default everywhere: the source's
        // values for rows whose timestamps did not move come by a --verify.
        if !synced.columns_added.is_empty() {
            mode = Some(Mode::Verify);
        }
        let compared = mode
            .map(|m| converge::converge(cfg, client, &mut dest, &name, cursor, m, &synced.horizon))
            .transpose();
        synced.bytes = client.bytes_read() - before;
        let fresh_to = synced.fresh_to().to_string();
        let applied = Some((synced.rows, fresh_to.as_str()));
        match compared {
            Ok(c) => {
                synced.converged = c;
                info!("table `{name}`: {}", summary(&synced));
                monitor.table_done(&name, applied, None);
                report.tables.push((name, Ok(synced)));
            }
            Err(e) => {
                info!("table `{name}`: {}", summary(&synced));
                monitor.table_done(&name, applied, Some(&e));
                error!("table `{name}` failed: {e}");
                // A queued resync of it is owed still (behind the others).
                schedule.missed(&plan, cfg);
                report.comparisons_failed += 1;
                report.tables.push((name, Err(e)));
            }
        }
    }
    report
}

/// The summary line of a table: rows applied, time, rate; what its
/// convergence pass compared and changed; bytes read from the server; how
/// fresh the copy is (scripts parse the parts in this order).
fn summary(s: &Synced) -> String {
    let secs = s.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        s.rows as f64 / secs
    } else {
        0.0
    };
    let mut line = format!("{} rows applied in {secs:.2} s ({rate:.0} rows/s)", s.rows);
    if let Some(c) = &s.converged {
        line.push_str(&format!(
            "; {} in {:.2} s: {} chunks compared, {} differed, {} rows deleted, {} rows repaired",
            c.mode.name(),
            c.elapsed.as_secs_f64(),
            c.chunks,
            c.differed,
            c.deleted,
            c.repaired
        ));
    }
    line.push_str(&format!("; {} bytes read", s.bytes));
    line.push_str(&format!("; {}", clock::freshness(s.fresh_to())));
    line
}

fn sync_table(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    table: &str,
    info: Option<&TableInfo>,
    cursor: Option<&str>,
    estimate: Option<u64>,
) -> Result<Synced, TableError> {
    let started = Instant::now();
    // Without the server's description (a -t table it does not list) there
    // is no resume point: ask for everything and let the server explain.
    let resume = match info {
        Some(i) => {
            dest.columns(table)?;
            dest.resume_point(table, &i.timestamp_column, &i.key)?
        }
        None => None,
    };
    let path = stream_path(cfg, table, cursor, resume.as_ref());
    debug!("GET {path}");
    let mut columns_added = Vec::new();
    let mut reconcile = |dest: &mut Destination, header: &Header| {
        if cfg.create_tables {
            columns_added = schema::reconcile(cfg, client, dest, table, cursor, header)?;
        }
        Ok(())
    };
    let applied = transfer::apply_stream(client, dest, table, &path, &mut reconcile, estimate)?;
    Ok(Synced {
        rows: applied.rows,
        elapsed: started.elapsed(),
        horizon: applied.horizon,
        horizon_utc: applied.horizon_utc,
        converged: None,
        bytes: 0,
        columns_added,
    })
}
