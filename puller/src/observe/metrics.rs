//! The status in Prometheus text exposition format (version 0.0.4), for
//! node_exporter's textfile collector: every metric has its HELP and TYPE,
//! counters end in `_total`, times are Unix seconds, and every sample
//! carries `database` (the destination database), per-table ones `table`
//! too. The names are listed in the README (Monitoring).

use std::fmt::Write as _;

use crate::observe::status::{Status, Table};

/// One metric family: name, type, help, and its samples as (labels, value).
struct Family<'a> {
    name: &'a str,
    kind: &'a str,
    help: &'a str,
    samples: Vec<(String, f64)>,
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "0".into()
    }
}

/// The per-table families: each picks a figure from a table's status.
type Pick = fn(&Table) -> Option<f64>;

const TABLE_FAMILIES: &[(&str, &str, &str, Pick)] = &[
    (
        "dbdump_table_horizon_timestamp_seconds",
        "gauge",
        "Source time (Unix seconds) up to which the table's copy is complete.",
        |t| t.horizon_unix,
    ),
    (
        "dbdump_table_lag_seconds",
        "gauge",
        "The source's clock minus the table's horizon at the end of the latest pass.",
        |t| t.lag_seconds,
    ),
    (
        "dbdump_table_last_success_timestamp_seconds",
        "gauge",
        "When the table last synced without an error (Unix seconds).",
        |t| t.last_success.as_ref().map(|s| s.unix),
    ),
    (
        "dbdump_table_last_pass_rows",
        "gauge",
        "Rows applied to the table in the latest pass.",
        |t| Some(t.rows_last_pass as f64),
    ),
    (
        "dbdump_table_rows_applied_total",
        "counter",
        "Rows applied to the table since the puller started.",
        |t| Some(t.rows_total as f64),
    ),
    (
        "dbdump_table_consecutive_failures",
        "gauge",
        "Passes in a row in which the table failed (0 after a success).",
        |t| Some(t.consecutive_failures as f64),
    ),
    (
        "dbdump_table_failures_total",
        "counter",
        "Passes in which the table failed, since the puller started.",
        |t| Some(t.failures_total as f64),
    ),
];

/// The metrics file's text.
pub fn render(status: &Status) -> String {
    let db = format!("database=\"{}\"", escape(&status.database));
    let mut families: Vec<Family<'_>> = TABLE_FAMILIES
        .iter()
        .map(|&(name, kind, help, pick)| Family {
            name,
            kind,
            help,
            samples: status
                .tables
                .iter()
                .filter_map(|(table, t)| {
                    pick(t).map(|v| (format!("{db},table=\"{}\"", escape(table)), v))
                })
                .collect(),
        })
        .collect();
    let pass = status.pass.as_ref();
    // The latest finished pass: the running one tells nothing yet.
    let finished = pass
        .filter(|p| p.ended.is_some())
        .or(status.previous_pass.as_ref());
    let one = |v: Option<f64>| v.map(|v| vec![(db.clone(), v)]).unwrap_or_default();
    families.extend([
        Family {
            name: "dbdump_puller_start_time_seconds",
            kind: "gauge",
            help: "When this dbd_puller started (Unix seconds).",
            samples: one(Some(status.puller.started.unix)),
        },
        Family {
            name: "dbdump_pass_last_start_timestamp_seconds",
            kind: "gauge",
            help: "When the latest finished pass started (Unix seconds).",
            samples: one(finished.map(|p| p.started.unix)),
        },
        Family {
            name: "dbdump_pass_last_end_timestamp_seconds",
            kind: "gauge",
            help: "When the latest finished pass ended (Unix seconds).",
            samples: one(finished.and_then(|p| p.ended.as_ref()).map(|e| e.unix)),
        },
        Family {
            name: "dbdump_pass_last_duration_seconds",
            kind: "gauge",
            help: "How long the latest finished pass took.",
            samples: one(finished.and_then(|p| Some(p.ended.as_ref()?.unix - p.started.unix))),
        },
        Family {
            name: "dbdump_pass_last_success",
            kind: "gauge",
            help: "Whether the latest finished pass synced every table (1) or not (0).",
            samples: one(finished.map(|p| f64::from(u8::from(p.outcome == "ok")))),
        },
        Family {
            name: "dbdump_passes_total",
            kind: "counter",
            help: "Passes finished since the puller started, by outcome.",
            samples: [
                ("ok", status.passes.ok),
                ("failed", status.passes.failed),
                ("interrupted", status.passes.interrupted),
            ]
            .iter()
            .map(|(o, n)| (format!("{db},outcome=\"{o}\""), *n as f64))
            .collect(),
        },
    ]);
    let mut out = String::new();
    for f in families.iter().filter(|f| !f.samples.is_empty()) {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        for (labels, value) in &f.samples {
            let _ = writeln!(out, "{}{{{labels}}} {}", f.name, number(*value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::status::{Passes, Puller, Stamp};

    #[test]
    fn renders_families_with_help_type_and_escaped_labels() {
        let mut tables = std::collections::BTreeMap::new();
        tables.insert(
            "odd \"t\"\\".to_string(),
            Table {
                state: "ok",
                horizon_unix: Some(1_764_133_201.5),
                rows_total: 12,
                ..Table::default()
            },
        );
        tables.insert("pending".to_string(), Table::default());
        let status = Status {
            format: 1,
            puller: Puller {
                pid: 1,
                version: "0",
                source: "s".into(),
                destination: "d".into(),
                started: Stamp::now(),
                poll_interval_seconds: None,
            },
            updated: Stamp::now(),
            pass: None,
            previous_pass: None,
            passes: Passes::default(),
            tables,
            dry_run: None,
            database: "copy".into(),
        };
        let text = render(&status);
        assert!(text.contains(
            "dbdump_table_horizon_timestamp_seconds{database=\"copy\",table=\"odd \\\"t\\\"\\\\\"} 1764133201.5\n"
        ), "{text}");
        assert!(text.contains("# TYPE dbdump_table_rows_applied_total counter\n"));
        assert!(text.contains("dbdump_passes_total{database=\"copy\",outcome=\"ok\"} 0\n"));
        assert!(
            !text.contains("dbdump_table_lag_seconds"),
            "no sample, no family"
        );
        assert!(!text.contains("pass_last_start"), "no pass finished yet");
        assert_eq!(
            text.matches("# HELP").count(),
            text.matches("# TYPE").count()
        );
    }
}
