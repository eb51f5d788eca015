//! What `--dry-run` found, per table and in total, and how it is told: the
//! figures (also kept in the status document), lines for people and the
//! JSON document `--dry-run=json` prints, and the exit code they mean.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::value::RawValue;

/// Exit code of a dry run that found something a pass would change.
pub const EXIT_WOULD_CHANGE: i32 = 4;

/// Version of the dry run document's layout.
pub const FORMAT: u32 = 1;

/// What a pass would do to one table.
#[derive(Serialize, Clone, Debug, Default)]
pub struct TablePreview {
    /// `would_change`, `equal`, `skipped` (not synced: `why` says why) or
    /// `failed` (a real pass would fail it too: `error` says why).
    pub state: &'static str,
    /// `timestamp`, `cursor`, `digest`, `whole` or `none`.
    pub method: &'static str,
    /// The method as the summary line says it (`by timestamp `ts``).
    pub how: String,
    /// `--create-tables` would create the table.
    pub create_table: bool,
    /// Columns `--create-tables` would add, in order.
    pub add_columns: Vec<String>,
    /// Rows the pass would apply: its change stream (from the
    /// destination's resume point), a first copy, or a whole copy.
    pub rows_to_apply: u64,
    /// The comparison that would run: `deletes`, `verify` (`--verify`, and
    /// always for a table synced by digests) or none.
    pub compared: Option<&'static str>,
    pub chunks_compared: Option<u64>,
    pub chunks_differed: Option<u64>,
    /// Destination rows the comparison would delete (`None`: no comparison).
    pub rows_to_delete: Option<u64>,
    /// Up to `--dry-run-examples` of their keys, as the wire writes keys.
    pub delete_examples: Vec<Box<RawValue>>,
    /// Rows the comparison would re-fetch (missing or different), beyond
    /// those the change stream brings anyway (`None`: not looked for).
    pub rows_to_repair: Option<u64>,
    pub repair_examples: Vec<Box<RawValue>>,
    /// A table without a key: its digests on both sides.
    pub whole: Option<WholePreview>,
    /// Why it is not synced (`state` `skipped`).
    pub why: Option<String>,
    /// Why a pass would fail it (`state` `failed`).
    pub error: Option<String>,
    /// What else a pass would do that the figures do not tell.
    pub notes: Vec<String>,
    /// Bytes read from the server to find all this.
    pub bytes_read: u64,
}

/// A keyless table's comparison.
#[derive(Serialize, Clone, Debug, Default)]
pub struct WholePreview {
    pub source_rows: u64,
    pub destination_rows: u64,
    /// The digests differ: the pass would replace the destination's rows.
    pub differ: bool,
}

impl TablePreview {
    pub fn new(method: &'static str, how: String) -> TablePreview {
        TablePreview {
            state: "equal",
            method,
            how,
            ..TablePreview::default()
        }
    }

    /// A table a pass would not sync, and why.
    pub fn skipped(method: &'static str, how: String, why: &str) -> TablePreview {
        TablePreview {
            state: "skipped",
            why: Some(why.to_string()),
            ..TablePreview::new(method, how)
        }
    }

    /// A pass would fail this table, for this reason.
    pub fn fail(&mut self, error: String) {
        self.error = Some(error);
    }

    /// Keys (JSON text, as the wire writes them) as examples.
    pub fn examples(keys: &[String]) -> Vec<Box<RawValue>> {
        keys.iter()
            .filter_map(|k| RawValue::from_string(k.clone()).ok())
            .collect()
    }

