//! Finds the rows that differ between a source table and its destination
//! copy without moving them. The source's digests of consecutive primary
//! key ranges ("chunks") are compared with the destination's digests of the
//! same ranges; each range that differs is asked for again in smaller
//! chunks, then row by row, until the differing keys are known. Only
//! digests travel; the work grows with the differences, not the table.
//!
//! Every source answer must end with its trailer: a cut-off or garbled
//! answer is an error, and an error means nothing is deleted or repaired.

use std::collections::HashMap;
use std::rc::Rc;

use mysql::Value;

use dbdump_shared::debug;
use dbdump_shared::digest::{self, Chunk, Digest, DigestHeader, DigestLine, KeyRange, Kind};
use dbdump_shared::http::percent_encode;
use dbdump_shared::wire::{self, Column};

use crate::apply::destination::Destination;
use crate::converge::digests::{DestRow, DestTable};
use crate::converge::reading::{decode_key, key_columns, next_line, Key};
use crate::converge::repair::Guard;
use crate::source::client::{Client, Response};
use crate::source::retry::with_busy_retry;

/// Rows per chunk of the first, whole-table digest.
const TOP_CHUNK_ROWS: u64 = 1000;
/// Source chunks whose destination digests one query computes.
const DEST_BATCH: usize = 32;
/// Longest `ranges` parameter (percent-encoded) of one request; the
/// server's limit for a whole request line is 16 KiB.
const MAX_RANGES_TEXT: usize = 12_000;
/// Most source rows one row-by-row request may list.
const MAX_LEAF_ROWS: u64 = 50_000;

/// What a comparison found.
#[derive(Debug, Default)]
pub struct Found {
    /// The primary key's columns.
    pub key: Vec<String>,
    /// Destination keys the source does not have.
    pub extra: Vec<Vec<Value>>,
    /// The first of them as the wire writes keys (as many as asked).
    pub extra_examples: Vec<String>,
    /// Source keys (as JSON) whose row the destination lacks or holds
    /// differently (row digests only).
    pub repair: Vec<String>,
    /// Chunks of the whole-table digest compared, and how many differed.
    pub chunks: u64,
    pub differed: u64,
    pub source_rows: u64,
    pub dest_rows: u64,
    /// The horizon (UTC) the source's whole-table digest was taken under:
    /// what a copy that came out equal is complete up to.
    pub horizon: Option<String>,
}

impl Found {
    /// `row` is on the destination only; its key goes to the examples
    /// while fewer than `examples` are kept.
    fn add_extra(&mut self, row: &DestRow, examples: usize) {
        if self.extra_examples.len() < examples {
            self.extra_examples.push(row.json.clone());
        }
        self.extra.push(row.key.clone());
    }
}

/// A source chunk with its last key decoded.
type Keyed = (Rc<Key>, Chunk);

/// A key range `(after, until]` and the rows each side has in it.
#[derive(Clone, Debug)]
struct Span {
    after: Option<Rc<Key>>,
    until: Option<Rc<Key>>,
    src_rows: u64,
    dst_rows: u64,
}

impl Span {
    fn after(&self) -> Option<&[Value]> {
        self.after.as_deref().map(|k| k.values.as_slice())
    }

    fn until(&self) -> Option<&[Value]> {
        self.until.as_deref().map(|k| k.values.as_slice())
    }

    fn range(&self) -> KeyRange {
        KeyRange {
            after: self.after.as_ref().map(|k| k.json.clone()),
            until: self.until.as_ref().map(|k| k.json.clone()),
        }
    }
}

/// The next, smaller chunk size while narrowing: about the square root, so
/// that a 1000-row chunk takes two rounds (32 rows, then single rows).
fn narrower(chunk_rows: u64) -> u64 {
    if chunk_rows <= 64 {
        return 1;
    }
    let mut root = 1;
    while root * root < chunk_rows {
        root += 1;
    }
    root
}

