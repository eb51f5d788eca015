//! Values on the wire: how the server writes each MySQL value of a row as
//! JSON (from the result set's column metadata) and how the puller turns it
//! back into the exact value to bind. Both directions live here so that
//! they can never disagree.

use mysql::consts::{ColumnFlags, ColumnType};
use mysql::Value;
use serde_json::value::RawValue;

use crate::base64;
use crate::wire::{Column, Encoding};

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
    /// One codec per column of a result set.
    pub fn for_columns(columns: &[mysql::Column]) -> Vec<ValueCodec> {
        columns
            .iter()
            .map(|c| Self::for_column(c.column_type(), c.flags(), c.character_set(), c.decimals()))
            .collect()
    }

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
    // Digits are written by hand: this runs for every value of every row,
    // and `write!` spends most of its time in formatting machinery.
    match value {
        Value::NULL => out.extend_from_slice(b"null"),
        Value::Int(i) => {
            if *i < 0 {
                out.push(b'-');
            }
            push_digits(out, i.unsigned_abs(), 1);
        }
        Value::UInt(u) => push_digits(out, *u, 1),
        // Debug formatting is the shortest text that parses back to the same
        // float (it is what makes FLOAT survive the trip exactly).
        Value::Float(f) if f.is_finite() => {
            let _ = std::io::Write::write_fmt(out, format_args!("{f:?}"));
        }
        Value::Double(d) if d.is_finite() => {
            let _ = std::io::Write::write_fmt(out, format_args!("{d:?}"));
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
            out.push(b'"');
            push_digits(out, u64::from(*y), 4);
            out.push(b'-');
            push_digits(out, u64::from(*mo), 2);
            out.push(b'-');
            push_digits(out, u64::from(*d), 2);
            if codec.kind != TemporalKind::Date {
                out.push(b' ');
                push_clock(out, u64::from(*h), *mi, *s);
                let fsp = match codec.kind {
                    TemporalKind::DateTime { fsp } => fsp,
                    _ if *us != 0 => 6,
                    _ => 0,
                };
                write_fraction(out, *us, fsp);
            }
            out.push(b'"');
        }
        Value::Time(neg, days, h, mi, s, us) => {
            out.push(b'"');
            if *neg {
                out.push(b'-');
            }
            push_clock(out, u64::from(*days) * 24 + u64::from(*h), *mi, *s);
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

/// Decimal digits of `n`, zero-padded to at least `width`.
fn push_digits(out: &mut Vec<u8>, mut n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    while n > 0 {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let start = i.min(buf.len() - width.clamp(1, 20));
    out.extend_from_slice(&buf[start..]);
}

/// `HH:MM:SS` (hours may have more digits, as TIME's do).
fn push_clock(out: &mut Vec<u8>, hours: u64, minutes: u8, seconds: u8) {
    push_digits(out, hours, 2);
    out.push(b':');
    push_digits(out, u64::from(minutes), 2);
    out.push(b':');
    push_digits(out, u64::from(seconds), 2);
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

/// Turns one raw JSON value of a key (`after_key`) back into the MySQL
/// value to bind; see [`decode_row_into`] for the rules.
pub fn decode_value(raw: &RawValue, column: &Column) -> Result<Value, String> {
    let b = raw.get().as_bytes();
    let (tok, end) = token(b, skip_ws(b, 0), column)?;
    if skip_ws(b, end) != b.len() {
        return Err(format!(
            "column `{}`: trailing text after the value",
            column.name
        ));
    }
    decode_token(tok, column)
}

/// Decodes a row line (`[v1,v2,…]`) straight into `out`, one value per
/// column, without building a JSON tree (the puller's hot path). The JSON
/// type of each value must match its column's encoding, and numbers must fit
/// the column's kind: a value MySQL would quietly cast (`"x"` for an INT
/// becomes 0) is an error instead. On error `out` is left as it was.
pub fn decode_row_into(line: &str, columns: &[Column], out: &mut Vec<Value>) -> Result<(), String> {
    let start = out.len();
    let result = scan_row(line.as_bytes(), columns, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn scan_row(b: &[u8], columns: &[Column], out: &mut Vec<Value>) -> Result<(), String> {
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'[') {
        return Err("a row must be a JSON array".into());
    }
    i = skip_ws(b, i + 1);
    if columns.is_empty() && b.get(i) == Some(&b']') {
        i += 1;
    }
    for (n, column) in columns.iter().enumerate() {
        let (tok, end) = token(b, skip_ws(b, i), column)?;
        out.push(decode_token(tok, column)?);
        i = skip_ws(b, end);
        let (want, what) = if n + 1 == columns.len() {
            (b']', "more")
        } else {
            (b',', "fewer")
        };
        if b.get(i) != Some(&want) {
            return Err(format!(
                "row has {what} values than the {} columns",
                columns.len()
            ));
        }
        i += 1;
    }
    if skip_ws(b, i) != b.len() {
        return Err("trailing text after the row".into());
    }
    Ok(())
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        i += 1;
    }
    i
}

/// One JSON value of a row, as far as the protocol uses JSON.
enum Token<'a> {
    Null,
    Number(&'a str),
    Str(std::borrow::Cow<'a, [u8]>),
}

/// Reads the value starting at `i`; returns it and the index after it.
fn token<'a>(b: &'a [u8], i: usize, column: &Column) -> Result<(Token<'a>, usize), String> {
    let bad = |what: &str| format!("column `{}`: {what}", column.name);
    match b.get(i) {
        Some(b'n') if b[i..].starts_with(b"null") => Ok((Token::Null, i + 4)),
        Some(b'"') => string_token(b, i + 1).map_err(|e| bad(&e)),
        Some(b'-' | b'0'..=b'9') => {
            let end = i + b[i..]
                .iter()
                .take_while(|c| matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                .count();
            // ASCII only, so this cannot fail.
            let text = std::str::from_utf8(&b[i..end]).map_err(|e| bad(&e.to_string()))?;
            Ok((Token::Number(text), end))
        }
        Some(_) => Err(bad("expected null, a string or a number")),
        None => Err(bad("the row ends early")),
    }
}

/// A JSON string starting after its opening quote. Borrowed when it has no
/// escapes (the common case), else unescaped into a new buffer.
fn string_token(b: &[u8], start: usize) -> Result<(Token<'_>, usize), String> {
    let plain = b[start..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20);
    let Some(p) = plain else {
        return Err("unterminated string".into());
    };
    if b[start + p] == b'"' {
        return Ok((
            Token::Str(std::borrow::Cow::Borrowed(&b[start..start + p])),
            start + p + 1,
        ));
    }
    let mut out = b[start..start + p].to_vec();
    let mut i = start + p;
    loop {
        match b.get(i) {
            None => return Err("unterminated string".into()),
            Some(b'"') => return Ok((Token::Str(std::borrow::Cow::Owned(out)), i + 1)),
            Some(b'\\') => {
                let esc = *b.get(i + 1).ok_or("unterminated escape")?;
                i += 2;
                let c = match esc {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 8,
                    b'f' => 12,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'u' => {
                        let (ch, next) = unicode_escape(b, i)?;
                        i = next;
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        continue;
                    }
                    _ => return Err("bad escape in string".into()),
                };
                out.push(c);
            }
            Some(&c) if c < 0x20 => return Err("control character in string".into()),
            Some(&c) => {
                out.push(c);
                i += 1;
            }
        }
    }
}

/// `XXXX` after `\u` (and a low surrogate's `\uXXXX` after a high one).
fn unicode_escape(b: &[u8], i: usize) -> Result<(char, usize), String> {
    let hex = |at: usize| -> Result<u32, String> {
        let digits = b.get(at..at + 4).ok_or("short \\u escape")?;
        let text = std::str::from_utf8(digits).map_err(|_| "bad \\u escape")?;
        u32::from_str_radix(text, 16).map_err(|_| "bad \\u escape".to_string())
    };
    let first = hex(i)?;
    if (0xD800..0xDC00).contains(&first) {
        if b.get(i + 4..i + 6) != Some(b"\\u") {
            return Err("lone surrogate in \\u escape".into());
        }
        let second = hex(i + 6)?;
        if !(0xDC00..0xE000).contains(&second) {
            return Err("bad surrogate pair".into());
        }
        let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
        return char::from_u32(code)
            .map(|c| (c, i + 10))
            .ok_or_else(|| "bad surrogate pair".into());
    }
    char::from_u32(first)
        .map(|c| (c, i + 4))
        .ok_or_else(|| "lone surrogate in \\u escape".into())
}

fn decode_token(tok: Token<'_>, column: &Column) -> Result<Value, String> {
    match (column.encoding, tok) {
        (_, Token::Null) => Ok(Value::NULL),
        (Encoding::Number, Token::Number(text)) => decode_number(text, column),
        (Encoding::String, Token::Str(bytes)) => Ok(Value::Bytes(bytes.into_owned())),
        (Encoding::Base64, Token::Str(bytes)) => base64::decode(&bytes)
            .map(Value::Bytes)
            .ok_or_else(|| format!("column `{}`: invalid base64", column.name)),
        (encoding, tok) => {
            let got = match tok {
                Token::Number(t) => format!("a number ({})", short(t)),
                _ => "a string".to_string(),
            };
            let want = match encoding {
                Encoding::Number => "a number",
                Encoding::String => "a string",
                Encoding::Base64 => "a base64 string",
            };
            Err(format!(
                "column `{}`: expected {want}, got {got}",
                column.name
            ))
        }
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
    fn digits_are_written_like_format() {
        for n in [0u64, 7, 10, 99, 12345, u64::MAX] {
            for width in [1, 2, 4] {
                let mut out = Vec::new();
                push_digits(&mut out, n, width);
                assert_eq!(String::from_utf8(out).unwrap(), format!("{n:0width$}"));
            }
        }
        assert_eq!(enc(Value::Int(i64::MIN), NUM), i64::MIN.to_string());
        assert_eq!(enc(Value::Int(-5), NUM), "-5");
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
    fn rows_decode_straight_into_values() {
        let cols = [
            col("id", "bigint(20) unsigned", Encoding::Number),
            col("s", "varchar(9)", Encoding::String),
            col("b", "blob", Encoding::Base64),
            col("f", "float", Encoding::Number),
        ];
        let mut out = vec![Value::Int(7)];
        decode_row_into(
            "[18446744073709551615, \"q\\\"\\\\\\u00e9\\ud83d\\ude00\\n\" ,\"AAE=\",null]",
            &cols,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out,
            [
                Value::Int(7),
                Value::UInt(u64::MAX),
                Value::Bytes("q\"\\é😀\n".as_bytes().to_vec()),
                Value::Bytes(vec![0, 1]),
                Value::NULL
            ]
        );
        for bad in [
            "[1,\"a\",\"AA==\"]",
            "[1,\"a\",\"AA==\",1,2]",
            "[1,\"a\",\"AA==\",1] x",
            "{\"a\":1}",
            "[1,\"a\",\"AA==\",tru]",
            "[1,\"a\\ud800\",\"AA==\",1]",
            "[1,\"unterminated,\"AA==\",1]",
            "[1,\"ctl\u{1}\",\"AA==\",1]",
            "[\"1\",\"a\",\"AA==\",1]",
        ] {
            let mut out = vec![Value::Int(7)];
            assert!(decode_row_into(bad, &cols, &mut out).is_err(), "{bad}");
            assert_eq!(out, [Value::Int(7)], "left as it was");
        }
    }

    #[test]
    fn rows_written_by_the_encoder_decode_back() {
        // Every byte value in text and blob survives encode -> decode.
        let text: String = (0u32..0x800).filter_map(char::from_u32).collect();
        let blob: Vec<u8> = (0..=255).collect();
        let cols = [
            col("t", "text", Encoding::String),
            col("b", "blob", Encoding::Base64),
        ];
        let mut line = b"[".to_vec();
        encode_value(&mut line, &Value::Bytes(text.clone().into_bytes()), STR).unwrap();
        line.push(b',');
        encode_value(&mut line, &Value::Bytes(blob.clone()), BIN).unwrap();
        line.push(b']');
        let mut out = Vec::new();
        decode_row_into(std::str::from_utf8(&line).unwrap(), &cols, &mut out).unwrap();
        assert_eq!(out, [Value::Bytes(text.into_bytes()), Value::Bytes(blob)]);
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
}