    /// Settles `state` from the figures; returns it.
    pub fn settle(&mut self) -> &'static str {
        self.state = if self.error.is_some() {
            "failed"
        } else if self.why.is_some() {
            "skipped"
        } else if self.create_table
            || !self.add_columns.is_empty()
            || self.rows_to_apply > 0
            || self.rows_to_delete.unwrap_or(0) > 0
            || self.rows_to_repair.unwrap_or(0) > 0
            || self.whole.as_ref().is_some_and(|w| w.differ)
        {
            "would_change"
        } else {
            "equal"
        };
        self.state
    }

    /// One line for people: what a pass would do to `name` (only what it
    /// would change, or `nothing to do`; then what it compared).
    pub fn line(&self, name: &str) -> String {
        let mut line = format!("table `{name}`");
        if self.method != "none" {
            let _ = write!(line, " ({})", self.how);
        }
        line.push_str(": ");
        let mut parts: Vec<String> = Vec::new();
        match (self.state, &self.why) {
            ("skipped", Some(why)) => parts.push(format!("skipped: {why}")),
            ("equal", _) => parts.push("nothing to do".into()),
            _ => {}
        }
        if self.create_table {
            parts.push("would create the table".into());
        }
        if !self.add_columns.is_empty() {
            let names: Vec<String> = self.add_columns.iter().map(|c| format!("`{c}`")).collect();
            parts.push(format!("would add column {}", names.join(", ")));
        }
        match &self.whole {
            Some(w) if w.differ => parts.push(format!(
                "digests differ: would replace its {} rows by the source's {}",
                w.destination_rows, w.source_rows
            )),
            Some(w) => parts.push(format!("digests equal ({})", rows(w.source_rows))),
            None if self.rows_to_apply > 0 => {
                parts.push(format!("would apply {}", rows(self.rows_to_apply)))
            }
            None => {}
        }
        if let Some(n) = self.rows_to_delete.filter(|&n| n > 0) {
            parts.push(format!(
                "would delete {}{}",
                rows(n),
                shown(&self.delete_examples)
            ));
        }
        if let Some(n) = self.rows_to_repair.filter(|&n| n > 0) {
            parts.push(format!(
                "would repair {}{}",
                rows(n),
                shown(&self.repair_examples)
            ));
        }
        if let (Some(mode), Some(chunks), Some(differed)) =
            (self.compared, self.chunks_compared, self.chunks_differed)
        {
            parts.push(format!("{mode}: {differed} of {chunks} chunks differ"));
        }
        parts.extend(self.notes.iter().cloned());
        if let Some(e) = &self.error {
            parts.push(format!("failed: {e}"));
        }
        line.push_str(&parts.join("; "));
        line
    }
}

fn rows(n: u64) -> String {
    if n == 1 {
        "1 row".into()
    } else {
        format!("{n} rows")
    }
}

/// ` (e.g. [3], [4])`, or nothing without examples.
fn shown(examples: &[Box<RawValue>]) -> String {
    if examples.is_empty() {
        return String::new();
    }
    let keys: Vec<&str> = examples.iter().map(|k| k.get()).collect();
    format!(" (e.g. {})", keys.join(", "))
}

/// The totals of a dry run.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct Totals {
    pub tables: usize,
    pub would_change: usize,
    pub equal: usize,
    pub skipped: usize,
    pub failed: usize,
    pub rows_to_apply: u64,
    pub rows_to_delete: u64,
    pub rows_to_repair: u64,
    pub tables_to_create: usize,
    pub tables_to_alter: usize,
}

/// What a dry run found in all, as the status document keeps it too.
#[derive(Serialize, Clone, Debug, Default)]
pub struct Summary {
    /// Nothing to apply, delete, repair, create or alter (false when a
    /// table or the pass failed: not every table could be looked at).
    pub equal: bool,
    /// 0 equal, 4 would change, 1 a table (or the pass) failed, 3 interrupted.
    pub exit_code: i32,
    /// `--create-tables` would create the destination database.
    pub create_database: bool,
    pub totals: Totals,
    /// Why the whole pass failed (server or destination unreachable).
    pub error: Option<String>,
    pub interrupted: bool,
    /// Bytes read from the server in all.
    pub bytes_read: u64,
}

/// The document `--dry-run=json` prints.
#[derive(Serialize, Debug)]
pub struct Report {
    pub format: u32,
    pub dry_run: bool,
    /// `http(s)://host:port/database`.
    pub source: String,
    /// `host:port/database`.
    pub destination: String,
    #[serde(flatten)]
    pub summary: Summary,
    pub tables: BTreeMap<String, TablePreview>,
}

impl Report {
    pub fn new(source: String, destination: String) -> Report {
        Report {
            format: FORMAT,
            dry_run: true,
            source,
            destination,
            summary: Summary::default(),
            tables: BTreeMap::new(),
        }
    }

    /// Adds a table's preview (settled) to the report.
    pub fn add(&mut self, name: &str, mut preview: TablePreview) {
        preview.settle();
        self.tables.insert(name.to_string(), preview);
        self.settle();
    }

