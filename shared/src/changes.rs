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

/// Where a client's copy of one table stands, which columns it leaves out
/// and which cursor it reads the table by: as a change stream's `since`,
/// `after_key`, `exclude_columns`, `cursor` and `cursor_zone`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Resume {
    /// `since` and `after_key` (the key array in wire encoding); none: the
    /// copy has no row yet, and any row counts (`NULL` timestamps too).
    pub after: Option<(String, String)>,
    /// Checked as the stream would check them (a key or timestamp column,
    /// or an unknown one, is a 400 naming the table).
    pub exclude_columns: Vec<String>,
    /// The named cursor, for a table read by one; `since` is then a value
    /// of that column.
    pub cursor: Option<NamedCursor>,
    /// For a table synced by digests or whole: the horizon (UTC) of the
    /// comparison the copy last came out of equal. The table has changed
    /// since unless the source can tell it has not.
    pub compared: Option<String>,
}

/// A table's named cursor, as a change stream's `cursor` and `cursor_zone`.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedCursor {
    pub cursor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_zone: Option<String>,
    /// `s` or `ms` for an integer cursor of Unix time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_unit: Option<String>,
}

/// The fourth element of an entry: a named cursor, or the horizon of the
/// last comparison of a table synced by digests or whole.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor_unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    compared: Option<String>,
}

/// One table's entry of a request, as JSON: `"t":null` (an empty copy),
/// `"t":["2026-11-26 05:00:00.123456",[42]]` (since and after_key), with
/// excluded columns a third element, `"t":[null,null,["avatar"]]`, and for
/// a table read by a named cursor a fourth,
/// `"t":[null,null,[],{"cursor":"updated_at","cursor_zone":"+01:00"}]`, or
/// for a table synced by digests the horizon of its last comparison,
/// `"t":[null,null,[],{"compared":"2026-11-26 05:00:00.000000"}]`.
pub fn resume_entry(table: &str, resume: &Resume) -> String {
    let json = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let (since, key) = match &resume.after {
        Some((since, key)) => (json(since), key.clone()),
        None => ("null".into(), "null".into()),
    };
    let columns = || {
        let columns: Vec<String> = resume.exclude_columns.iter().map(|c| json(c)).collect();
        format!("[{}]", columns.join(","))
    };
    let options = Options {
        cursor: resume.cursor.as_ref().map(|c| c.cursor.clone()),
        cursor_zone: resume.cursor.as_ref().and_then(|c| c.cursor_zone.clone()),
        cursor_unit: resume.cursor.as_ref().and_then(|c| c.cursor_unit.clone()),
        compared: resume.compared.clone(),
    };
    let has_options = options.cursor.is_some() || options.compared.is_some();
    let value = match (
        &resume.after,
        resume.exclude_columns.as_slice(),
        has_options,
    ) {
        (None, [], false) => "null".to_string(),
        (Some(_), [], false) => format!("[{since},{key}]"),
        (_, _, false) => format!("[{since},{key},{}]", columns()),
        (_, _, true) => format!(
            "[{since},{key},{},{}]",
            columns(),
            serde_json::to_string(&options).unwrap_or_default()
        ),
    };
    format!("{}:{value}", json(table))
}

/// Parses a request's `resume` object into (table, resume) pairs, by name.
pub fn parse_resume(text: &str) -> Result<Vec<(String, Resume)>, String> {
    type Raw = BTreeMap<String, Option<Vec<Box<RawValue>>>>;
    let shape = "a JSON object of table names to null or [since, after_key(, exclude_columns(, \
                 {\"cursor\", \"cursor_zone\", \"cursor_unit\"} or {\"compared\"}))]";
    let raw: Raw = serde_json::from_str(text).map_err(|e| format!("not {shape}: {e}"))?;
    raw.into_iter()
        .map(|(table, entry)| {
            let bad = |what: &str| format!("table `{table}`: {what}; expected {shape}");
            let items = entry.unwrap_or_default();
            if items.len() == 1 || items.len() > 4 {
                return Err(bad("wrong number of elements"));
            }
            let since: Option<String> = match items.first() {
                None => None,
                Some(v) => {
                    serde_json::from_str(v.get()).map_err(|_| bad("since is not a string"))?
                }
            };
            let key = items.get(1).map(|k| k.get()).filter(|k| *k != "null");
            let after = match (since, key) {
                (Some(since), Some(key)) => Some((since, key.to_string())),
                (None, None) => None,
                _ => return Err(bad("since and after_key go together")),
            };
            let exclude_columns = match items.get(2) {
                None => Vec::new(),
                Some(v) => serde_json::from_str(v.get())
                    .map_err(|_| bad("exclude_columns is not an array of column names"))?,
            };
            let options: Options = match items.get(3) {
                None => Options::default(),
                Some(v) => serde_json::from_str(v.get())
                    .map_err(|_| bad("the fourth element is not an object of those fields"))?,
            };
            let cursor = match options.cursor {
                Some(cursor) => Some(NamedCursor {
                    cursor,
                    cursor_zone: options.cursor_zone,
                    cursor_unit: options.cursor_unit,
                }),
                None if options.cursor_zone.is_some() || options.cursor_unit.is_some() => {
                    return Err(bad("cursor_zone and cursor_unit need cursor"))
                }
                None => None,
            };
            if options.compared.is_some() && (cursor.is_some() || after.is_some()) {
                return Err(bad(
                    "compared is for a table synced by digests: no since, after_key or cursor with it",
                ));
            }
            Ok((
                table,
                Resume {
                    after,
                    exclude_columns,
                    cursor,
                    compared: options.compared,
                },
            ))
        })
        .collect()
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
    /// The horizon, at the precision of the table's timestamp column (for
    /// a named DATETIME cursor, on its application's wall clock). Without a
    /// change, a copy at the resume point is complete up to it.
    pub horizon: String,
    /// For a named DATETIME cursor in another zone than UTC: the horizon
    /// as the instant it is, in UTC (as a stream header's `horizon_utc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon_utc: Option<String>,
    /// For a changed table, the source's estimate of the rows its stream
    /// holds (the optimizer's, from the index), for progress reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_rows: Option<u64>,
    /// A fingerprint of the columns the table's stream sends, names and
    /// types in order ([`columns_fingerprint`]): a copy whose columns give
    /// another one (a column added on the source) needs its stream even
    /// without new rows (`dbd_puller --create-tables` reshapes it then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<u64>,
}

