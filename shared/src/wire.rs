//! The NDJSON stream format: one header line, one line per row, one trailer
//! line (or an error line when the server gives up mid-stream). See
//! `shared/PROTOCOL.md` for the description aimed at people with curl and jq.
//!
//! How each value looks is `value`'s business.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Protocol version in every header; bumped on incompatible changes.
pub const PROTOCOL: u32 = 1;

/// Content type of a change stream.
pub const NDJSON: &str = "application/x-ndjson";

/// How a column's non-NULL values are written.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// A JSON number: integer types, YEAR, FLOAT, DOUBLE.
    Number,
    /// A JSON string holding MySQL's text form: text in any character set
    /// (as UTF-8), DECIMAL, dates and times, ENUM, SET, JSON.
    String,
    /// A JSON string holding base64 of the raw bytes: BINARY, VARBINARY,
    /// BLOB, BIT, GEOMETRY.
    Base64,
}

impl Encoding {
    /// The encoding of a column's values, from its declared type as
    /// `information_schema.COLUMNS` gives it (DATA_TYPE, CHARACTER_SET_NAME);
    /// a stream takes it from the result metadata, and both agree.
    pub fn of(data_type: &str, charset: Option<&str>) -> Encoding {
        match data_type.to_ascii_lowercase().as_str() {
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "year"
            | "float" | "double" | "real" => Encoding::Number,
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "bit"
            | "geometry" | "point" | "linestring" | "polygon" | "multipoint"
            | "multilinestring" | "multipolygon" | "geometrycollection" | "geomcollection" => {
                Encoding::Base64
            }
            _ if charset == Some("binary") => Encoding::Base64,
            _ => Encoding::String,
        }
    }
}

/// One column of the stream, in row order.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The source's column type as `information_schema.COLUMNS.COLUMN_TYPE`
    /// prints it, e.g. `decimal(65,30)` or `timestamp(6)`.
    #[serde(rename = "type")]
    pub sql_type: String,
    pub encoding: Encoding,
}

/// First line of a stream: `{"header": {...}}`.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Header {
    pub protocol: u32,
    pub database: String,
    pub table: String,
    pub columns: Vec<Column>,
    /// The column the stream is ordered and resumed by; `null` for a table
    /// synced by digests or whole (no cursor: rows come in key order).
    #[serde(default)]
    pub timestamp_column: Option<String>,
    /// The table's key columns (its primary key, else its first UNIQUE key
    /// over NOT NULL columns), in key order; empty for a keyless table.
    pub key: Vec<String>,
    /// Lower bound of the request, as understood by the server.
    pub since: Option<String>,
    pub after_key: Option<Box<RawValue>>,
    /// Rows with a timestamp at or after this are left for the next request.
    pub horizon: String,
    /// The same instant in UTC, when `horizon` is on an application's wall
    /// clock (a DATETIME cursor written in another zone): what freshness
    /// is told by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon_utc: Option<String>,
}

/// Last line of a complete stream: `{"trailer": {...}}`. Without it a stream
/// was cut off and must not be taken as complete.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Trailer {
    pub rows: u64,
    /// Timestamp and key of the last row sent; what a client resumes after.
    pub last_timestamp: Option<String>,
    pub last_key: Option<Box<RawValue>>,
    pub horizon: String,
}

/// Body of every error response, and the line that ends a failed stream.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ErrorBody {
    pub error: String,
    pub status: u16,
}

/// `GET /` answer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct DatabaseList {
    pub databases: Vec<String>,
}

/// One entry of the `GET /<db>/` answer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TableInfo {
    pub table: String,
    pub timestamp_column: String,
    pub key: Vec<String>,
    /// Whether the timestamp column leads an index (otherwise every request
    /// scans the table).
    pub timestamp_indexed: bool,
}

/// `GET /<db>/` answer: tables in an order that puts parents before
/// children (foreign keys).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TableList {
    pub database: String,
    /// Tables synced by their auto-updating TIMESTAMP column, as they are.
    pub tables: Vec<TableInfo>,
    /// Tables with a key but no auto-updating column, which can be synced
    /// by naming one of their cursor columns (`cursor=`). Kept apart so
    /// that a client that names none never reads them by a cursor by
    /// accident; absent from older servers.
    #[serde(default)]
    pub cursor_tables: Vec<CursorTable>,
    /// Every base table, parents before children, with how it is synced
    /// when no cursor is named; absent from older servers (whose clients
    /// sync `tables` only).
    #[serde(default)]
    pub every_table: Vec<TableEntry>,
}

/// How a table is synced when no cursor is named.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// By its auto-updating TIMESTAMP column, as `tables` lists it.
    Timestamp,
    /// A key but no auto-updating column: by comparing digests of key
    /// ranges and moving only the rows that differ, deletes included.
    Digest,
    /// No key: copied whole, atomically, when its digest differs.
    Whole,
    /// Not at all; `why` says why.
    None,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Timestamp => "timestamp",
            Method::Digest => "digest",
            Method::Whole => "whole",
            Method::None => "none",
        }
    }
}

/// One entry of `every_table` in the `GET /<db>/` answer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TableEntry {
    pub table: String,
    pub method: Method,
    /// The auto-updating column of a `timestamp` table.
    #[serde(default)]
    pub timestamp_column: Option<String>,
    /// The key columns, in key order (empty: no key).
    pub key: Vec<String>,
    /// The index they form: `PRIMARY`, or the UNIQUE key over NOT NULL
    /// columns that stands in for it.
    #[serde(default)]
    pub key_index: Option<String>,
    /// Columns it could be read by instead, with `cursor=` (as in
    /// `cursor_tables`).
    #[serde(default)]
    pub cursors: Vec<CursorCandidate>,
    /// Why a `none` table cannot be synced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// One entry of `cursor_tables` in the `GET /<db>/` answer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CursorTable {
    pub table: String,
    pub key: Vec<String>,
    /// Its DATETIME and TIMESTAMP columns, in table order.
    pub candidates: Vec<CursorCandidate>,
}

