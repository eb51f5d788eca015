//! The NDJSON stream format: one header line, one line per row, one trailer
//! line (or an error line when the server gives up mid-stream). See
//! `shared/PROTOCOL.md` for the description aimed at people with curl and jq.
//!
//! Values are written and read here so that server and puller can never
//! disagree on how a MySQL value looks on the wire.

use mysql::consts::{ColumnFlags, ColumnType};
use mysql::Value;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::base64;

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
    pub timestamp_column: String,
    /// Primary key columns, in key order.
    pub key: Vec<String>,
    /// Lower bound of the request, as understood by the server.
    pub since: Option<String>,
    pub after_key: Option<Box<RawValue>>,
    /// Rows with a timestamp at or after this are left for the next request.
    pub horizon: String,
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
    pub tables: Vec<TableInfo>,
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

/// What the server needs to know to write one column's values, taken from
/// the result set's own column definitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueCodec {
    pub encoding: Encoding,
    pub kind: TemporalKind,
}

/// Temporal columns need their declared precision to be printed the way
/// MySQL prints them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemporalKind {
    None,
    Date,
    DateTime { fsp: u8 },
    Time { fsp: u8 },
}

const BINARY_CHARSET: u16 = 63;

impl ValueCodec {
    /// Chooses the encoding from a result column's type, flags, character set
    /// and decimals.
    pub fn for_column(ty: ColumnType, flags: ColumnFlags, charset: u16, decimals: u8) -> Self {
        use ColumnType::*;
        let fsp = decimals.min(6);
        let (encoding, kind) = match ty {
            MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_LONG | MYSQL_TYPE_LONGLONG
            | MYSQL_TYPE_INT24 | MYSQL_TYPE_YEAR | MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE => {
                (Encoding::Number, TemporalKind::None)
            }
            MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => (Encoding::String, TemporalKind::Date),
            MYSQL_TYPE_DATETIME
            | MYSQL_TYPE_DATETIME2
            | MYSQL_TYPE_TIMESTAMP
            | MYSQL_TYPE_TIMESTAMP2 => (Encoding::String, TemporalKind::DateTime { fsp }),
            MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => (Encoding::String, TemporalKind::Time { fsp }),
            MYSQL_TYPE_BIT | MYSQL_TYPE_GEOMETRY => (Encoding::Base64, TemporalKind::None),
            MYSQL_TYPE_DECIMAL
            | MYSQL_TYPE_NEWDECIMAL
            | MYSQL_TYPE_JSON
            | MYSQL_TYPE_ENUM
            | MYSQL_TYPE_SET
            | MYSQL_TYPE_NULL => (Encoding::String, TemporalKind::None),
            _ => {
                // Strings and blobs: the binary character set means raw bytes.
                let binary = charset == BINARY_CHARSET
                    && !flags.intersects(ColumnFlags::ENUM_FLAG | ColumnFlags::SET_FLAG);
                let enc = if binary {
                    Encoding::Base64
                } else {
                    Encoding::String
                };
                (enc, TemporalKind::None)
            }
        };
        ValueCodec { encoding, kind }
    }
}

