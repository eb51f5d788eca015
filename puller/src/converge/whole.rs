//! A table without a key, synced whole: its rows have no identity to
//! compare or repair one by one, so the source's digest of the whole table
//! (how many rows, the XOR and the sum of their hashes: duplicates count)
//! is compared with the destination's, and when they differ the
//! destination's rows are replaced by the source's in one transaction. A
//! reader of the destination sees the old rows or the new ones, never an
//! empty or half table; a stream cut off, a refused row or a killed puller
//! rolls the transaction back and changes nothing. Tables bigger than
//! `--max-whole-rows` are refused, with a line that says why.

use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

use dbdump_shared::dberror;
use dbdump_shared::digest::{Digest, DigestHeader, DigestLine, Kind};
use dbdump_shared::http::percent_encode;
use dbdump_shared::wire;

use crate::apply::destination::Destination;
use crate::apply::failure::TableError;
use crate::apply::transfer::{self, Report};
use crate::config::Config;
use crate::converge::digests::DestTable;
use crate::converge::reading::next_line;
use crate::source::client::Client;
use crate::source::requests::stream_path;
use crate::source::retry::with_busy_retry;
use crate::sql;

/// What syncing a keyless table did.
#[derive(Debug)]
pub struct Whole {
    pub elapsed: Duration,
    /// Rows of the source's digest.
    pub source_rows: u64,
    pub differed: bool,
    /// Rows copied (0 when the digests were equal).
    pub copied: u64,
    /// The horizon (UTC) the source's digest was taken under: the copy is
    /// complete up to it.
    pub horizon: Option<String>,
}

/// The digests of a keyless table on both sides.
#[derive(Debug)]
pub struct Compared {
    pub source: Digest,
    pub destination: Digest,
    /// The horizon (UTC) the source's digest was taken under.
    pub horizon: Option<String>,
}

impl Compared {
    pub fn differ(&self) -> bool {
        self.source != self.destination
    }
}

/// Compares `table` as a whole with the source's, changing nothing.
pub fn compare(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    table: &str,
) -> Result<Compared, TableError> {
    let (header, theirs) = source_digest(cfg, client, table)?;
    let mine = DestTable::new(dest, table, &header)?
        .buckets(dest, None, None, &[])?
        .first()
        .copied()
        .unwrap_or_default();
    Ok(Compared {
        source: theirs,
        destination: mine,
        horizon: header.horizon,
    })
}

/// A table of `source_rows` (`dest_rows` on the destination) may be copied
/// whole, or why not.
pub fn check_size(
    cfg: &Config,
    table: &str,
    source_rows: u64,
    dest_rows: u64,
) -> Result<(), TableError> {
    if source_rows <= cfg.max_whole_rows {
        return Ok(());
    }
    Err(format!(
        "table `{table}` has no key and {source_rows} rows on the source, more than \
         --max-whole-rows {}: it is not copied whole (its {dest_rows} destination rows stay as \
         they are); give it a primary key or a UNIQUE key over NOT NULL columns, or raise \
         --max-whole-rows",
        cfg.max_whole_rows
    )
    .into())
}

/// Compares `table` as a whole and, if it differs, replaces the
/// destination's rows with the source's.
pub fn whole(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    table: &str,
) -> Result<Whole, TableError> {
    let started = Instant::now();
    let compared = compare(cfg, client, dest, table)?;
    let mut done = Whole {
        elapsed: Duration::ZERO,
        source_rows: compared.source.rows,
        differed: compared.differ(),
        copied: 0,
        horizon: compared.horizon.clone(),
    };
    if done.differed {
        check_size(cfg, table, compared.source.rows, compared.destination.rows)?;
        done.copied = replace(cfg, client, dest, table)?;
    }
    done.elapsed = started.elapsed();
    Ok(done)
}

/// The source's digest of the whole table, checked as complete.
pub fn source_digest(
    cfg: &Config,
    client: &Client,
    table: &str,
) -> Result<(DigestHeader, Digest), TableError> {
    let mut path = format!(
        "/{}/{}/digest?kind=row",
        percent_encode(&cfg.source_database),
        percent_encode(table)
    );
    let excluded = cfg.excluded(table);
    if !excluded.is_empty() {
        path.push_str("&exclude_columns=");
        path.push_str(&percent_encode(&excluded.join(",")));
    }
    let mut body = with_busy_retry(|| client.get(&path)).map_err(|e| e.to_string())?;
    let mut line = String::new();
    let header = match next_line(&mut body, &mut line)? {
        DigestLine::Header(h) => *h,
        _ => return Err("digest stream does not start with a header".into()),
    };
    if header.protocol != wire::PROTOCOL
        || header.hash != "crc32"
        || header.kind != Kind::Row
        || !header.key.is_empty()
    {
        return Err(format!(
            "the server's digest of `{table}` is not one of a whole keyless table (protocol {}, \
             hash {}, key {:?})",
            header.protocol, header.hash, header.key
        )
        .into());
    }
    let mut digest = Digest::default();
    loop {
        match next_line(&mut body, &mut line)? {
            DigestLine::Chunk(c) if c.range == 0 && digest.rows == 0 => digest = c.digest,
            DigestLine::Trailer(t) if t.rows == digest.rows && t.chunks <= 1 => break,
            DigestLine::Trailer(_) => {
                return Err("digest trailer disagrees with the chunks that arrived".into())
            }
            _ => return Err("unexpected line in the digest of a whole table".into()),
        }
    }
    Ok((header, digest))
}

/// Replaces the destination's rows of `table` with the source's stream, in
/// one transaction: everything or nothing. Returns the rows written.
fn replace(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    table: &str,
) -> Result<u64, TableError> {
    let doing = |what: &str, e: mysql::Error| {
        TableError::database(&format!("{what} destination table `{table}`"), &e)
    };
    let database = dest.database.clone();
    dest.conn()
        .query_drop(sql::BEGIN)
        .map_err(|e| doing("starting to replace", e))?;
    let copied = dest
        .conn()
        .query_drop(sql::delete_all(&database, table))
        .map_err(|e| doing("emptying (inside the replacing transaction)", e))
        .and_then(|_| {
            let path = stream_path(cfg, table, None, None);
            let applied = transfer::apply_stream(
                client,
                dest,
                table,
                &path,
                &mut |_, _| Ok(()),
                Report::Own(None),
            )?;
            Ok(applied.rows)
        })
        .and_then(|rows| {
            dest.conn()
                .query_drop(sql::COMMIT)
                .map_err(|e| doing("committing the replacement of", e))?;
            Ok(rows)
        });
    if copied.is_err() {
        // The old rows stay: nothing of the new ones is seen.
        if let Err(e) = dest.conn().query_drop(sql::ROLLBACK) {
            dbdump_shared::warn!(
                "table `{table}`: rolling back its replacement failed ({}); the destination \
                 discards the transaction when the session ends",
                dberror::describe(&e)
            );
        }
    }
    copied
}