/// Compares source `chunks` (after `start`, in key order) with the
/// destination's `theirs` for the same bounds and pushes the spans that
/// differ. With `tail` (the end of the range), the destination's bucket past
/// the last chunk is compared too: any rows there are the destination's
/// alone. Returns the last key compared.
fn differing(
    start: Option<Rc<Key>>,
    chunks: &[Keyed],
    theirs: &[Digest],
    tail: Option<Option<Rc<Key>>>,
    out: &mut Vec<Span>,
) -> Option<Rc<Key>> {
    let mut prev = start;
    for ((key, chunk), theirs) in chunks.iter().zip(theirs) {
        if chunk.digest != *theirs {
            out.push(Span {
                after: prev.clone(),
                until: Some(key.clone()),
                src_rows: chunk.digest.rows,
                dst_rows: theirs.rows,
            });
        }
        prev = Some(key.clone());
    }
    let rest = theirs.get(chunks.len()).copied().unwrap_or_default();
    if let (Some(until), true) = (tail, rest.rows > 0) {
        out.push(Span {
            after: prev.clone(),
            until,
            src_rows: 0,
            dst_rows: rest.rows,
        });
    }
    prev
}

/// One table's comparison.
pub struct Comparison<'a> {
    pub client: &'a Client,
    /// `/<db>/<table>/digest`, encoded.
    pub path: String,
    pub kind: Kind,
    /// `&exclude_columns=…` and `&cursor=…` as the table needs, or empty.
    pub columns_param: String,
    pub guard: &'a Guard,
    /// How many extra keys to keep as examples (`--dry-run`).
    pub examples: usize,
}

