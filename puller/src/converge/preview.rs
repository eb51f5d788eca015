//! What a table's convergence would change, for `--dry-run`: the
//! comparison runs as a real one does (digests of key ranges, narrowed
//! down to the differing keys, the mass-delete guard included), and then
//! nothing is deleted or re-fetched: the keys are counted, and a few kept
//! as examples. Also the source's row count of a table a first copy would
//! fill, from a digest of its keys (digests travel, rows do not).

use std::collections::HashSet;

use dbdump_shared::digest::{DigestLine, Kind};
use dbdump_shared::http::percent_encode;
use dbdump_shared::wire;

use crate::apply::destination::Destination;
use crate::config::tables::Named;
use crate::config::Config;
use crate::converge::reading::next_line;
use crate::converge::{compare, Mode};
use crate::source::client::Client;
use crate::source::retry::with_busy_retry;

/// Rows per chunk of a digest that only counts rows (the server's most).
const COUNT_CHUNK_ROWS: u64 = 100_000;

/// What a comparison found that a pass would change.
#[derive(Debug, Default)]
pub struct Differences {
    pub chunks: u64,
    pub differed: u64,
    /// Destination rows the source lacks: a pass deletes them.
    pub deletes: u64,
    pub delete_examples: Vec<String>,
    /// Rows missing or different (`--verify` only): a pass re-fetches them.
    pub repairs: Option<u64>,
    pub repair_examples: Vec<String>,
}

/// Compares `table` in `mode` and counts what a pass would delete and
/// repair; `brought` are the keys the table's change stream would bring
/// first (a pass would not repair those); `--dry-run-examples` keys of
/// each are kept.
pub fn differences(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    table: &str,
    cursor: Option<&Named>,
    mode: Mode,
    brought: &HashSet<String>,
) -> Result<Differences, String> {
    let examples = cfg.dry_run_examples;
    let found = compare(cfg, client, dest, table, cursor, mode, examples)?;
    let repair: Vec<&String> = found
        .repair
        .iter()
        .filter(|k| !brought.contains(k.as_str()))
        .collect();
    Ok(Differences {
        chunks: found.chunks,
        differed: found.differed,
        deletes: found.extra.len() as u64,
        delete_examples: found.extra_examples,
        repairs: (mode == Mode::Verify).then_some(repair.len() as u64),
        repair_examples: repair.into_iter().take(examples).cloned().collect(),
    })
}

/// How many rows the source's `table` holds, by a digest of its keys
/// (what a first copy of it would bring).
pub fn source_rows(cfg: &Config, client: &Client, table: &str) -> Result<u64, String> {
    let path = format!(
        "/{}/{}/digest?kind={}&chunk_rows={COUNT_CHUNK_ROWS}",
        percent_encode(&cfg.source_database),
        percent_encode(table),
        Kind::Key.name()
    );
    let mut body = with_busy_retry(|| client.get(&path)).map_err(|e| e.to_string())?;
    let mut line = String::new();
    match next_line(&mut body, &mut line)? {
        DigestLine::Header(h) if h.protocol == wire::PROTOCOL && h.kind == Kind::Key => {}
        DigestLine::Header(h) => {
            return Err(format!(
                "the server's digest header does not match the request (protocol {}, kind {})",
                h.protocol,
                h.kind.name()
            ))
        }
        _ => return Err("digest stream does not start with a header".into()),
    }
    let (mut rows, mut chunks) = (0u64, 0u64);
    loop {
        match next_line(&mut body, &mut line)? {
            DigestLine::Chunk(c) => {
                rows += c.digest.rows;
                chunks += 1;
            }
            DigestLine::Trailer(t) if t.rows == rows && t.chunks == chunks => return Ok(rows),
            DigestLine::Trailer(_) => {
                return Err("digest trailer disagrees with the chunks that arrived".into())
            }
            _ => return Err("unexpected line in a digest stream".into()),
        }
    }
}
