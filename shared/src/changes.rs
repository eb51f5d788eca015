//! The changes question, `GET /<db>/?resume=…`: the client sends each
//! table's resume point, the server answers which tables have rows past it
//! below the horizon. A poll over hundreds of tables then costs one request
//! (and one index probe per table on the source) plus a stream per table
//! that changed, instead of a stream per table. See `shared/PROTOCOL.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The query parameter that carries the resume points.
pub const PARAM: &str = "resume";

/// Most tables one request may ask about.
pub const MAX_TABLES: usize = 10_000;

/// The request: per table, `null` (the copy has no row yet: any row
/// counts, `NULL` timestamps included, as a stream without `since`) or
/// `[since, after_key]` (rows after that point, as a stream with `since`
/// and `after_key`).
pub type ResumePoints = BTreeMap<String, Option<(String, Box<RawValue>)>>;

/// One table's entry of a request, as JSON: `"t":null` or
/// `"t":["2026-11-26 05:00:00.123456",[42]]`; `after_key` is the key array
/// in wire encoding, as a stream's `after_key`.
pub fn resume_entry(table: &str, resume: Option<(&str, &str)>) -> String {
    let name = serde_json::to_string(table).unwrap_or_default();
    match resume {
        None => format!("{name}:null"),
        Some((since, after_key)) => format!(
            "{name}:[{},{after_key}]",
            serde_json::to_string(since).unwrap_or_default()
        ),
    }
}

/// The answer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ChangesAnswer {
    pub database: String,
    /// The source's clock (UTC) when the horizon was taken: how far
    /// behind a copy is, by the source's own time.
    pub source_time: String,
    /// The tables asked about, by name.
    pub tables: Vec<TableChange>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TableChange {
    pub table: String,
    /// Whether the table's change stream from the resume point given
    /// would hold at least one row (below `horizon`).
    pub changed: bool,
    /// The horizon, at the precision of the table's timestamp column.
    /// Without a change, a copy at the resume point is complete up to it.
    pub horizon: String,
    /// For a changed table, the source's estimate of the rows its stream
    /// holds (the optimizer's, from the index), for progress reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_rows: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_back_as_resume_points() {
        let text = format!(
            "{{{},{}}}",
            resume_entry("a \"b\"", Some(("2026-11-26 05:00:00.5", "[1,\"x\"]"))),
            resume_entry("empty", None)
        );
        let points: ResumePoints = serde_json::from_str(&text).unwrap();
        let (since, key) = points["a \"b\""].as_ref().unwrap();
        assert_eq!(since, "2026-11-26 05:00:00.5");
        assert_eq!(key.get(), "[1,\"x\"]");
        assert!(points["empty"].is_none());
    }
}
