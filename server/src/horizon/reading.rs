//! One reading of what holds the horizon back, in the source's own words:
//! its clock, other sessions' open read-write transactions (INNODB_TRX, with
//! the marked read-only transactions that date the list) and running
//! statements that may write (PROCESSLIST), combined into a horizon. The
//! [`Keeper`](super::Keeper) decides when to read and which reading to trust.

use std::time::Duration;

use mysql::prelude::Queryable;

use dbdump_shared::since::UtcTime;
use dbdump_shared::sql::take;

use crate::error::ApiError;
use crate::horizon::{Holder, Horizon, Visibility};
use crate::sql;

/// Can this account see other sessions' transactions, and how precisely
/// does PROCESSLIST time statements?
pub fn probe(conn: &mut impl Queryable) -> Visibility {
    if conn.query_drop(sql::PROBE_TRANSACTIONS).is_err() {
        return Visibility::SettleOnly;
    }
    match conn.query_first::<u64, _>(sql::PROBE_TIME_MS) {
        Ok(Some(n)) if n > 0 => Visibility::Milliseconds,
        _ => Visibility::Seconds,
    }
}

/// A session holding the horizon back: thread, start (UTC micros), who.
type Start = (u64, i64, String);

fn parse_utc(text: &str) -> Result<UtcTime, ApiError> {
    UtcTime::parse(text)
        .map_err(|e| ApiError::Internal(format!("source returned an unreadable time: {e}")))
}

pub fn utc_now(conn: &mut impl Queryable) -> Result<UtcTime, ApiError> {
    let mut rows: Vec<mysql::Row> = conn.query(sql::UTC_NOW)?;
    match rows.first_mut() {
        Some(r) => parse_utc(&take::<String>(r, 0).map_err(ApiError::Internal)?),
        None => Err(ApiError::Internal(
            "UTC_TIMESTAMP() returned nothing".into(),
        )),
    }
}

/// Other sessions' open transactions, and the newest time a marked
/// reading in the list carries (the list was built after it).
pub fn open_transactions(
    conn: &mut impl Queryable,
    marker: &str,
) -> Result<(Option<i64>, Vec<Start>), ApiError> {
    let internal = ApiError::Internal;
    let rows: Vec<mysql::Row> = conn.query(sql::open_transactions(marker))?;
    let mut dated: Option<i64> = None;
    let mut out = Vec::new();
    for mut r in rows {
        let thread_id: u64 = take(&mut r, 0).map_err(internal)?;
        let started: Option<String> = take(&mut r, 1).map_err(internal)?;
        let earlier_60: Option<i64> = take(&mut r, 2).map_err(internal)?;
        let earlier_30: Option<i64> = take(&mut r, 3).map_err(internal)?;
        let who: Option<String> = take(&mut r, 4).map_err(internal)?;
        let canary: Option<String> = take(&mut r, 5).map_err(internal)?;
        if let Some(canary) = canary {
            // A reading's read-only transaction: it dates, never holds.
            if let Some(at) = sql::marker_time(&canary) {
                dated = Some(dated.map_or(at, |d| d.max(at)));
            }
            continue;
        }
        let Some(started) = started else { continue };
        let mut micros = parse_utc(&started)?.to_unix_micros();
        // In a repeated DST hour take the earliest reading that is valid.
        if earlier_60 == Some(1) {
            micros -= 3_600_000_000;
        } else if earlier_30 == Some(1) {
            micros -= 1_800_000_000;
        }
        out.push((thread_id, micros, who.unwrap_or_default()));
    }
    Ok((dated, out))
}

