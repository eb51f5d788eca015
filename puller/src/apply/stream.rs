//! Reading one change stream: the header, then rows decoded and gathered
//! into batches handed to the writer thread, then the trailer that proves
//! the stream complete. Runs beside the destination writes, so decoding and
//! the network overlap with the INSERTs.

use std::sync::mpsc::SyncSender;

use dbdump_shared::signals;
use dbdump_shared::value;
use dbdump_shared::wire::{self, Column, Header, Line};

use crate::apply::destination::{Batch, Limits};
use crate::source::body::{expect_end, read_whole_line};
use crate::source::client::Response;

/// How reading a stream ended, when it did not fail.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// The trailer arrived and agrees with what came.
    Complete,
    /// A stop was requested; the rows read so far were handed over.
    Interrupted,
}

/// Why reading failed, with what is needed to say what was kept.
#[derive(Debug)]
pub struct Failure {
    pub reason: String,
    pub received: u64,
    /// Rows of the incomplete last batch, never written.
    pub discarded: usize,
}

fn next_line(body: &mut Response, line: &mut String) -> Result<usize, String> {
    read_whole_line(body, line).map_err(|e| format!("stream broke off: {e}"))
}

/// Reads and checks the header line.
pub fn read_header(body: &mut Response) -> Result<Header, String> {
    let mut line = String::new();
    if next_line(body, &mut line)? == 0 {
        return Err("empty response instead of a stream header".into());
    }
    let header =
        match wire::parse_line(line.trim_end()).map_err(|e| format!("bad stream header: {e}"))? {
            Line::Header(h) => h,
            Line::Error(e) => return Err(format!("server error {}: {}", e.status, e.error)),
            _ => return Err("stream does not start with a header".into()),
        };
    if header.protocol != wire::PROTOCOL {
        return Err(format!(
            "server speaks protocol {}, this puller {}",
            header.protocol,
            wire::PROTOCOL
        ));
    }
    Ok(*header)
}

/// Reads rows until the trailer, sending full batches (and the last, short
/// one once the trailer confirms the stream) to `batches`. A stream that
/// breaks off keeps its incomplete batch to itself.
pub fn read_rows(
    body: &mut Response,
    columns: &[Column],
    limits: Limits,
    batches: SyncSender<Batch>,
) -> Result<End, Failure> {
    let mut line = String::new();
    let mut batch = Batch::default();
    let mut received = 0u64;
    let fail = |reason: String, received: u64, batch: &Batch| Failure {
        reason,
        received,
        discarded: batch.rows,
    };
    let gone = "the destination writer stopped".to_string();
    loop {
        let n = match next_line(body, &mut line) {
            Ok(0) => {
                let reason = "stream ended without a trailer (the next run resumes)".to_string();
                return Err(fail(reason, received, &batch));
            }
            Ok(n) => n,
            Err(e) => return Err(fail(e, received, &batch)),
        };
        let text = line.trim_end();
        // Rows (the hot path) are decoded straight into the batch; the few
        // other lines go through serde.
        if text.starts_with('[') {
            value::decode_row_into(text, columns, &mut batch.params)
                .map_err(|e| fail(e, received, &batch))?;
            received += 1;
            batch.rows += 1;
            batch.bytes += n;
            if batch.is_full(limits) {
                batches
                    .send(std::mem::take(&mut batch))
                    .map_err(|_| fail(gone.clone(), received, &Batch::default()))?;
            }
        } else {
            match wire::parse_line(text).map_err(|e| fail(e, received, &batch))? {
                Line::Trailer(t) => {
                    if t.rows != received {
                        let reason =
                            format!("trailer counts {} rows but {received} arrived", t.rows);
                        return Err(fail(reason, received, &batch));
                    }
                    expect_end(body).map_err(|e| fail(e, received, &batch))?;
                    batches
                        .send(batch)
                        .map_err(|_| fail(gone, received, &Batch::default()))?;
                    return Ok(End::Complete);
                }
                Line::Error(e) => {
                    let reason = format!("server error {} mid-stream: {}", e.status, e.error);
                    return Err(fail(reason, received, &batch));
                }
                Line::Header(_) => {
                    return Err(fail("second header in one stream".into(), received, &batch))
                }
                Line::Row(_) => {
                    return Err(fail("malformed row line".into(), received, &batch));
                }
            }
        }
        if received.is_multiple_of(4096) && signals::stop_requested() {
            // Whole rows are complete: hand them over; the next run resumes.
            batches
                .send(batch)
                .map_err(|_| fail(gone, received, &Batch::default()))?;
            return Ok(End::Interrupted);
        }
    }
}
