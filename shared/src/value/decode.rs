//! Reading values: a row's JSON turned back into the exact MySQL values to
//! bind, refusing anything MySQL would quietly cast.

use mysql::Value;
use serde_json::value::RawValue;

use crate::base64;
use crate::wire::{Column, Encoding};

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
