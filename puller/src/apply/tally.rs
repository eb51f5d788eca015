//! Reads a change stream without applying it (`--dry-run`): the header and
//! the trailer are checked as `transfer` checks them, the rows are counted
//! and, when asked, their keys kept (as the source wrote them, the way a
//! digest writes keys too), so that a comparison can leave out the rows the
//! stream would bring anyway. Nothing is decoded but the keys.

use std::collections::HashSet;

use serde_json::value::RawValue;

use dbdump_shared::signals;
use dbdump_shared::wire::{self, Header, Line};

use crate::apply::failure::TableError;
use crate::apply::stream;
use crate::observe::progress::Progress;
use crate::source::body::{expect_end, read_whole_line};
use crate::source::client::Client;
use crate::source::retry::with_busy_retry;

/// What a stream holds.
#[derive(Debug, Default)]
pub struct Tally {
    pub rows: u64,
    /// The rows' keys (JSON arrays), when asked for.
    pub keys: HashSet<String>,
}

/// What to check once the stream's header told its columns.
pub type OnHeader<'a> = &'a mut dyn FnMut(&Header) -> Result<(), TableError>;

/// The positions of the key columns among the stream's columns.
fn key_positions(header: &Header) -> Result<Vec<usize>, String> {
    header
        .key
        .iter()
        .map(|k| {
            header
                .columns
                .iter()
                .position(|c| &c.name == k)
                .ok_or_else(|| format!("the stream's header lacks its key column `{k}`"))
        })
        .collect()
}

/// The key of a row line, as `[v1,v2]`.
fn key_of(line: &str, positions: &[usize]) -> Result<String, String> {
    let values: Vec<&RawValue> =
        serde_json::from_str(line).map_err(|e| format!("malformed row line: {e}"))?;
    let mut key = String::from("[");
    for (i, &p) in positions.iter().enumerate() {
        if i > 0 {
            key.push(',');
        }
        key.push_str(values.get(p).ok_or("a row line is short of its key")?.get());
    }
    key.push(']');
    Ok(key)
}

/// GETs the change stream at `path` of `table` and counts its rows;
/// `keep_keys` keeps their keys; `estimate` is the source's guess of its
/// rows, for the progress of a long one.
pub fn tally(
    client: &Client,
    table: &str,
    path: &str,
    keep_keys: bool,
    estimate: Option<u64>,
    on_header: OnHeader<'_>,
) -> Result<Tally, TableError> {
    let mut body = with_busy_retry(|| client.get(path)).map_err(|e| e.to_string())?;
    let header = stream::read_header(&mut body)?;
    on_header(&header)?;
    let positions = if keep_keys {
        key_positions(&header)?
    } else {
        Vec::new()
    };
    let mut progress = Progress::start(table, estimate);
    let mut found = Tally::default();
    let mut line = String::new();
    loop {
        let n = read_whole_line(&mut body, &mut line)
            .map_err(|e| format!("stream broke off after {} rows: {e}", found.rows))?;
        if n == 0 {
            return Err(format!("stream ended without a trailer after {} rows", found.rows).into());
        }
        let text = line.trim_end();
        if text.starts_with('[') {
            found.rows += 1;
            if keep_keys {
                found.keys.insert(key_of(text, &positions)?);
            }
            if found.rows.is_multiple_of(4096) {
                progress.update(found.rows);
                if signals::stop_requested() {
                    return Err("interrupted".into());
                }
            }
            continue;
        }
        match wire::parse_line(text)? {
            Line::Trailer(t) if t.rows == found.rows => {
                expect_end(&mut body)?;
                return Ok(found);
            }
            Line::Trailer(t) => {
                return Err(
                    format!("trailer counts {} rows but {} arrived", t.rows, found.rows).into(),
                )
            }
            Line::Error(e) => {
                return Err(format!("server error {} mid-stream: {}", e.status, e.error).into())
            }
            Line::Header(_) => return Err("second header in one stream".into()),
            Line::Row(_) => return Err("malformed row line".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_cut_from_row_lines_as_written() {
        assert_eq!(key_of(r#"[1,"a b",null]"#, &[0]).unwrap(), "[1]");
        assert_eq!(
            key_of(r#"[1, "a b",7.5]"#, &[1, 0]).unwrap(),
            r#"["a b",1]"#
        );
        assert!(key_of("[1]", &[2]).is_err());
        assert!(key_of("[1", &[0]).is_err());
    }
}