/// Appends one value as JSON to `out`.
pub fn encode_value(out: &mut Vec<u8>, value: &Value, codec: ValueCodec) -> Result<(), String> {
    use std::io::Write;
    match value {
        Value::NULL => out.extend_from_slice(b"null"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::UInt(u) => {
            let _ = write!(out, "{u}");
        }
        // Debug formatting is the shortest text that parses back to the same
        // float (it is what makes FLOAT survive the trip exactly).
        Value::Float(f) if f.is_finite() => {
            let _ = write!(out, "{f:?}");
        }
        Value::Double(d) if d.is_finite() => {
            let _ = write!(out, "{d:?}");
        }
        Value::Float(_) | Value::Double(_) => return Err("non-finite float value".into()),
        Value::Bytes(b) => match codec.encoding {
            Encoding::Base64 => {
                out.push(b'"');
                base64::encode_into(b, out);
                out.push(b'"');
            }
            Encoding::String | Encoding::Number => {
                let s = std::str::from_utf8(b)
                    .map_err(|_| "text value is not valid UTF-8".to_string())?;
                write_json_str(out, s);
            }
        },
        Value::Date(y, mo, d, h, mi, s, us) => {
            if codec.kind == TemporalKind::Date {
                let _ = write!(out, "\"{y:04}-{mo:02}-{d:02}\"");
            } else {
                let _ = write!(out, "\"{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}");
                let fsp = match codec.kind {
                    TemporalKind::DateTime { fsp } => fsp,
                    _ if *us != 0 => 6,
                    _ => 0,
                };
                write_fraction(out, *us, fsp);
                out.push(b'"');
            }
        }
        Value::Time(neg, days, h, mi, s, us) => {
            let hours = u64::from(*days) * 24 + u64::from(*h);
            let sign = if *neg { "-" } else { "" };
            let _ = write!(out, "\"{sign}{hours:02}:{mi:02}:{s:02}");
            let fsp = match codec.kind {
                TemporalKind::Time { fsp } => fsp,
                _ if *us != 0 => 6,
                _ => 0,
            };
            write_fraction(out, *us, fsp);
            out.push(b'"');
        }
    }
    Ok(())
}

fn write_fraction(out: &mut Vec<u8>, micro: u32, fsp: u8) {
    if fsp == 0 {
        return;
    }
    out.push(b'.');
    let mut divisor = 100_000;
    for _ in 0..fsp.min(6) {
        out.push(b'0' + (micro / divisor % 10) as u8);
        divisor /= 10;
    }
}

/// Appends `s` as a JSON string literal.
pub fn write_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 15) as usize]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Turns one raw JSON value of a row (or key) back into the MySQL value to
/// bind, according to its column. The JSON type must match the column's
/// encoding, and numbers must fit the column's kind: a value that MySQL
/// would quietly cast (`"x"` for an INT becomes 0) is an error instead.
pub fn decode_value(raw: &RawValue, column: &Column) -> Result<Value, String> {
    let text = raw.get();
    let kind = match text.as_bytes().first() {
        Some(b'n') if text == "null" => return Ok(Value::NULL),
        Some(b'"') => "a string",
        Some(b'-' | b'0'..=b'9') => "a number",
        _ => "neither null, a string nor a number",
    };
    let mismatch = || {
        let want = match column.encoding {
            Encoding::Number => "a number",
            Encoding::String => "a string",
            Encoding::Base64 => "a base64 string",
        };
        format!(
            "column `{}`: expected {want}, got {kind}: {}",
            column.name,
            short(text)
        )
    };
    match (column.encoding, kind) {
        (Encoding::Number, "a number") => decode_number(text, column),
        (Encoding::String | Encoding::Base64, "a string") => {
            let s: std::borrow::Cow<'_, str> = serde_json::from_str(text)
                .map_err(|e| format!("column `{}`: bad string: {e}", column.name))?;
            if column.encoding == Encoding::Base64 {
                base64::decode(s.as_bytes())
                    .map(Value::Bytes)
                    .ok_or_else(|| format!("column `{}`: invalid base64", column.name))
            } else {
                Ok(Value::Bytes(s.into_owned().into_bytes()))
            }
        }
        _ => Err(mismatch()),
    }
}

