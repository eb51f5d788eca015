//! Reading a digest stream: each line parsed, an error line or a missing
//! trailer turned into an error (so that nothing is concluded from a
//! cut-off answer), and the keys of its chunks decoded against the header's
//! key columns.

use std::rc::Rc;

use mysql::Value;
use serde_json::value::RawValue;

use dbdump_shared::digest::{self, DigestHeader, DigestLine};
use dbdump_shared::value;
use dbdump_shared::wire::Column;

use crate::source::body::{expect_end, read_whole_line};
use crate::source::client::Response;

/// A primary key as the source sent it, and decoded for the destination.
#[derive(Debug)]
pub struct Key {
    pub json: String,
    pub values: Vec<Value>,
}

/// The key columns of a digest, from its header.
pub fn key_columns(header: &DigestHeader) -> Result<Vec<Column>, String> {
    header
        .key
        .iter()
        .map(|k| {
            header
                .columns
                .iter()
                .find(|c| &c.name == k)
                .cloned()
                .ok_or_else(|| format!("digest header lacks key column `{k}`"))
        })
        .collect()
}

pub fn decode_key(raw: &RawValue, columns: &[Column]) -> Result<Rc<Key>, String> {
    let items: Vec<&RawValue> =
        serde_json::from_str(raw.get()).map_err(|e| format!("bad key in digest: {e}"))?;
    if items.len() != columns.len() {
        return Err(format!(
            "digest key {} does not have {} values",
            raw.get(),
            columns.len()
        ));
    }
    let values = items
        .iter()
        .zip(columns)
        .map(|(item, column)| value::decode_value(item, column))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rc::new(Key {
        json: raw.get().to_string(),
        values,
    }))
}

/// The next line of a digest stream; an error line, a broken stream or
/// a missing trailer is an error.
pub fn next_line(body: &mut Response, line: &mut String) -> Result<DigestLine, String> {
    let n = read_whole_line(body, line).map_err(|e| format!("digest stream broke off: {e}"))?;
    if n == 0 {
        return Err("digest stream ended without a trailer".into());
    }
    match digest::parse_line(line.trim_end())? {
        DigestLine::Error(e) => Err(format!("server error {}: {}", e.status, e.error)),
        DigestLine::Trailer(t) => {
            expect_end(body).map_err(|e| format!("digest {e}"))?;
            Ok(DigestLine::Trailer(t))
        }
        other => Ok(other),
    }
}
