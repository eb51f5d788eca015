//! Writing values: each MySQL value of a row as JSON, from its result
//! column's codec (numbers as numbers, text as UTF-8 strings, bytes as
//! base64, dates and times as MySQL prints them).

use mysql::Value;

use crate::base64;
use crate::value::{TemporalKind, ValueCodec};
use crate::wire::Encoding;

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
pub(super) fn push_digits(out: &mut Vec<u8>, mut n: u64, width: usize) {
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
