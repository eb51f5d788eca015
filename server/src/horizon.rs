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
//!
//! INNODB_TRX is served from a cache that InnoDB rebuilds only when nobody
//! has read it for 100 ms: polled faster, it freezes and can hide a
//! transaction opened since. So one [`Keeper`] per server reads it at most
//! every [`REFRESH`], shares the result with the requests in between, and
//! proves each reading fresh by finding its own marked transaction in it.
//! Any horizon once valid stays valid (every transaction that could still
//! commit a row older than it was open, hence listed, when it was read), so
//! sharing an older one, or keeping it while readings are stale, only makes
//! rows wait longer.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

use dbdump_shared::since::UtcTime;
use dbdump_shared::sql::take;
use dbdump_shared::{debug, warn};

use crate::error::ApiError;
use crate::sql;

/// InnoDB's INNODB_TRX cache idle time (100 ms) plus a margin.
pub const REFRESH: Duration = Duration::from_millis(110);
/// Readings tried before a request settles for the last fresh horizon (the
/// start-up probe's reading is the first). Retries wait REFRESH plus a
/// random part, so that two servers polling one source fall out of step.
const TRIES: u32 = 8;
/// Readings the start-up probe tries before it concludes that the source
/// does not list read-only transactions (a few seconds at most).
const PROBE_TRIES: u32 = 6;
const JITTER_MS: u64 = 800;
/// After a round of stale readings, requests take the last fresh horizon
/// without reading for this long.
const STALE_PAUSE: Duration = Duration::from_secs(1);
/// At most one "stale" warning per this long.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// What (if anything) held the horizon back from "now - settle".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub thread_id: u64,
    pub what: &'static str,
    /// How long before the source's current time it started.
    pub age: Duration,
    /// Who it is, for the log: `user@host, command, state[, rows modified]`.
    pub who: String,
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

/// Computes horizons for one server: serialised, spaced, verified.
pub struct Keeper {
    settle: Duration,
    seen: Visibility,
    /// Whether the source has listed this session's read-only transaction,
    /// which is what proves a reading fresh. Until it does (a server that
    /// never lists them, or one frozen by another reader since start-up),
    /// readings are only spaced.
    verified: AtomicBool,
    nonce: AtomicU64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The newest fresh horizon and when its reading began.
    last: Option<(Instant, Horizon)>,
    /// When INNODB_TRX was last read by us.
    last_read: Option<Instant>,
    /// When a round of readings last ended stale.
    stale_at: Option<Instant>,
    last_warning: Option<Instant>,
}

impl Keeper {
    /// Probes what the account can see, and whether readings can be proved
    /// fresh (tried a few times: another reader may be freezing the cache).
    pub fn new(conn: &mut impl Queryable, settle: Duration) -> Keeper {
        let seen = probe(conn);
        let mut keeper = Keeper {
            settle,
            seen,
            verified: AtomicBool::new(false),
            nonce: AtomicU64::new(1),
            state: Mutex::new(State::default()),
        };
        if seen != Visibility::SettleOnly {
            let mut state = State::default();
            (0..PROBE_TRIES).any(|i| {
                if i > 0 {
                    std::thread::sleep(keeper.retry_wait(i));
                }
                let began = Instant::now();
                let reading = keeper.read(conn);
                state.last_read = Some(Instant::now());
                if let Ok(Some(horizon)) = reading {
                    state.last = Some((began, horizon));
                }
                keeper.verified()
            });
            // The probe's reading counts: the next one waits REFRESH for it.
            keeper.state = Mutex::new(state);
        }
        keeper
    }

    pub fn visibility(&self) -> Visibility {
        self.seen
    }

    pub fn verified(&self) -> bool {
        self.verified.load(Ordering::Relaxed)
    }

    /// The horizon for a request starting now.
    pub fn current(&self, conn: &mut impl Queryable) -> Result<Horizon, ApiError> {
        if self.seen == Visibility::SettleOnly {
            let reading = self.read(conn)?;
            return reading
                .ok_or_else(|| ApiError::Internal("settle-only reading was stale".into()));
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((began, horizon)) = &state.last {
            if began.elapsed() < REFRESH {
                return Ok(horizon.clone());
            }
        }
        // Right after a round of stale readings, do not queue up more.
        let recently_stale = state.stale_at.is_some_and(|t| t.elapsed() < STALE_PAUSE);
        let tries = if recently_stale { 0 } else { TRIES };
        for i in 0..tries {
            if let Some(read) = state.last_read {
                let wait = if i == 0 { REFRESH } else { self.retry_wait(i) };
                std::thread::sleep(wait.saturating_sub(read.elapsed()));
            }
            let began = Instant::now();
            let reading = self.read(conn);
            state.last_read = Some(Instant::now());
            if let Some(horizon) = reading? {
                state.last = Some((began, horizon.clone()));
                state.stale_at = None;
                return Ok(horizon);
            }
            debug!("INNODB_TRX reading {} was stale", i + 1);
        }
        if tries > 0 {
            state.stale_at = Some(Instant::now());
            if state.last_warning.is_none_or(|w| w.elapsed() > WARN_EVERY) {
                state.last_warning = Some(Instant::now());
                let age = match &state.last {
                    Some((t, _)) => format!("{:.1}s old", t.elapsed().as_secs_f64()),
                    None => "none yet".into(),
                };
                warn!(
                    "information_schema.INNODB_TRX did not refresh in {tries} readings: another session reads it \
                     more often than every 0.1 s, which freezes InnoDB's copy; rows wait on the last fresh \
                     horizon ({age}) until it refreshes"
                );
            }
        }
        match &state.last {
            Some((_, horizon)) => Ok(horizon.clone()),
            None => Err(ApiError::SourceUnavailable(
                "the source's transaction list (INNODB_TRX) is not refreshing; try again".into(),
            )),
        }
    }

    /// REFRESH plus a pseudo-random part that grows with the attempt (up to
    /// JITTER_MS): readers retrying in step would keep freezing the list for
    /// each other, since every stale read restarts InnoDB's 100 ms wait.
    fn retry_wait(&self, attempt: u32) -> Duration {
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as u64);
        let mut x = clock
            ^ self
                .nonce
                .load(Ordering::Relaxed)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 33;
        x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        x ^= x >> 33;
        let spread = (100u64 << attempt.min(4)).min(JITTER_MS);
        REFRESH + Duration::from_millis(x % spread)
    }