/// A column a table could be synced by, and what its declaration says
/// about who sets it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CursorCandidate {
    pub column: String,
    /// As `information_schema.COLUMNS.COLUMN_TYPE` prints it, e.g. `datetime(6)`.
    #[serde(rename = "type")]
    pub sql_type: String,
    /// How its values hold time: `datetime` (DATETIME, TIMESTAMP), `unix`
    /// (an INT or BIGINT of Unix time: name its unit) or `yyyymmddhhmmss`
    /// (14 characters, UTC).
    #[serde(default = "datetime_kind")]
    pub kind: String,
    pub nullable: bool,
    /// Whether the column leads an index (otherwise every request scans).
    pub indexed: bool,
    /// `DEFAULT CURRENT_TIMESTAMP`: the server sets it on insert (unless
    /// the application gives a value).
    pub default_current_timestamp: bool,
    /// `ON UPDATE CURRENT_TIMESTAMP` (a DATETIME: in the writing session's
    /// time zone).
    pub on_update_current_timestamp: bool,
}

fn datetime_kind() -> String {
    "datetime".into()
}

/// Serialises the header line (with its newline).
pub fn header_line(h: &Header) -> Vec<u8> {
    tagged_line("header", h)
}

/// Serialises the trailer line (with its newline).
pub fn trailer_line(t: &Trailer) -> Vec<u8> {
    tagged_line("trailer", t)
}

/// Serialises an error line (with its newline).
pub fn error_line(status: u16, message: &str) -> Vec<u8> {
    let mut v = serde_json::to_vec(&ErrorBody {
        error: message.to_string(),
        status,
    })
    .unwrap_or_default();
    v.push(b'\n');
    v
}

fn tagged_line<T: Serialize>(tag: &str, value: &T) -> Vec<u8> {
    // Written by hand (not through a map) so fields keep their declared order.
    let mut v = format!("{{\"{tag}\":").into_bytes();
    if serde_json::to_writer(&mut v, value).is_err() {
        v.extend_from_slice(b"null");
    }
    v.extend_from_slice(b"}\n");
    v
}

/// A line of a stream, as a reader sees it.
#[derive(Debug)]
pub enum Line<'a> {
    Header(Box<Header>),
    /// Raw JSON values of a row, in header column order.
    Row(Vec<&'a RawValue>),
    Trailer(Trailer),
    Error(ErrorBody),
}

/// Parses one line (without its newline).
pub fn parse_line(line: &str) -> Result<Line<'_>, String> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('[') {
        return serde_json::from_str::<Vec<&RawValue>>(line)
            .map(Line::Row)
            .map_err(|e| format!("malformed row line: {e}"));
    }
    #[derive(Deserialize)]
    struct Tagged {
        header: Option<Box<Header>>,
        trailer: Option<Trailer>,
        error: Option<String>,
        status: Option<u16>,
    }
    let t: Tagged =
        serde_json::from_str(line).map_err(|e| format!("malformed stream line: {e}"))?;
    match (t.header, t.trailer, t.error) {
        (Some(h), None, None) => Ok(Line::Header(h)),
        (None, Some(tr), None) => Ok(Line::Trailer(tr)),
        (None, None, Some(error)) => Ok(Line::Error(ErrorBody {
            error,
            status: t.status.unwrap_or(500),
        })),
        _ => Err("stream line is neither header, row, trailer nor error".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str, encoding: Encoding) -> Column {
        Column {
            name: name.into(),
            sql_type: ty.into(),
            encoding,
        }
    }

    #[test]
    fn lines_are_recognised() {
        let h = Header {
            protocol: PROTOCOL,
            database: "d".into(),
            table: "t".into(),
            columns: vec![col("id", "int(11)", Encoding::Number)],
            timestamp_column: Some("ts".into()),
            key: vec!["id".into()],
            since: None,
            after_key: None,
            horizon: "2020-01-01 00:00:00".into(),
            horizon_utc: None,
        };
        let line = String::from_utf8(header_line(&h)).unwrap();
        assert!(line.ends_with('\n') && line.starts_with("{\"header\":"));
        match parse_line(line.trim_end()).unwrap() {
            Line::Header(parsed) => {
                assert_eq!(
                    serde_json::to_string(&parsed).unwrap(),
                    serde_json::to_string(&h).unwrap()
                )
            }
            other => panic!("{other:?}"),
        }
        let tr = Trailer {
            rows: 2,
            last_timestamp: Some("2020-01-01 00:00:00".into()),
            last_key: Some(serde_json::from_str("[2]").unwrap()),
            horizon: "2020-01-01 00:00:01".into(),
        };
        let line = String::from_utf8(trailer_line(&tr)).unwrap();
        match parse_line(line.trim_end()).unwrap() {
            Line::Trailer(t) => {
                assert_eq!(t.rows, 2);
                assert_eq!(t.last_key.unwrap().get(), "[2]");
            }
            other => panic!("{other:?}"),
        }
        let line = String::from_utf8(error_line(500, "boom")).unwrap();
        assert!(matches!(parse_line(line.trim_end()).unwrap(), Line::Error(e) if e.status == 500));
        assert!(matches!(parse_line("[1,\"a\",null]").unwrap(), Line::Row(r) if r.len() == 3));
        assert!(parse_line("{\"nope\":1}").is_err());
        assert!(parse_line("[1,").is_err());
    }
}
