//! The transaction horizon: the point in time before which every row version
//! is committed and visible, so that a stream cut there can never skip a row
//! that commits later with an older timestamp.
//!
//! horizon = min(source clock, start of the oldest open read-write
//! transaction, start of the oldest running writing statement) - settle,
//! truncated to the timestamp column's precision by the caller. A
//! statement's CURRENT_TIMESTAMP is its start time, which can precede its
//! InnoDB transaction (lock waits), hence the statement term; the settle
//! margin covers the moments between a statement starting and it becoming
//! visible in PROCESSLIST/INNODB_TRX, and clock granularity.

use std::time::Duration;

use mysql::prelude::Queryable;

use dbdump_shared::since::UtcTime;
use dbdump_shared::sql::take;

use crate::error::ApiError;
use crate::sql;

/// What (if anything) held the horizon back from "now - settle".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub thread_id: u64,
    pub what: &'static str,
    /// How long before the source's current time it started.
    pub age: Duration,
}

#[derive(Clone, Debug)]
pub struct Horizon {
    pub at: UtcTime,
    pub held_by: Option<Holder>,
}

/// What the source lets the horizon see; probed once at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// No PROCESS privilege: the settle margin alone.
    SettleOnly,
    /// Transactions and statements, statement ages in whole seconds (MySQL).
    Seconds,
    /// Transactions and statements, statement ages in milliseconds
    /// (MariaDB's PROCESSLIST.TIME_MS).
    Milliseconds,
}

pub fn probe(conn: &mut impl Queryable) -> Visibility {
    if conn.query_drop(sql::PROBE_TRANSACTIONS).is_err() {
        return Visibility::SettleOnly;
    }
    match conn.query_first::<u64, _>(sql::PROBE_TIME_MS) {
        Ok(Some(n)) if n > 0 => Visibility::Milliseconds,
        _ => Visibility::Seconds,
    }
}

fn parse_utc(text: &str) -> Result<UtcTime, ApiError> {
    UtcTime::parse(text)
        .map_err(|e| ApiError::Internal(format!("source returned an unreadable time: {e}")))
}

/// Computes the horizon on `conn` with what `seen` allows.
pub fn compute(
    conn: &mut impl Queryable,
    settle: Duration,
    seen: Visibility,
) -> Result<Horizon, ApiError> {
    let internal = ApiError::Internal;
    let mut now_row: Vec<mysql::Row> = conn.query(sql::UTC_NOW)?;
    let now: String = match now_row.first_mut() {
        Some(r) => take(r, 0).map_err(internal)?,
        None => return Err(internal("UTC_TIMESTAMP() returned nothing".into())),
    };
    let now = parse_utc(&now)?;
    let mut earliest = now.to_unix_micros();
    let mut held_by = None;
    if seen != Visibility::SettleOnly {
        let trx: Vec<mysql::Row> = conn.query(sql::OPEN_TRANSACTIONS)?;
        for mut r in trx {
            let thread_id: u64 = take(&mut r, 0).map_err(internal)?;
            let started: Option<String> = take(&mut r, 1).map_err(internal)?;
            let earlier_60: Option<i64> = take(&mut r, 2).map_err(internal)?;
            let earlier_30: Option<i64> = take(&mut r, 3).map_err(internal)?;
            let Some(started) = started else { continue };
            let mut micros = parse_utc(&started)?.to_unix_micros();
            // In a repeated DST hour take the earliest reading that is valid.
            if earlier_60 == Some(1) {
                micros -= 3_600_000_000;
            } else if earlier_30 == Some(1) {
                micros -= 1_800_000_000;
            }
            if micros < earliest {
                earliest = micros;
                held_by = Some((thread_id, "transaction"));
            }
        }
        let precise = seen == Visibility::Milliseconds;
        let query = if precise {
            sql::RUNNING_WRITERS_MS
        } else {
            sql::RUNNING_WRITERS
        };
        let running: Vec<mysql::Row> = conn.query(query)?;
        for mut r in running {
            let thread_id: u64 = take(&mut r, 0).map_err(internal)?;
            let age: Option<i64> = take(&mut r, 1).map_err(internal)?;
            let age = age.unwrap_or(0).max(0);
            // TIME_MS is rounded up here; TIME is whole seconds rounded down,
            // so the start may be up to a second earlier than it says.
            let age_micros = if precise {
                (age + 1) * 1_000
            } else {
                (age + 1) * 1_000_000
            };
            let micros = now.to_unix_micros() - age_micros;
            if micros < earliest {
                earliest = micros;
                held_by = Some((thread_id, "statement"));
            }
        }
    }
    let now_micros = now.to_unix_micros();
    let at = UtcTime::from_unix_micros(earliest - settle.as_micros() as i64);
    Ok(Horizon {
        at,
        held_by: held_by.map(|(thread_id, what)| Holder {
            thread_id,
            what,
            age: Duration::from_micros((now_micros - earliest).max(0) as u64),
        }),
    })
}