    /// Totals, equality and the exit code from what is in the report.
    pub fn settle(&mut self) {
        let mut t = Totals::default();
        for p in self.tables.values() {
            t.tables += 1;
            match p.state {
                "would_change" => t.would_change += 1,
                "skipped" => t.skipped += 1,
                "failed" => t.failed += 1,
                _ => t.equal += 1,
            }
            t.rows_to_apply += p.rows_to_apply;
            t.rows_to_delete += p.rows_to_delete.unwrap_or(0);
            t.rows_to_repair += p.rows_to_repair.unwrap_or(0);
            t.tables_to_create += usize::from(p.create_table);
            t.tables_to_alter += usize::from(!p.add_columns.is_empty());
        }
        let s = &mut self.summary;
        // Only a look at every table can tell.
        let complete = s.error.is_none() && !s.interrupted && t.failed == 0;
        s.equal = complete && t.would_change == 0 && !s.create_database;
        s.exit_code = if s.interrupted {
            3
        } else if s.error.is_some() || t.failed > 0 {
            1
        } else if s.equal {
            0
        } else {
            EXIT_WOULD_CHANGE
        };
        s.totals = t;
    }

    /// The JSON document, one line.
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Lines for people: one per table, then the totals.
    pub fn text(&self) -> String {
        let mut out = format!(
            "dry run of {} into {}: nothing was changed\n",
            self.source, self.destination
        );
        if self.summary.create_database {
            out.push_str("would create the destination database\n");
        }
        for (name, p) in &self.tables {
            out.push_str(&p.line(name));
            out.push('\n');
        }
        let (s, t) = (&self.summary, &self.summary.totals);
        if let Some(e) = &s.error {
            let _ = writeln!(out, "dry run failed: {e}; exit code {}", s.exit_code);
            return out;
        }
        if s.interrupted {
            out.push_str("interrupted before every table was looked at\n");
        }
        let verdict = if s.equal {
            "the destination is equal: a pass would change nothing".to_string()
        } else if t.would_change == 0 && !s.create_database {
            "no table looked at would change".to_string()
        } else {
            format!(
                "{} of {} tables would change: {} to apply, {} to delete, {} to repair, {} \
                 tables to create, {} to alter",
                t.would_change,
                t.tables,
                rows(t.rows_to_apply),
                rows(t.rows_to_delete),
                rows(t.rows_to_repair),
                t.tables_to_create,
                t.tables_to_alter
            )
        };
        let _ = writeln!(
            out,
            "dry run: {verdict} ({} equal, {} skipped, {} failed); exit code {}",
            t.equal, t.skipped, t.failed, s.exit_code
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_figures_settle_the_state_totals_and_exit_code() {
        let mut report = Report::new("http://s:8888/db".into(), "d:3306/copy".into());
        report.add(
            "same",
            TablePreview::new("timestamp", "by timestamp `ts`".into()),
        );
        assert_eq!(report.summary.exit_code, 0);
        assert!(report.summary.equal);
        let mut p = TablePreview::new("digest", "by digests".into());
        p.rows_to_delete = Some(2);
        p.delete_examples = TablePreview::examples(&["[7]".into(), "[\"a\",1]".into()]);
        p.rows_to_repair = Some(0);
        p.compared = Some("verify");
        report.add("meta", p);
        report.add(
            "odd",
            TablePreview::skipped("none", "not synced".into(), "no key"),
        );
        assert_eq!(report.summary.exit_code, EXIT_WOULD_CHANGE);
        let line = report.tables["meta"].line("meta");
        assert_eq!(
            line,
            "table `meta` (by digests): would delete 2 rows (e.g. [7], [\"a\",1])"
        );
        assert_eq!(
            report.tables["odd"].line("odd"),
            "table `odd`: skipped: no key"
        );
        assert_eq!(
            report.tables["same"].line("same"),
            "table `same` (by timestamp `ts`): nothing to do"
        );
        let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
        assert_eq!(json["exit_code"], 4);
        assert_eq!(json["totals"]["rows_to_delete"], 2);
        assert_eq!(json["tables"]["meta"]["delete_examples"][1][0], "a");
        assert_eq!(json["tables"]["odd"]["state"], "skipped");
        let mut failed = TablePreview::new("whole", "whole".into());
        failed.fail("too big".into());
        report.add("log", failed);
        assert_eq!(report.summary.exit_code, 1, "a failure wins");
        assert!(report
            .text()
            .ends_with("(1 equal, 1 skipped, 1 failed); exit code 1\n"));
        let mut broken = Report::new("s".into(), "d".into());
        broken.summary.error = Some("cannot list tables".into());
        broken.settle();
        assert_eq!((broken.summary.equal, broken.summary.exit_code), (false, 1));
        assert!(broken
            .text()
            .ends_with("dry run failed: cannot list tables; exit code 1\n"));
    }
}
