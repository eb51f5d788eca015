//! One pass over the tables: ask which have anything new (`changes`); for
//! each that does (or is due a comparison), sync it by its method
//! (`table`): from the destination's newest (cursor, key), by digests, or
//! whole. A table fails alone, with a one-line reason; the others go on.
//! Tables the server cannot sync are told once, with why.

use std::time::Instant;

use dbdump_shared::http::percent_encode;
use dbdump_shared::wire::TableList;
use dbdump_shared::{error, info, signals, warn};

use crate::apply::destination::Destination;
use crate::config::Config;
use crate::observe::monitor::Monitor;
use crate::pass::changes;
use crate::pass::first_copy;
use crate::pass::schedule::Schedule;
use crate::pass::table::{self, Outcome, Synced};
use crate::pass::tables::{self, How};
use crate::schema;
use crate::source::client::Client;
use crate::source::clock;
use crate::source::retry::with_busy_retry;

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
    let synced: Vec<&tables::Planned> = tables
        .iter()
        .filter(|t| !matches!(t.how, How::Refused { .. }))
        .collect();
    let names: Vec<String> = synced.iter().map(|t| t.name.clone()).collect();
    if cfg.create_tables {
        let first = synced.first().map(|t| (t.name.as_str(), t.cursor()));
        if let Err(e) = schema::ensure_database(cfg, client, &mut dest, first) {
            report.fatal = Some(e);
            return report;
        }
    }
    let plan = schedule.next(cfg, &names);
    let methods: Vec<(String, &'static str)> = tables
        .iter()
        .map(|t| (t.name.clone(), t.method_name()))
        .collect();
    monitor.expect_tables(&methods);
    // The question first: an empty table whose source has nothing either
    // needs no first copy (a poll over empty tables stays one request).
    let survey = changes::survey(cfg, client, &mut dest, &tables, schedule);
    let copies = first_copy::run(cfg, client, &mut dest, &tables, &survey);
    for planned in &tables {
        let name = planned.name.clone();
        if signals::stop_requested() {
            break;
        }
        let before = client.bytes_read();
        let mode = plan.mode_for(&name);
        let method = planned.method();
        let unchanged = survey.unchanged(&name);
        let began = Instant::now();
        let copied = copies.get(&name);
        let outcome = match (&planned.how, copied) {
            (_, Some(Err(e))) => Outcome::Failed(e.clone()),
            // Complete up to the copy's horizon, compared or not. A resumed
            // copy spanned runs while the source went on changing: it is
            // compared now, as a run after a kill is to end equal.
            (How::Digest { .. }, Some(Ok(c))) if !c.resumed => {
                schedule.digest_done(&name, began, Some(c.horizon.clone()));
                let mut s = Synced::unchanged(method, &c.horizon, None);
                s.rows = c.rows;
                s.elapsed = c.elapsed;
                s.first_copy = Some(c.clone());
                Outcome::Synced(s)
            }
            (how, _) => match how {
                How::Refused { why, named } => {
                    if *named {
                        error!("table `{name}` failed: {why}");
                        monitor.table_done(&name, None, Some(why));
                        report.tables.push((name, Err(why.clone())));
                    } else if monitor.table_not_synced(&name, why) {
                        warn!("table `{name}` not synced: {why}");
                    }
                    continue;
                }
                // Nothing new and no comparison due: complete up to the horizon
                // the server answered, without a stream.
                How::Cursor(_) if unchanged.is_some() && mode.is_none() => {
                    let (horizon, utc) = unchanged.unwrap_or_default();
                    Outcome::Synced(Synced::unchanged(method, horizon, utc))
                }
                How::Cursor(by) => {
                    let estimate = survey.estimate(&name);
                    table::by_cursor(cfg, client, &mut dest, planned, by, estimate, mode)
                }
                How::Digest { .. } | How::Whole => {
                    let resumed = copied.is_some_and(|c| c.as_ref().is_ok_and(|c| c.resumed));
                    let due =
                        resumed || schedule.digest_due(cfg, &plan, &name, survey.changed(&name));
                    let horizon = unchanged.map(|(h, _)| h);
                    let (outcome, compared) = if matches!(planned.how, How::Whole) {
                        table::whole(cfg, client, &mut dest, &name, method, due, horizon)
                    } else {
                        table::by_digest(cfg, client, &mut dest, &name, method, due, horizon)
                    };
                    if due {
                        schedule.digest_done(&name, began, compared);
                    }
                    outcome
                }
            },
        };
        // A table read by a cursor goes on from its copy's rows.
        let outcome = match (outcome, copied) {
            (Outcome::Synced(mut s), Some(Ok(c))) if s.first_copy.is_none() => {
                s.rows += c.rows;
                s.elapsed += c.elapsed;
                s.first_copy = Some(c.clone());
                Outcome::Synced(s)
            }
            (other, _) => other,
        };
        match outcome {
            Outcome::Synced(mut s) => {
                let copy_bytes = s.first_copy.as_ref().map_or(0, |c| c.bytes);
                s.bytes = client.bytes_read() - before + copy_bytes;
                info!("table `{name}`: {}", summary(&s));
                monitor.table_done(&name, Some((s.rows, s.fresh_to())), None);
                report.tables.push((name, Ok(s)));
            }
            Outcome::Failed(e) => {
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
            }
            Outcome::ComparisonFailed(mut s, e) => {
                s.bytes = client.bytes_read() - before;
                info!("table `{name}`: {}", summary(&s));
                monitor.table_done(&name, Some((s.rows, s.fresh_to())), Some(&e));
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

/// The summary line of a table: rows applied, time, rate and method; what
/// its convergence pass compared and changed; bytes read from the server;
/// how fresh the copy is (scripts parse the parts in this order).
fn summary(s: &Synced) -> String {
    let secs = s.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        s.rows as f64 / secs
    } else {
        0.0
    };
    let mut line = format!(
        "{} rows applied in {secs:.2} s ({rate:.0} rows/s) {}",
        s.rows, s.method
    );
    if let Some(c) = &s.converged {
        let what = if s.method == "by digests" {
            "digests"
        } else {
            c.mode.name()
        };
        line.push_str(&format!(
            "; {what} in {:.2} s: {} chunks compared, {} differed, {} rows deleted, {} rows repaired",
            c.elapsed.as_secs_f64(),
            c.chunks,
            c.differed,
            c.deleted,
            c.repaired
        ));
    }
    if let Some(c) = &s.first_copy {
        let resumed = if c.resumed { ", resumed" } else { "" };
        let plural = if c.ranges == 1 { "" } else { "s" };
        line.push_str(&format!(
            "; first copy in {} key range{plural}{resumed}",
            c.ranges
        ));
    }
    if let Some(w) = &s.whole {
        let found = if w.differed {
            format!("digests differed, {} rows copied (replaced)", w.copied)
        } else {
            format!("digests equal ({} rows)", w.source_rows)
        };
        line.push_str(&format!(
            "; whole in {:.2} s: {found}",
            w.elapsed.as_secs_f64()
        ));
    }
    line.push_str(&format!("; {} bytes read", s.bytes));
    line.push_str(&format!("; {}", clock::freshness(s.fresh_to())));
    line
}