fn short(text: &str) -> &str {
    let mut end = text.len().min(40);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn decode_number(text: &str, column: &Column) -> Result<Value, String> {
    let bad = || {
        format!(
            "column `{}`: {} does not fit {}",
            column.name,
            short(text),
            column.sql_type
        )
    };
    let ty = column.sql_type.to_ascii_lowercase();
    // Parse FLOAT columns straight to f32: going through f64 could round twice.
    if ty.starts_with("float") {
        return match text.parse::<f32>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => Err(bad()),
        };
    }
    if ty.starts_with("double") || ty.starts_with("real") {
        return match text.parse::<f64>() {
            Ok(d) if d.is_finite() => Ok(Value::Double(d)),
            _ => Err(bad()),
        };
    }
    // Integer types and YEAR.
    if let Ok(i) = text.parse::<i64>() {
        return Ok(Value::Int(i));
    }
    text.parse::<u64>().map(Value::UInt).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec(encoding: Encoding, kind: TemporalKind) -> ValueCodec {
        ValueCodec { encoding, kind }
    }

    fn enc(v: Value, c: ValueCodec) -> String {
        let mut out = Vec::new();
        encode_value(&mut out, &v, c).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn col(name: &str, ty: &str, encoding: Encoding) -> Column {
        Column {
            name: name.into(),
            sql_type: ty.into(),
            encoding,
        }
    }

    fn round_trip(v: Value, c: ValueCodec, column: &Column) -> Value {
        let text = enc(v, c);
        let raw: Box<RawValue> = serde_json::from_str(&text).unwrap();
        decode_value(&raw, column).unwrap()
    }

    const NUM: ValueCodec = ValueCodec {
        encoding: Encoding::Number,
        kind: TemporalKind::None,
    };
    const STR: ValueCodec = ValueCodec {
        encoding: Encoding::String,
        kind: TemporalKind::None,
    };
    const BIN: ValueCodec = ValueCodec {
        encoding: Encoding::Base64,
        kind: TemporalKind::None,
    };

    #[test]
    fn integers_are_exact_at_the_extremes() {
        let c = col("n", "bigint(20) unsigned", Encoding::Number);
        assert_eq!(enc(Value::UInt(u64::MAX), NUM), "18446744073709551615");
        assert_eq!(
            round_trip(Value::UInt(u64::MAX), NUM, &c),
            Value::UInt(u64::MAX)
        );
        assert_eq!(
            round_trip(Value::Int(i64::MIN), NUM, &c),
            Value::Int(i64::MIN)
        );
        assert_eq!(round_trip(Value::Int(0), NUM, &c), Value::Int(0));
    }

    #[test]
    fn floats_round_trip_bit_exactly() {
        let f = col("f", "float", Encoding::Number);
        let d = col("d", "double", Encoding::Number);
        for x in [
            1.234_567_9_f32,
            f32::MIN_POSITIVE,
            f32::MAX,
            -0.1,
            3.0,
            1e-30,
        ] {
            assert_eq!(round_trip(Value::Float(x), NUM, &f), Value::Float(x));
        }
        for x in [0.1_f64, f64::MAX, f64::MIN_POSITIVE, -2.5e-300, 1e21] {
            assert_eq!(round_trip(Value::Double(x), NUM, &d), Value::Double(x));
        }
        let mut out = Vec::new();
        assert!(encode_value(&mut out, &Value::Double(f64::NAN), NUM).is_err());
    }

    #[test]
    fn text_is_escaped_and_unescaped() {
        let c = col("s", "varchar(10)", Encoding::String);
        let s = "quote\" back\\ nl\n nul\0 bell\x07 emoji \u{1F600} é";
        let v = Value::Bytes(s.as_bytes().to_vec());
        let text = enc(v.clone(), STR);
        assert!(!text.contains('\n') && text.contains("\\u0000") && text.contains("\\u0007"));
        assert_eq!(round_trip(v, STR, &c), Value::Bytes(s.as_bytes().to_vec()));
        let mut out = Vec::new();
        assert!(encode_value(&mut out, &Value::Bytes(vec![0xff]), STR).is_err());
    }

    #[test]
    fn binary_is_base64_and_lossless() {
        let c = col("b", "blob", Encoding::Base64);
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(
            round_trip(Value::Bytes(all.clone()), BIN, &c),
            Value::Bytes(all)
        );
        assert_eq!(enc(Value::Bytes(b"\0\x01".to_vec()), BIN), "\"AAE=\"");
    }

    #[test]
    fn temporal_values_print_like_mysql() {
        let ts6 = codec(Encoding::String, TemporalKind::DateTime { fsp: 6 });
        let ts0 = codec(Encoding::String, TemporalKind::DateTime { fsp: 0 });
        let date = codec(Encoding::String, TemporalKind::Date);
        let time3 = codec(Encoding::String, TemporalKind::Time { fsp: 3 });
        let time0 = codec(Encoding::String, TemporalKind::Time { fsp: 0 });
        assert_eq!(
            enc(Value::Date(2038, 1, 19, 3, 14, 7, 999_999), ts6),
            "\"2038-01-19 03:14:07.999999\""
        );
        assert_eq!(
            enc(Value::Date(0, 0, 0, 0, 0, 0, 0), ts0),
            "\"0000-00-00 00:00:00\""
        );
        assert_eq!(
            enc(Value::Date(2020, 2, 29, 0, 0, 0, 0), date),
            "\"2020-02-29\""
        );
        assert_eq!(
            enc(Value::Time(true, 34, 22, 59, 59, 0), time0),
            "\"-838:59:59\""
        );
        assert_eq!(
            enc(Value::Time(false, 0, 1, 2, 3, 450_000), time3),
            "\"01:02:03.450\""
        );
    }

    #[test]
    fn codec_follows_result_metadata() {
        let none = ColumnFlags::empty();
        let c = ValueCodec::for_column(ColumnType::MYSQL_TYPE_BLOB, none, 63, 0);
        assert_eq!(c.encoding, Encoding::Base64);
        let c = ValueCodec::for_column(ColumnType::MYSQL_TYPE_BLOB, none, 45, 0);
        assert_eq!(c.encoding, Encoding::String);
        let c = ValueCodec::for_column(ColumnType::MYSQL_TYPE_TIMESTAMP, none, 63, 3);
        assert_eq!(c.kind, TemporalKind::DateTime { fsp: 3 });
        let c = ValueCodec::for_column(ColumnType::MYSQL_TYPE_NEWDECIMAL, none, 63, 30);
        assert_eq!(c.encoding, Encoding::String);
        let c = ValueCodec::for_column(ColumnType::MYSQL_TYPE_BIT, none, 63, 0);
        assert_eq!(c.encoding, Encoding::Base64);
    }

    #[test]
    fn decoding_refuses_what_mysql_would_quietly_cast() {
        let int = col("n", "int(11)", Encoding::Number);
        let dbl = col("d", "double", Encoding::Number);
        let txt = col("s", "varchar(5)", Encoding::String);
        let bin = col("b", "blob", Encoding::Base64);
        let dec = |text: &str, c: &Column| {
            let raw: Box<RawValue> = serde_json::from_str(text).unwrap();
            decode_value(&raw, c)
        };
        assert!(dec("\"x\"", &int)
            .unwrap_err()
            .contains("expected a number"));
        assert!(dec("99999999999999999999999", &int)
            .unwrap_err()
            .contains("does not fit"));
        assert!(dec("1.5", &int).is_err());
        assert!(dec("1e400", &dbl).is_err());
        assert!(dec("5", &txt).unwrap_err().contains("expected a string"));
        assert!(dec("true", &txt).is_err());
        assert!(dec("\"!!\"", &bin).unwrap_err().contains("base64"));
        assert_eq!(dec("null", &int).unwrap(), Value::NULL);
        assert_eq!(dec("3", &dbl).unwrap(), Value::Double(3.0));
    }

    #[test]
    fn lines_are_recognised() {
        let h = Header {
            protocol: PROTOCOL,
            database: "d".into(),
            table: "t".into(),
            columns: vec![col("id", "int(11)", Encoding::Number)],
            timestamp_column: "ts".into(),
            key: vec!["id".into()],
            since: None,
            after_key: None,
            horizon: "2020-01-01 00:00:00".into(),
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