impl Comparison<'_> {
    fn get(
        &self,
        chunk_rows: u64,
        ranges: Option<&[Span]>,
    ) -> Result<(Response, DigestHeader), String> {
        let mut path = format!(
            "{}?kind={}&chunk_rows={chunk_rows}{}",
            self.path,
            self.kind.name(),
            self.columns_param
        );
        if let Some(spans) = ranges {
            let list: Vec<KeyRange> = spans.iter().map(Span::range).collect();
            path.push_str("&ranges=");
            path.push_str(&percent_encode(&digest::ranges_json(&list)));
        }
        let mut body = with_busy_retry(|| self.client.get(&path)).map_err(|e| e.to_string())?;
        let mut line = String::new();
        let header = match next_line(&mut body, &mut line)? {
            DigestLine::Header(h) => *h,
            _ => return Err("digest stream does not start with a header".into()),
        };
        let expected = ranges.map_or(1, <[Span]>::len);
        if header.protocol != wire::PROTOCOL
            || header.hash != "crc32"
            || header.kind != self.kind
            || header.chunk_rows != chunk_rows
            || header.ranges != expected
            || header.key.is_empty()
        {
            return Err(format!(
                "the server's digest header does not match the request (protocol {}, hash {}, \
                 kind {}, {} rows a chunk, {} ranges)",
                header.protocol,
                header.hash,
                header.kind.name(),
                header.chunk_rows,
                header.ranges
            ));
        }
        Ok((body, header))
    }

    /// Compares the table, narrows every difference down to keys.
    pub fn run(&self, dest: &mut Destination, table: &str) -> Result<Found, String> {
        let mut found = Found::default();
        let (dt, keys, mut pending) = self.whole_table(dest, table, &mut found)?;
        debug!(
            "`{table}`: {} of {} chunks differ ({} source rows, {} destination rows)",
            found.differed, found.chunks, found.source_rows, found.dest_rows
        );
        self.guard
            .check_totals(found.source_rows, found.dest_rows)?;
        let mut chunk_rows = TOP_CHUNK_ROWS;
        while !pending.is_empty() {
            let next = narrower(chunk_rows);
            let (mut split, mut leaves) = (Vec::new(), Vec::new());
            for span in pending.drain(..) {
                if span.src_rows == 0 {
                    // Nothing of the source here: every destination row is extra.
                    let extra = found.extra.len() as u64 + span.dst_rows;
                    self.guard.check_deletes(extra, found.dest_rows)?;
                    for row in dt.rows(dest, span.after(), span.until())? {
                        found.add_extra(&row, self.examples);
                    }
                } else if span.dst_rows == 0 {
                    // Nothing on the destination: no deletes here; for a
                    // repair, list the source's keys.
                    if self.kind == Kind::Row {
                        leaves.push(span);
                    }
                } else if next == 1 {
                    leaves.push(span);
                } else {
                    split.push(span);
                }
            }
            debug!(
                "`{table}`: narrowing {} ranges to {next}-row chunks, comparing {} row by row",
                split.len(),
                leaves.len()
            );
            pending = self.split(dest, &dt, &keys, split, next)?;
            self.leaves(dest, &dt, &keys, leaves, &mut found)?;
            self.guard
                .check_deletes(found.extra.len() as u64, found.dest_rows)?;
            chunk_rows = next;
        }
        Ok(found)
    }

    /// The whole-table digest against the destination's, 32 chunks per
    /// destination query; returns the ranges that differ.
    fn whole_table(
        &self,
        dest: &mut Destination,
        table: &str,
        found: &mut Found,
    ) -> Result<(DestTable, Vec<Column>, Vec<Span>), String> {
        let (mut body, header) = self.get(TOP_CHUNK_ROWS, None)?;
        let dt = DestTable::new(dest, table, &header)?;
        let keys = key_columns(&header)?;
        found.key = header.key.clone();
        found.horizon = header.horizon.clone();
        let mut line = String::new();
        let mut differ = Vec::new();
        let mut prev: Option<Rc<Key>> = None;
        let mut batch: Vec<Keyed> = Vec::with_capacity(DEST_BATCH);
        loop {
            let trailer = match next_line(&mut body, &mut line)? {
                DigestLine::Chunk(c) if c.range == 0 => {
                    batch.push((decode_key(&c.last_key, &keys)?, c));
                    None
                }
                DigestLine::Trailer(t) => Some(t),
                _ => return Err("unexpected line in a digest stream".into()),
            };
            if batch.len() < DEST_BATCH && trailer.is_none() {
                continue;
            }
            // The last batch runs to the end of the table, so that rows
            // past the source's last key are counted too.
            let last = trailer.is_some();
            let (until, bounds) = match (last, batch.split_last()) {
                (false, Some((end, rest))) => (Some(end.0.clone()), rest),
                _ => (None, batch.as_slice()),
            };
            let bound_values: Vec<&[Value]> =
                bounds.iter().map(|(k, _)| k.values.as_slice()).collect();
            let digests = dt.buckets(
                dest,
                prev.as_deref().map(|k| k.values.as_slice()),
                until.as_deref().map(|k| k.values.as_slice()),
                &bound_values,
            )?;
            let before = differ.len();
            let tail = last.then_some(None);
            prev = differing(prev, &batch, &digests, tail, &mut differ);
            found.differed += differ[before..].iter().filter(|s| s.src_rows > 0).count() as u64;
            found.chunks += batch.len() as u64;
            found.source_rows += batch.iter().map(|(_, c)| c.digest.rows).sum::<u64>();
            found.dest_rows += digests.iter().map(|d| d.rows).sum::<u64>();
            if let Some(t) = trailer {
                if t.chunks != found.chunks || t.rows != found.source_rows {
                    return Err(format!(
                        "digest trailer counts {} chunks of {} rows, but {} chunks of {} rows arrived",
                        t.chunks, t.rows, found.chunks, found.source_rows
                    ));
                }
                return Ok((dt, keys, differ));
            }
            batch.clear();
        }
    }

    /// Asks the source for `spans` in chunks of `chunk_rows`, a few hundred
    /// ranges per request; returns each span's chunks, in order.
    fn chunks_of(
        &self,
        spans: &[Span],
        chunk_rows: u64,
        keys: &[Column],
    ) -> Result<Vec<Vec<Keyed>>, String> {
        let mut out: Vec<Vec<Keyed>> = Vec::with_capacity(spans.len());
        let mut start = 0;
        while start < spans.len() {
            let (mut end, mut text, mut rows) = (start, 0, 0);
            while end < spans.len() && end - start < digest::MAX_RANGES {
                let mut one = String::new();
                spans[end].range().write_json(&mut one);
                text += percent_encode(&one).len() + 3;
                rows += spans[end].src_rows;
                let full = text > MAX_RANGES_TEXT || (chunk_rows == 1 && rows > MAX_LEAF_ROWS);
                if full && end > start {
                    break;
                }
                end += 1;
            }
            let batch = &spans[start..end];
            let (mut body, _) = self.get(chunk_rows, Some(batch))?;
            let mut groups: Vec<Vec<Keyed>> = (0..batch.len()).map(|_| Vec::new()).collect();
            let (mut line, mut chunks, mut total) = (String::new(), 0u64, 0u64);
            loop {
                match next_line(&mut body, &mut line)? {
                    DigestLine::Chunk(c) => {
                        let group = groups
                            .get_mut(c.range)
                            .ok_or("digest chunk of a range not asked for")?;
                        chunks += 1;
                        total += c.digest.rows;
                        group.push((decode_key(&c.last_key, keys)?, c));
                    }
                    DigestLine::Trailer(t) if t.chunks == chunks && t.rows == total => break,
                    DigestLine::Trailer(_) => {
                        return Err("digest trailer disagrees with the chunks that arrived".into())
                    }
                    DigestLine::Header(_) => return Err("second header in a digest stream".into()),
                    DigestLine::Error(_) => unreachable!("next_line turns error lines into errors"),
                }
            }
            out.extend(groups);
            start = end;
        }
        Ok(out)
    }

    /// Splits each span into the source's smaller chunks and keeps the
    /// ones whose digests differ from the destination's.
    fn split(
        &self,
        dest: &mut Destination,
        dt: &DestTable,
        keys: &[Column],
        spans: Vec<Span>,
        chunk_rows: u64,
    ) -> Result<Vec<Span>, String> {
        let mut differ = Vec::new();
        let groups = self.chunks_of(&spans, chunk_rows, keys)?;
        for (span, chunks) in spans.iter().zip(groups) {
            let bounds: Vec<&[Value]> = chunks.iter().map(|(k, _)| k.values.as_slice()).collect();
            let digests = dt.buckets(dest, span.after(), span.until(), &bounds)?;
            let tail = Some(span.until.clone());
            differing(span.after.clone(), &chunks, &digests, tail, &mut differ);
        }
        Ok(differ)
    }

    /// Compares `spans` row by row: keys only the destination has are
    /// extra; keys only the source has, or whose hashes differ, need repair.
    fn leaves(
        &self,
        dest: &mut Destination,
        dt: &DestTable,
        keys: &[Column],
        spans: Vec<Span>,
        found: &mut Found,
    ) -> Result<(), String> {
        let groups = self.chunks_of(&spans, 1, keys)?;
        for (span, rows) in spans.iter().zip(groups) {
            let theirs = dt.rows(dest, span.after(), span.until())?;
            let mut unseen: HashMap<&str, (u32, usize)> = theirs
                .iter()
                .enumerate()
                .map(|(i, r)| (r.json.as_str(), (r.hash, i)))
                .collect();
            // Source keys no destination key spells the same way.
            let mut unmatched: Vec<&[Value]> = Vec::new();
            for (key, row) in &rows {
                let same = match unseen.remove(key.json.as_str()) {
                    Some((hash, _)) => self.kind == Kind::Key || hash == row.digest.xor,
                    None => {
                        unmatched.push(&key.values);
                        self.kind == Kind::Key
                    }
                };
                if !same {
                    found.repair.push(key.json.clone());
                }
            }
            let mut extra: Vec<usize> = unseen.into_values().map(|(_, i)| i).collect();
            extra.sort_unstable();
            // A destination key spelled unlike every source key can still be
            // one of them to the destination's collation (`Bob` and `bob`
            // to a case-insensitive one): that row is on the source, and is
            // not deleted. The destination decides.
            if !extra.is_empty() && !unmatched.is_empty() {
                let mine: Vec<&[Value]> = extra.iter().map(|&i| theirs[i].key.as_slice()).collect();
                let equal = dt.equal_keys(dest, &mine, &unmatched)?;
                extra.retain(|&i| !equal.contains(&theirs[i].key));
            }
            for i in extra {
                found.add_extra(&theirs[i], self.examples);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowing_goes_by_square_roots_then_rows() {
        assert_eq!(narrower(1000), 32);
        assert_eq!(narrower(32), 1);
        assert_eq!(narrower(100_000), 317);
        assert_eq!(narrower(317), 18);
        assert_eq!(narrower(18), 1);
    }
}
