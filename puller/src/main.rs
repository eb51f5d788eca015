//! dbd_puller: asks dbd_server for the rows changed since the destination's
//! own newest timestamp and upserts them, once or in a polling loop. The
//! destination is the only state. See `--help` and the README.

mod apply;
mod config;
mod converge;
mod observe;
mod pass;
mod schema;
mod source;
mod sql;

use std::time::Duration;

use dbdump_shared::{cli, error, info, logging, signals, warn};

use config::{Config, DryRun, SPEC};

/// Exit code when a one-shot pass was interrupted by SIGTERM/SIGINT.
const EXIT_INTERRUPTED: i32 = 3;

/// `--dry-run`: one pass that changes nothing, its report on stdout, and
/// its exit code (0 nothing would change, 4 something would).
fn dry_run(
    config: &Config,
    form: DryRun,
    client: &source::client::Client,
    monitor: &mut observe::monitor::Monitor,
) -> ! {
    use std::io::Write as _;
    let report = pass::dry_run::pass(config, client, monitor);
    if let Some(fatal) = &report.summary.error {
        error!("{fatal}");
    }
    if report.summary.interrupted {
        warn!("interrupted; nothing was changed");
    }
    let text = match form {
        DryRun::Text => report.text(),
        DryRun::Json => report.json() + "\n",
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    std::process::exit(report.summary.exit_code)
}

fn main() {
    dbdump_shared::allocator::tune();
    signals::install();
    let config = Config::from_env();
    logging::set_debug(config.debug);
    dbdump_shared::debug!("configuration: {config:?}");
    let usage = |e: String| -> ! { cli::exit_usage(&SPEC, &cli::CliError(e)) };
    let client = source::client::Client::new(&config).unwrap_or_else(|e| usage(e));
    observe::progress::set_interval(config.progress_interval);
    let mut monitor =
        observe::monitor::Monitor::new(&config, client.base()).unwrap_or_else(|e| usage(e));
    if let Some(form) = config.dry_run {
        dry_run(&config, form, &client, &mut monitor);
    }
    let mut pass = |schedule: &mut pass::schedule::Schedule| {
        monitor.pass_started();
        let report = pass::sync::pass(&config, &client, schedule, &mut monitor);
        monitor.pass_ended(report.fatal.as_deref(), signals::stop_requested());
        report
    };

    let mut schedule = pass::schedule::Schedule::new();
    let Some(interval) = config.poll_interval else {
        let report = pass(&mut schedule);
        if let Some(fatal) = &report.fatal {
            error!("{fatal}");
        }
        let failed: Vec<&String> = report
            .tables
            .iter()
            .filter(|(_, r)| r.is_err())
            .map(|(t, _)| t)
            .collect();
        if signals::stop_requested() {
            warn!("interrupted; the destination is consistent, run again to complete");
            std::process::exit(EXIT_INTERRUPTED);
        }
        if !report.ok() {
            if !failed.is_empty() {
                error!("{} of {} tables failed", failed.len(), report.tables.len());
            }
            std::process::exit(1);
        }
        return;
    };

    info!(
        "polling {} every {:.1}s",
        client.base(),
        interval.as_secs_f64()
    );
    let mut failures = 0u32;
    while !signals::stop_requested() {
        let report = pass(&mut schedule);
        if let Some(fatal) = &report.fatal {
            error!("{fatal}");
        }
        // A comparison that failed (the mass-delete guard, say) waits for
        // the operator: it is no reason to poll the other tables less.
        failures = if report.transfers_ok() {
            0
        } else {
            failures.saturating_add(1)
        };
        // Back off while things fail (server down, destination away), up to
        // a minute or the interval if that is longer; never give up.
        let wait = if failures == 0 {
            interval
        } else {
            let cap = interval.max(Duration::from_secs(60));
            interval.saturating_mul(1 << failures.min(10)).min(cap)
        };
        if failures > 0 {
            warn!(
                "pass failed ({failures} in a row); next attempt in {:.1}s",
                wait.as_secs_f64()
            );
        }
        signals::sleep(wait);
    }
    info!("stopped");
}
