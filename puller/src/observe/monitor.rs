//! Keeps the status document (`status`) up to date as passes and tables
//! end, and writes it as JSON to `--status-file` and in Prometheus text to
//! `--metrics-file` (`metrics`), each replaced atomically at the start and
//! end of every pass and after tables, at most once a second while a pass
//! runs (a 300-table poll is not 300 syncs to disk).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use dbdump_shared::warn;

use crate::config::Config;
use crate::observe::dry_run::{Summary, TablePreview};
use crate::observe::status::{Pass, Passes, Puller, Stamp, Status, Table, FORMAT};
use crate::observe::{atomic_file, metrics};
use crate::source::clock;

/// Least time between two writes while a pass runs.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// Keeps the status and writes it where asked.
pub struct Monitor {
    status_file: Option<PathBuf>,
    metrics_file: Option<PathBuf>,
    pub status: Status,
    saved: Option<Instant>,
    /// The last write problem warned about (each is told once).
    problem: Option<String>,
}

impl Monitor {
    /// Starts the account and writes it once, so that a path that cannot
    /// be written is told at start-up (an error for the command line).
    pub fn new(cfg: &Config, source: String) -> Result<Monitor, String> {
        let status = Status {
            format: FORMAT,
            puller: Puller {
                pid: std::process::id(),
                version: dbdump_shared::VERSION,
                source: format!("{source}/{}", cfg.source_database),
                destination: format!("{}:{}/{}", cfg.dest_host, cfg.dest_port, cfg.dest_database),
                started: Stamp::now(),
                poll_interval_seconds: cfg.poll_interval.map(|d| d.as_secs_f64()),
            },
            updated: Stamp::now(),
            pass: None,
            previous_pass: None,
            passes: Passes::default(),
            tables: BTreeMap::new(),
            dry_run: None,
            database: cfg.dest_database.clone(),
        };
        for path in cfg.status_file.iter().chain(&cfg.metrics_file) {
            atomic_file::remove_stale(path);
        }
        let mut monitor = Monitor {
            status_file: cfg.status_file.clone(),
            metrics_file: cfg.metrics_file.clone(),
            status,
            saved: None,
            problem: None,
        };
        monitor.write()?;
        Ok(monitor)
    }

    pub fn pass_started(&mut self) {
        let number = self.status.pass.as_ref().map_or(0, |p| p.number) + 1;
        let pass = Pass {
            number,
            started: Stamp::now(),
            ended: None,
            outcome: "running",
            tables: 0,
            failed: 0,
            rows: 0,
            error: None,
        };
        self.status.previous_pass = self.status.pass.replace(pass);
        for t in self.status.tables.values_mut() {
            t.rows_last_pass = 0;
        }
        self.save(true);
    }