    /// One reading; `None` when INNODB_TRX was provably stale.
    fn read(&self, conn: &mut impl Queryable) -> Result<Option<Horizon>, ApiError> {
        let now = utc_now(conn)?;
        if self.seen == Visibility::SettleOnly {
            return Ok(Some(combine(now, Vec::new(), Vec::new(), self.settle)));
        }
        let marker = sql::horizon_marker(self.nonce.fetch_add(1, Ordering::Relaxed));
        // The marked read-only transaction that must show in the list.
        conn.query_drop(sql::START_CANARY)?;
        let listed = open_transactions(conn, &marker);
        let ended = conn.query_drop(sql::END_CANARY);
        if listed.is_err() || ended.is_err() {
            let _ = conn.query_drop(sql::ROLLBACK);
        }
        let (fresh, transactions) = listed?;
        ended?;
        if fresh {
            if !self.verified.swap(true, Ordering::Relaxed) {
                debug!("INNODB_TRX lists this session's transaction: readings are verified");
            }
        } else if self.verified() {
            return Ok(None);
        }
        let statements = running_statements(conn, now, self.seen)?;
        Ok(Some(combine(now, transactions, statements, self.settle)))
    }
}

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

fn utc_now(conn: &mut impl Queryable) -> Result<UtcTime, ApiError> {
    let mut rows: Vec<mysql::Row> = conn.query(sql::UTC_NOW)?;
    match rows.first_mut() {
        Some(r) => parse_utc(&take::<String>(r, 0).map_err(ApiError::Internal)?),
        None => Err(ApiError::Internal(
            "UTC_TIMESTAMP() returned nothing".into(),
        )),
    }
}

/// Other sessions' open transactions, and whether the list holds this
/// session's own row marked with `marker` (i.e. was built for this read).
fn open_transactions(
    conn: &mut impl Queryable,
    marker: &str,
) -> Result<(bool, Vec<Start>), ApiError> {
    let internal = ApiError::Internal;
    let rows: Vec<mysql::Row> = conn.query(sql::open_transactions(marker))?;
    let mut fresh = false;
    let mut out = Vec::new();
    for mut r in rows {
        let thread_id: u64 = take(&mut r, 0).map_err(internal)?;
        let started: Option<String> = take(&mut r, 1).map_err(internal)?;
        let earlier_60: Option<i64> = take(&mut r, 2).map_err(internal)?;
        let earlier_30: Option<i64> = take(&mut r, 3).map_err(internal)?;
        let who: Option<String> = take(&mut r, 4).map_err(internal)?;
        let mine: Option<i64> = take(&mut r, 5).map_err(internal)?;
        let own_query: Option<String> = take(&mut r, 6).map_err(internal)?;
        if mine == Some(1) {
            fresh |= own_query.is_some_and(|q| q.contains(marker));
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
    Ok((fresh, out))
}

/// Running statements that may write, with their start times.
fn running_statements(
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

/// The earliest of `now` and every start, minus `settle`.
fn combine(
    now: UtcTime,
    transactions: Vec<Start>,
    statements: Vec<Start>,
    settle: Duration,
) -> Horizon {
    let now_micros = now.to_unix_micros();
    let mut earliest = now_micros;
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

    #[test]
    fn the_earliest_start_wins_and_settle_comes_off() {
        let now = t("2026-01-01 10:00:10");
        let at = |s: &str| t(s).to_unix_micros();
        let h = combine(now, vec![], vec![], Duration::from_secs(1));
        assert_eq!(h.at.format(6), "2026-01-01 10:00:09.000000");
        assert!(h.held_by.is_none());

        let trx = vec![(7, at("2026-01-01 10:00:05"), "app@h".to_string())];
        let stmt = vec![(9, at("2026-01-01 10:00:02.5"), "etl@h".to_string())];
        let h = combine(now, trx, stmt, Duration::from_millis(500));
        assert_eq!(h.at.format(6), "2026-01-01 10:00:02.000000");
        let holder = h.held_by.unwrap();
        assert_eq!((holder.thread_id, holder.what), (9, "statement"));
        assert_eq!(holder.age, Duration::from_millis(7_500));
    }

    #[test]
    fn a_start_in_the_future_does_not_move_the_horizon_forward() {
        let now = t("2026-01-01 10:00:10");
        let trx = vec![(7, t("2026-01-01 10:00:11").to_unix_micros(), String::new())];
        let h = combine(now, trx, vec![], Duration::ZERO);
        assert_eq!(h.at, now);
        assert!(h.held_by.is_none());
    }
}