/// Running statements that may write, with their start times.
pub fn running_statements(
    conn: &mut impl Queryable,
    now: UtcTime,
    seen: Visibility,
) -> Result<Vec<Start>, ApiError> {
    let internal = ApiError::Internal;
    let precise = seen == Visibility::Milliseconds;
    let query = if precise {
        sql::RUNNING_WRITERS_MS
    } else {
        sql::RUNNING_WRITERS
    };
    let rows: Vec<mysql::Row> = conn.query(query)?;
    let mut out = Vec::new();
    for mut r in rows {
        let thread_id: u64 = take(&mut r, 0).map_err(internal)?;
        let age: Option<i64> = take(&mut r, 1).map_err(internal)?;
        let who: Option<String> = take(&mut r, 2).map_err(internal)?;
        let age = age.unwrap_or(0).max(0);
        // TIME_MS is rounded up here; TIME is whole seconds rounded down,
        // so the start may be up to a second earlier than it says.
        let age_micros = if precise {
            (age + 1) * 1_000
        } else {
            (age + 1) * 1_000_000
        };
        let start = now.to_unix_micros() - age_micros;
        out.push((thread_id, start, who.unwrap_or_default()));
    }
    Ok(out)
}

/// The earliest of `as_of` (the time the transaction list is known to be
/// current at, at most `now`) and every start, minus `settle`. Holders'
/// ages are told from `now`.
pub fn combine(
    now: UtcTime,
    as_of: i64,
    transactions: Vec<Start>,
    statements: Vec<Start>,
    settle: Duration,
) -> Horizon {
    let now_micros = now.to_unix_micros();
    let mut earliest = as_of.min(now_micros);
    let mut held_by = None;
    let tagged = transactions
        .into_iter()
        .map(|s| ("transaction", s))
        .chain(statements.into_iter().map(|s| ("statement", s)));
    for (what, (thread_id, start, who)) in tagged {
        if start < earliest {
            earliest = start;
            held_by = Some(Holder {
                thread_id,
                what,
                age: Duration::from_micros((now_micros - start).max(0) as u64),
                who,
            });
        }
    }
    Horizon {
        at: UtcTime::from_unix_micros(earliest - settle.as_micros() as i64),
        held_by,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> UtcTime {
        UtcTime::parse(s).unwrap()
    }

    fn at(s: &str) -> i64 {
        t(s).to_unix_micros()
    }

    #[test]
    fn the_earliest_start_wins_and_settle_comes_off() {
        let now = t("2026-01-01 10:00:10");
        let h = combine(
            now,
            at("2026-01-01 10:00:10"),
            vec![],
            vec![],
            Duration::from_secs(1),
        );
        assert_eq!(h.at.format(6), "2026-01-01 10:00:09.000000");
        assert!(h.held_by.is_none());

        let trx = vec![(7, at("2026-01-01 10:00:05"), "app@h".to_string())];
        let stmt = vec![(9, at("2026-01-01 10:00:02.5"), "etl@h".to_string())];
        let h = combine(
            now,
            now.to_unix_micros(),
            trx,
            stmt,
            Duration::from_millis(500),
        );
        assert_eq!(h.at.format(6), "2026-01-01 10:00:02.000000");
        let holder = h.held_by.unwrap();
        assert_eq!((holder.thread_id, holder.what), (9, "statement"));
        assert_eq!(holder.age, Duration::from_millis(7_500));
    }

    #[test]
    fn a_list_dated_earlier_caps_the_horizon_there() {
        // The list was built by a reading that started 0.1 s earlier: a
        // transaction opened since is not in it, so "now" cannot be used.
        let now = t("2026-01-01 10:00:10");
        let h = combine(
            now,
            at("2026-01-01 10:00:09.9"),
            vec![],
            vec![],
            Duration::ZERO,
        );
        assert_eq!(h.at.format(6), "2026-01-01 10:00:09.900000");
        // A marker newer than this reading's own clock changes nothing.
        let h = combine(
            now,
            at("2026-01-01 10:00:11"),
            vec![],
            vec![],
            Duration::ZERO,
        );
        assert_eq!(h.at, now);
    }

    #[test]
    fn a_start_in_the_future_does_not_move_the_horizon_forward() {
        let now = t("2026-01-01 10:00:10");
        let trx = vec![(7, at("2026-01-01 10:00:11"), String::new())];
        let h = combine(now, now.to_unix_micros(), trx, vec![], Duration::ZERO);
        assert_eq!(h.at, now);
        assert!(h.held_by.is_none());
    }
}
