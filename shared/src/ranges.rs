//! The ranges answer, `GET /<db>/<table>/ranges?count=N`: where a table's
//! key ranges of about equal size begin and end, and the horizon a first
//! copy of them all is taken under, so that a client can copy the ranges
//! at once, each in key order, and resume each after its own last key. See
//! `shared/PROTOCOL.md`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::wire::Column;

/// Most ranges one request may ask for.
pub const MAX_COUNT: usize = 64;

#[derive(Serialize, Deserialize, Debug)]
pub struct KeyRanges {
    pub protocol: u32,
    pub database: String,
    pub table: String,
    /// The key's columns, in key order, as a stream's header describes
    /// them (their encoding is that of the boundaries' values).
    pub key: Vec<Column>,
    /// Keys in increasing order: range 0 holds the keys up to and
    /// including the first, range i those after boundary i-1 up to
    /// boundary i, the last those after the last. Fewer than asked when
    /// the table is small (none: one range, the whole table).
    pub boundaries: Vec<Box<RawValue>>,
    /// The horizon every range's stream is to be read under (`before=`),
    /// in the cursor's terms; for a table without a cursor, the time (UTC)
    /// the copy's snapshots all come after.
    pub horizon: String,
    /// The same instant in UTC, when `horizon` is on an application's
    /// wall clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon_utc: Option<String>,
    /// The source's estimate of the table's rows (for progress).
    #[serde(default)]
    pub estimated_rows: Option<u64>,
    /// The server found no key at all: the table was empty when read,
    /// after the horizon (so what it holds later comes after it too).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty: bool,
}
