//! `--dry-run`: one pass that reads and compares as a real pass would and
//! changes nothing on the destination. The same plan (`tables`), the same
//! changes question (`changes`) and, per table, what its pass would do
//! (`preview`); no first copies (they would mark table comments), no
//! `CREATE`, and the destination session is read-only besides. The figures
//! go to the status file as they come and make up the report `main`
//! prints.

use dbdump_shared::http::percent_encode;
use dbdump_shared::wire::TableList;
use dbdump_shared::{error, signals, warn};

use crate::apply::destination::Destination;
use crate::config::Config;
use crate::observe::dry_run::Report;
use crate::observe::monitor::Monitor;
use crate::pass::changes;
use crate::pass::preview::preview;
use crate::pass::schedule::Schedule;
use crate::pass::tables::{self, How};
use crate::schema;
use crate::source::client::Client;
use crate::source::retry::with_busy_retry;

/// Makes the dry run's pass; its report holds the exit code.
pub fn pass(cfg: &Config, client: &Client, monitor: &mut Monitor) -> Report {
    let mut report = Report::new(
        format!("{}/{}", client.base(), cfg.source_database),
        format!("{}:{}/{}", cfg.dest_host, cfg.dest_port, cfg.dest_database),
    );
    monitor.pass_started();
    if let Err(e) = look(cfg, client, monitor, &mut report) {
        report.summary.error = Some(e);
    }
    report.summary.interrupted = signals::stop_requested();
    report.summary.bytes_read = client.bytes_read();
    report.settle();
    monitor.dry_run_summary(&report.summary);
    let s = &report.summary;
    monitor.pass_ended(s.error.as_deref(), s.interrupted);
    report
}

/// Looks at every table of the pass; an error is one that stops the whole
/// pass (the server or the destination cannot be reached).
fn look(
    cfg: &Config,
    client: &Client,
    monitor: &mut Monitor,
    report: &mut Report,
) -> Result<(), String> {
    let listing_path = format!("/{}/", percent_encode(&cfg.source_database));
    let listing: TableList = with_busy_retry(|| client.get_json(&listing_path)).map_err(|e| {
        format!(
            "cannot list tables of `{}` at {}: {e}",
            cfg.source_database,
            client.base()
        )
    })?;
    let tables = tables::plan(&listing, cfg.tables.as_deref());
    let mut dest = Destination::connect(cfg)?;
    if cfg.create_tables && !schema::database_exists(&mut dest)? {
        report.summary.create_database = true;
    }
    let methods: Vec<(String, &'static str)> = tables
        .iter()
        .map(|t| (t.name.clone(), t.method_name()))
        .collect();
    monitor.expect_tables(&methods);
    let names: Vec<String> = tables
        .iter()
        .filter(|t| !matches!(t.how, How::Refused { .. }))
        .map(|t| t.name.clone())
        .collect();
    // A one-shot run's plan: every table compared, or none.
    let mut schedule = Schedule::new();
    let plan = schedule.next(cfg, &names);
    let survey = changes::survey(cfg, client, &mut dest, &tables, &schedule);
    for planned in &tables {
        if signals::stop_requested() {
            break;
        }
        let name = &planned.name;
        let found = preview(
            cfg,
            client,
            &mut dest,
            planned,
            &survey,
            plan.mode_for(name),
        );
        // Told on stderr as a pass tells them.
        if let Some(e) = &found.error {
            error!("table `{name}` failed: {e}");
        } else if let Some(why) = &found.why {
            warn!("table `{name}` not synced: {why}");
        }
        monitor.table_previewed(name, &found);
        report.add(name, found);
    }
    Ok(())
}
