//! Moves one change stream into the destination: the stream's header
//! chooses the columns, a reader thread decodes rows into batches while
//! this thread upserts them, and only a stream that ends with its trailer
//! counts as complete. Used by the incremental pass and by repairs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use dbdump_shared::warn;
use dbdump_shared::wire::Header;

use crate::apply::destination::{Batch, Destination};
use crate::apply::failure::TableError;
use crate::apply::stream::{self, End, Failure};
use crate::observe::progress::Progress;
use crate::source::client::Client;
use crate::source::retry::with_busy_retry;

/// What applying one stream did.
#[derive(Debug)]
pub struct Applied {
    pub rows: u64,
    /// The stream's horizon: it holds every source row older (on the
    /// application's wall clock for a DATETIME cursor in another zone).
    pub horizon: String,
    /// The horizon in UTC when it differs: what freshness is told by.
    pub horizon_utc: Option<String>,
}

/// Who tells a stream's progress: the stream itself (with the source's
/// estimate of its rows), or a counter of rows that a first copy's
/// coordinator reports for all the ranges of a table at once.
pub enum Report<'a> {
    Own(Option<u64>),
    Into(&'a AtomicU64),
}

/// What to do with the destination once a stream's header told its
/// columns, before any row is written (`--create-tables` adds columns).
pub type BeforeRows<'a> = &'a mut dyn FnMut(&mut Destination, &Header) -> Result<(), TableError>;

/// GETs the change stream at `path` and upserts its rows into `table`;
/// `report` says who tells its progress (with the source's guess of its
/// rows, a long one's progress tells percent and time left).
pub fn apply_stream(
    client: &Client,
    dest: &mut Destination,
    table: &str,
    path: &str,
    before_rows: BeforeRows<'_>,
    report: Report<'_>,
) -> Result<Applied, TableError> {
    let mut body = with_busy_retry(|| client.get(path)).map_err(|e| e.to_string())?;
    let header = stream::read_header(&mut body)?;
    before_rows(dest, &header)?;
    let mut writer = dest.writer(&header, table)?;
    let limits = writer.limits();

    // Two threads: this one writes to the destination while the reader
    // decodes the next batch. Two batches in flight at most: memory stays flat.
    let (tx, rx) = mpsc::sync_channel::<Batch>(2);
    let (read, written) = std::thread::scope(|s| {
        let reader = s.spawn(|| stream::read_rows(&mut body, &header.columns, limits, tx));
        let mut written = Ok(());
        let mut progress = match report {
            Report::Own(estimate) => Some(Progress::start(table, estimate)),
            Report::Into(_) => None,
        };
        for batch in rx {
            let rows = batch.rows as u64;
            if let Err(e) = writer.write(batch) {
                written = Err(e);
                break; // drops the receiver: the reader stops at its next send
            }
            match (&mut progress, &report) {
                (Some(p), _) => p.update(writer.applied()),
                (None, Report::Into(counter)) => {
                    counter.fetch_add(rows, Ordering::Relaxed);
                }
                (None, Report::Own(_)) => {}
            }
        }
        drop(progress);
        let read = reader.join().unwrap_or_else(|_| {
            Err(Failure {
                reason: "the stream reader panicked".into(),
                received: 0,
                discarded: 0,
            })
        });
        (read, written)
    });
    written?;
    match read {
        Ok(End::Complete) => Ok(Applied {
            rows: writer.applied(),
            horizon: header.horizon.clone(),
            horizon_utc: header.horizon_utc.clone(),
        }),
        Ok(End::Interrupted) => {
            warn!(
                "stopped `{table}` on request after {} rows",
                writer.applied()
            );
            Err("interrupted".into())
        }
        Err(f) => Err(format!(
            "{} after {} rows ({} applied, {} discarded)",
            f.reason,
            f.received,
            writer.applied(),
            f.discarded
        )
        .into()),
    }
}
