//! The digest stream: what `GET /<db>/<table>/digest` answers, so that a
//! puller can find the rows that differ between source and destination
//! without moving the rows themselves. One header line, one line per chunk
//! (a run of consecutive primary keys), one trailer line. See
//! `shared/PROTOCOL.md`; the per-row hash itself is SQL (`sql::row_hash`),
//! computed by each side's database.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::wire::{Column, ErrorBody};

/// Most chunks one request may ask to split (each range is one query).
pub const MAX_RANGES: usize = 1000;
/// Largest `chunk_rows`.
pub const MAX_CHUNK_ROWS: u64 = 100_000;
/// `chunk_rows` when the request does not say.
pub const DEFAULT_CHUNK_ROWS: u64 = 1000;

/// What each row contributes to a digest.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The primary key only: finds rows deleted on one side.
    Key,
    /// Every column sent (the stream's column selection): finds drift too.
    Row,
}

impl Kind {
    pub fn parse(text: &str) -> Option<Kind> {
        match text {
            "key" => Some(Kind::Key),
            "row" => Some(Kind::Row),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Key => "key",
            Kind::Row => "row",
        }
    }
}

/// First line: `{"header": {...}}`.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct DigestHeader {
    pub protocol: u32,
    pub database: String,
    pub table: String,
    pub kind: Kind,
    /// The per-row hash; `crc32` is the only one so far.
    pub hash: String,
    /// The columns that went into each row's hash, in hash order.
    pub columns: Vec<Column>,
    /// Key columns, in key order (the chunks' order); empty for a keyless
    /// table, whose digest is one chunk of the whole table.
    pub key: Vec<String>,
    pub chunk_rows: u64,
    /// How many ranges the request asked for (1 without `ranges`).
    pub ranges: usize,
    /// The horizon (UTC) when the digest's snapshot was taken: every
    /// transaction that began before it is in the snapshot. What a copy
    /// compared now is complete up to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon: Option<String>,
}

/// Last line of a complete digest stream. Without it the stream was cut
/// off, and nothing may be concluded from it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct DigestTrailer {
    pub chunks: u64,
    pub rows: u64,
}

/// The digest of a set of rows: how many, and the XOR and the sum of their
/// 32-bit hashes. The sum breaks the linearity of XOR-ing CRCs (rows whose
/// bytes XOR to the same value would otherwise cancel out).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Digest {
    pub rows: u64,
    pub xor: u32,
    pub sum: u64,
}

impl Digest {
    pub fn add(&mut self, hash: u32) {
        self.rows += 1;
        self.xor ^= hash;
        self.sum = self.sum.wrapping_add(u64::from(hash));
    }
}

/// One chunk line: `[range, last_key, rows, xor, sum]`. The chunk holds the
/// rows of request range `range` after the previous chunk's last key (or
/// after the range's start) up to and including `last_key`.
#[derive(Debug)]
pub struct Chunk {
    pub range: usize,
    pub last_key: Box<RawValue>,
    pub digest: Digest,
}

/// A key range `(after, until]` of a request; `None` is unbounded. On the
/// wire: `[after, until]`, each a key array or `null`.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyRange {
    pub after: Option<String>,
    pub until: Option<String>,
}

impl KeyRange {
    pub const ALL: KeyRange = KeyRange {
        after: None,
        until: None,
    };

    /// Appends the range as JSON.
    pub fn write_json(&self, out: &mut String) {
        out.push('[');
        out.push_str(self.after.as_deref().unwrap_or("null"));
        out.push(',');
        out.push_str(self.until.as_deref().unwrap_or("null"));
        out.push(']');
    }
}

/// The `ranges` parameter: a JSON array of ranges.
pub fn ranges_json(ranges: &[KeyRange]) -> String {
    let mut out = String::from("[");
    for (i, r) in ranges.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        r.write_json(&mut out);
    }
    out.push(']');
    out
}

/// A range as the `ranges` parameter gives it: `after` and `until` keys,
/// still JSON (the server decodes them against the key columns).
pub type RawRange = (Option<Box<RawValue>>, Option<Box<RawValue>>);

/// Parses the `ranges` parameter.
pub fn parse_ranges(text: &str) -> Result<Vec<RawRange>, String> {
    let ranges: Vec<RawRange> = serde_json::from_str(text)
        .map_err(|e| format!("ranges: not a JSON array of [after, until] pairs: {e}"))?;
    if ranges.is_empty() || ranges.len() > MAX_RANGES {
        return Err(format!(
            "ranges: give from 1 to {MAX_RANGES} ranges, not {}",
            ranges.len()
        ));
    }
    Ok(ranges)
}