    /// The tables this pass is about, each with its method: the ones not
    /// seen yet are pending, the ones no longer synced (dropped, or not in
    /// `-t` any more) go.
    pub fn expect_tables(&mut self, tables: &[(String, &'static str)]) {
        self.status
            .tables
            .retain(|t, _| tables.iter().any(|(name, _)| name == t));
        for (name, method) in tables {
            let t = self
                .status
                .tables
                .entry(name.clone())
                .or_insert_with(|| Table {
                    state: "pending",
                    ..Table::default()
                });
            t.method = method;
        }
    }

    /// A table the server cannot sync, and why (not a failure of the
    /// pass). Returns whether that is news (so it is logged once, not on
    /// every poll).
    pub fn table_not_synced(&mut self, name: &str, why: &str) -> bool {
        let t = self.status.tables.entry(name.to_string()).or_default();
        let news = t.state != "not_synced" || t.last_error.as_deref() != Some(why);
        t.state = "not_synced";
        t.last_error = Some(why.to_string());
        self.save(false);
        news
    }

    /// A table's pass ended: `applied` (rows, horizon) if its rows came,
    /// `error` if anything failed (its rows may still have come, and then
    /// its horizon moved, but it did not succeed).
    pub fn table_done(&mut self, name: &str, applied: Option<(u64, &str)>, error: Option<&str>) {
        let t = self.status.tables.entry(name.to_string()).or_default();
        if let Some((rows, horizon)) = applied {
            t.horizon = Some(horizon.to_string());
            t.horizon_unix = clock::unix_seconds(horizon);
            t.lag_seconds = clock::lag_seconds(horizon);
            t.rows_last_pass = rows;
            t.rows_total += rows;
        }
        match error {
            None => {
                t.state = "ok";
                t.last_success = Some(Stamp::now());
                t.consecutive_failures = 0;
            }
            Some(e) => {
                t.state = "failed";
                t.last_error = Some(e.to_string());
                t.last_error_at = Some(Stamp::now());
                t.consecutive_failures += 1;
                t.failures_total += 1;
            }
        }
        if let Some(pass) = self.status.pass.as_mut() {
            pass.tables += 1;
            pass.failed += usize::from(error.is_some());
            pass.rows += applied.map_or(0, |(rows, _)| rows);
        }
        self.save(false);
    }

    /// A dry run looked at a table: what a pass would do to it (`preview`,
    /// settled), and nothing applied.
    pub fn table_previewed(&mut self, name: &str, preview: &TablePreview) {
        let t = self.status.tables.entry(name.to_string()).or_default();
        t.rows_last_pass = 0;
        t.dry_run = Some(preview.clone());
        match (preview.state, &preview.error, &preview.why) {
            ("failed", Some(e), _) => {
                t.state = "failed";
                t.last_error = Some(e.clone());
                t.last_error_at = Some(Stamp::now());
                t.consecutive_failures += 1;
                t.failures_total += 1;
            }
            ("skipped", _, Some(why)) => {
                t.state = "not_synced";
                t.last_error = Some(why.clone());
            }
            _ => {
                t.state = "ok";
                t.consecutive_failures = 0;
            }
        }
        if let Some(pass) = self.status.pass.as_mut() {
            pass.tables += 1;
            pass.failed += usize::from(preview.state == "failed");
        }
        self.save(false);
    }

    /// What a dry run found in all (written with the end of its pass).
    pub fn dry_run_summary(&mut self, summary: &Summary) {
        self.status.dry_run = Some(summary.clone());
    }

    /// The pass ended: `ok` unless `fatal` or a table failed (one skipped
    /// by `--ignore-database-errors` too); lags are taken now, by the
    /// source's clock.
    pub fn pass_ended(&mut self, fatal: Option<&str>, interrupted: bool) {
        let failed = self.status.pass.as_ref().is_some_and(|p| p.failed > 0);
        for t in self.status.tables.values_mut() {
            if let Some(h) = &t.horizon {
                t.lag_seconds = clock::lag_seconds(h);
            }
        }
        let outcome = if interrupted {
            self.status.passes.interrupted += 1;
            "interrupted"
        } else if fatal.is_some() || failed {
            self.status.passes.failed += 1;
            "failed"
        } else {
            self.status.passes.ok += 1;
            "ok"
        };
        if let Some(pass) = self.status.pass.as_mut() {
            pass.ended = Some(Stamp::now());
            pass.outcome = outcome;
            pass.error = fatal.map(str::to_string);
        }
        self.save(true);
    }

    /// Writes both files, at once or (while a pass runs) if the last write
    /// is a second old; a failure is warned about, once per reason.
    fn save(&mut self, now: bool) {
        if !now && self.saved.is_some_and(|t| t.elapsed() < SAVE_EVERY) {
            return;
        }
        match self.write() {
            Ok(()) => self.problem = None,
            Err(e) => {
                if self.problem.as_ref() != Some(&e) {
                    warn!("{e}");
                    self.problem = Some(e);
                }
            }
        }
    }

    fn write(&mut self) -> Result<(), String> {
        self.saved = Some(Instant::now());
        self.status.updated = Stamp::now();
        if let Some(path) = &self.status_file {
            let mut text = serde_json::to_vec_pretty(&self.status).unwrap_or_default();
            text.push(b'\n');
            atomic_file::replace(path, &text)
                .map_err(|e| format!("cannot write the status file {}: {e}", path.display()))?;
        }
        if let Some(path) = &self.metrics_file {
            let text = metrics::render(&self.status);
            atomic_file::replace(path, text.as_bytes())
                .map_err(|e| format!("cannot write the metrics file {}: {e}", path.display()))?;
        }
        Ok(())
    }
}