/// FNV-1a (64 bits) of the columns' names and types, in order, without
/// regard to case.
pub fn columns_fingerprint<'a>(columns: impl IntoIterator<Item = (&'a str, &'a str)>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, sql_type) in columns {
        for b in name.bytes().chain([0]).chain(sql_type.bytes()).chain([0]) {
            h ^= u64::from(b.to_ascii_lowercase());
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resume(after: Option<(&str, &str)>, exclude: &[&str]) -> Resume {
        Resume {
            after: after.map(|(s, k)| (s.to_string(), k.to_string())),
            exclude_columns: exclude.iter().map(|c| c.to_string()).collect(),
            cursor: None,
            compared: None,
        }
    }

    fn by_cursor(mut r: Resume, cursor: &str, zone: Option<&str>) -> Resume {
        r.cursor = Some(NamedCursor {
            cursor: cursor.to_string(),
            cursor_zone: zone.map(str::to_string),
            cursor_unit: None,
        });
        r
    }

    #[test]
    fn entries_parse_back() {
        let entries = [
            (
                "a \"b\"",
                resume(Some(("2026-11-26 05:00:00.5", "[1,\"x\"]")), &[]),
            ),
            ("empty", resume(None, &[])),
            ("secret", resume(None, &["pin", "pass\"word"])),
            ("both", resume(Some(("2020-01-01", "[2]")), &["c"])),
            ("rails", by_cursor(resume(None, &[]), "updated_at", None)),
            ("moodle", {
                let mut r = by_cursor(resume(None, &[]), "timemodified", Some("UTC"));
                r.cursor.as_mut().unwrap().cursor_unit = Some("s".into());
                r
            }),
            ("wp_options", {
                let mut r = resume(None, &["autoload"]);
                r.compared = Some("2026-12-03 01:00:00.000000".into());
                r
            }),
            (
                "django",
                by_cursor(
                    resume(Some(("2020-01-01", "[3]")), &["c"]),
                    "modified",
                    Some("Europe/Berlin"),
                ),
            ),
        ];
        let text = format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(t, r)| resume_entry(t, r))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(text.contains("\"empty\":null,"), "{text}");
        assert!(
            text.contains(r#""rails":[null,null,[],{"cursor":"updated_at"}]"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#""wp_options":[null,null,["autoload"],{"compared":"2026-12-03 01:00:00.000000"}]"#
            ),
            "{text}"
        );
        let mut parsed = parse_resume(&text).unwrap();
        let mut want: Vec<(String, Resume)> = entries
            .into_iter()
            .map(|(t, r)| (t.to_string(), r))
            .collect();
        parsed.sort_by(|a, b| a.0.cmp(&b.0));
        want.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(parsed, want);
    }

    #[test]
    fn malformed_entries_are_errors_naming_the_table() {
        for bad in [
            r#"{"t":1}"#,
            r#"{"t":["2020-01-01"]}"#,
            r#"{"t":[1,[1]]}"#,
            r#"{"t":["2020-01-01",null]}"#,
            r#"{"t":[null,[1]]}"#,
            r#"{"t":[null,null,"c"]}"#,
            r#"{"t":[null,null,[],4]}"#,
            r#"{"t":[null,null,[],{"cursor":1}]}"#,
            r#"{"t":[null,null,[],{"cursor":"c","zone":"UTC"}]}"#,
            r#"{"t":[null,null,[],{"cursor":"c"},5]}"#,
            r#"{"t":[null,null,[],{"cursor_unit":"s"}]}"#,
            r#"{"t":[null,null,[],{"cursor":"c","compared":"2020-01-01"}]}"#,
            r#"{"t":["2020-01-01",[1],[],{"compared":"2020-01-01"}]}"#,
        ] {
            let err = parse_resume(bad).unwrap_err();
            assert!(err.contains("JSON object of table names"), "{bad}: {err}");
        }
        assert!(parse_resume("[]")
            .unwrap_err()
            .starts_with("not a JSON object"));
        assert_eq!(parse_resume("{}").unwrap(), vec![]);
    }
}