/// Appends a chunk line (with its newline); `last_key` is the key as JSON.
pub fn chunk_line(out: &mut Vec<u8>, range: usize, last_key: &[u8], d: &Digest) {
    use std::io::Write;
    out.push(b'[');
    let _ = write!(out, "{range},");
    out.extend_from_slice(last_key);
    let _ = writeln!(out, ",{},{},{}]", d.rows, d.xor, d.sum);
}

/// A line of a digest stream, as a reader sees it.
#[derive(Debug)]
pub enum DigestLine {
    Header(Box<DigestHeader>),
    Chunk(Chunk),
    Trailer(DigestTrailer),
    Error(ErrorBody),
}

/// Parses one line (without its newline).
pub fn parse_line(line: &str) -> Result<DigestLine, String> {
    if line.starts_with('[') {
        let (range, last_key, rows, xor, sum): (usize, Box<RawValue>, u64, u32, u64) =
            serde_json::from_str(line).map_err(|e| format!("malformed chunk line: {e}"))?;
        if rows == 0 || !last_key.get().starts_with('[') {
            return Err("malformed chunk line: no rows or no key array".into());
        }
        return Ok(DigestLine::Chunk(Chunk {
            range,
            last_key,
            digest: Digest { rows, xor, sum },
        }));
    }
    #[derive(Deserialize)]
    struct Tagged {
        header: Option<Box<DigestHeader>>,
        trailer: Option<DigestTrailer>,
        error: Option<String>,
        status: Option<u16>,
    }
    let t: Tagged =
        serde_json::from_str(line).map_err(|e| format!("malformed digest line: {e}"))?;
    match (t.header, t.trailer, t.error) {
        (Some(h), None, None) => Ok(DigestLine::Header(h)),
        (None, Some(tr), None) => Ok(DigestLine::Trailer(tr)),
        (None, None, Some(error)) => Ok(DigestLine::Error(ErrorBody {
            error,
            status: t.status.unwrap_or(500),
        })),
        _ => Err("digest line is neither header, chunk, trailer nor error".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_tell_apart_what_xor_alone_would_not() {
        // Equal-length inputs whose XORs agree: CRC32 is affine, so the
        // XOR of their CRCs agrees too; the sum does not.
        let crc = |s: &str| crc32(s.as_bytes());
        let (mut a, mut b) = (Digest::default(), Digest::default());
        a.add(crc("12"));
        a.add(crc("21"));
        b.add(crc("11"));
        b.add(crc("22"));
        assert_eq!(a.xor, b.xor, "the weakness the sum is there for");
        assert_ne!(a, b);
    }

    /// Plain CRC-32 (IEEE), as MySQL's CRC32(); for the test above only.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn chunk_lines_round_trip() {
        let mut d = Digest::default();
        d.add(7);
        d.add(u32::MAX);
        let mut line = Vec::new();
        chunk_line(&mut line, 3, b"[42,\"a\"]", &d);
        let text = String::from_utf8(line).unwrap();
        assert_eq!(
            text,
            format!(
                "[3,[42,\"a\"],2,{},{}]\n",
                7 ^ u32::MAX,
                7 + u64::from(u32::MAX)
            )
        );
        match parse_line(text.trim_end()).unwrap() {
            DigestLine::Chunk(c) => {
                assert_eq!((c.range, c.last_key.get(), c.digest), (3, "[42,\"a\"]", d));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_line("[0,[1],0,0,0]").is_err(), "a chunk has rows");
        assert!(parse_line("[0,1,1,0,0]").is_err(), "keys are arrays");
        assert!(
            parse_line("[0,[1],1,4294967296,0]").is_err(),
            "hashes are 32-bit"
        );
        assert!(matches!(
            parse_line("{\"trailer\":{\"chunks\":1,\"rows\":2}}").unwrap(),
            DigestLine::Trailer(DigestTrailer { chunks: 1, rows: 2 })
        ));
        assert!(matches!(
            parse_line("{\"error\":\"x\",\"status\":503}").unwrap(),
            DigestLine::Error(e) if e.status == 503
        ));
    }

    #[test]
    fn ranges_parameter() {
        let r = [
            KeyRange::ALL,
            KeyRange {
                after: Some("[1]".into()),
                until: Some("[9]".into()),
            },
        ];
        let text = ranges_json(&r);
        assert_eq!(text, "[[null,null],[[1],[9]]]");
        let parsed = parse_ranges(&text).unwrap();
        assert!(parsed[0].0.is_none() && parsed[0].1.is_none());
        assert_eq!(parsed[1].1.as_ref().unwrap().get(), "[9]");
        assert!(parse_ranges("[]").is_err());
        assert!(parse_ranges("[[1]]").is_err());
        assert!(parse_ranges("nope").is_err());
    }
}
