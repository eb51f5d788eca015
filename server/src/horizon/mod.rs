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
//! INNODB_TRX is served from a copy that InnoDB rebuilds only when nobody
//! has read it for 100 ms: polled faster, it freezes and can hide a
//! transaction opened since. So one [`Keeper`] per server reads it at most
//! every [`REFRESH`] and shares the result with the requests in between, and
//! each reading runs inside a read-only transaction whose statement carries
//! the source's clock: any such marked transaction found in the list (this
//! reading's or another dbd_server's) proves the copy was built after that
//! time, and the reading is worth what that time is. Any horizon once valid
//! stays valid (every transaction that could still commit a row older than
//! it was open, hence listed, when it was read), so sharing an older one, or
//! keeping it while readings are stale, only makes rows wait longer.
//!
//! One reading is `reading`'s business; the horizon of a DATETIME cursor
//! written on an application's wall clock is `wallclock`'s. Uses `error`
//! and `sql` (and `inspect` for a cursor's column).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

use dbdump_shared::since::UtcTime;
use dbdump_shared::{debug, warn};

use crate::error::ApiError;
use crate::sql;

pub mod reading;
pub mod wallclock;

use reading::{combine, open_transactions, probe, running_statements, utc_now};

/// InnoDB's INNODB_TRX copy idle time (100 ms) plus a margin.
pub const REFRESH: Duration = Duration::from_millis(110);
/// A reading dated this much before its own start still counts as fresh:
/// another dbd_server's reading, at most ~REFRESH earlier, built the copy.
const FRESH_LAG: Duration = Duration::from_millis(150);
/// Readings tried, within RETRY_BUDGET, before a request settles for the
/// newest horizon it has. Retries wait REFRESH plus a random part, so that
/// readers retrying in step fall out of it.
const TRIES: u32 = 8;
const RETRY_BUDGET: Duration = Duration::from_secs(2);
const JITTER_MS: u64 = 800;
/// Readings the start-up probe tries before it concludes that the source
/// does not list read-only transactions (a few seconds at most).
const PROBE_TRIES: u32 = 6;
/// After a round without a fresh reading, requests take the newest horizon
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

/// Computes horizons for one server: serialised, spaced, dated.
pub struct Keeper {
    settle: Duration,
    seen: Visibility,
    /// Whether the source has listed a marked read-only transaction, which
    /// is what dates a reading. Until it does (a server that never lists
    /// them, or one frozen by another reader since start-up), readings are
    /// only spaced and taken as fresh.
    verified: AtomicBool,
    /// Seeds the retry jitter.
    draws: AtomicU64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The newest horizon and the moment (here) its reading is dated at.
    last: Option<(Instant, Horizon)>,
    /// When INNODB_TRX was last read by us.
    last_read: Option<Instant>,
    /// When a round of readings last found nothing fresh.
    stale_at: Option<Instant>,
    last_warning: Option<Instant>,
}

/// One reading: its horizon, and how much older than the reading's own
/// start the list it saw is known to be at most.
struct Reading {
    horizon: Horizon,
    lag: Duration,
}

impl Keeper {
    /// Probes what the account can see, and whether readings can be dated
    /// (tried a few times: another reader may be freezing the list).
    pub fn new(conn: &mut impl Queryable, settle: Duration) -> Keeper {
        let keeper = Keeper {
            settle,
            seen: probe(conn),
            verified: AtomicBool::new(false),
            draws: AtomicU64::new(1),
            state: Mutex::new(State::default()),
        };
        if keeper.seen != Visibility::SettleOnly {
            let mut state = State::default();
            for i in 0..PROBE_TRIES {
                if i > 0 {
                    std::thread::sleep(keeper.retry_wait(i));
                }
                let began = Instant::now();
                let reading = keeper.read(conn);
                state.last_read = Some(Instant::now());
                if let Ok(Some(r)) = reading {
                    let fresh = r.lag <= FRESH_LAG;
                    state.last = Some((began.checked_sub(r.lag).unwrap_or(began), r.horizon));
                    if keeper.verified() && fresh {
                        break;
                    }
                }
            }
            // The probe's reading counts: the next one waits REFRESH for it.
            *keeper.state.lock().unwrap_or_else(|p| p.into_inner()) = state;
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
                .map(|r| r.horizon)
                .ok_or_else(|| ApiError::Internal("settle-only reading was stale".into()));
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, horizon)) = &state.last {
            if at.elapsed() < REFRESH {
                return Ok(horizon.clone());
            }
        }
        let recently_stale = state.stale_at.is_some_and(|t| t.elapsed() < STALE_PAUSE);
        let tries = if recently_stale { 0 } else { TRIES };
        let round = Instant::now();
        for i in 0..tries {
            if i > 0 && round.elapsed() > RETRY_BUDGET {
                break;
            }
            if let Some(read) = state.last_read {
                let wait = if i == 0 { REFRESH } else { self.retry_wait(i) };
                std::thread::sleep(wait.saturating_sub(read.elapsed()));
            }
            let began = Instant::now();
            let reading = self.read(conn);
            state.last_read = Some(Instant::now());
            let Some(r) = reading? else {
                debug!("INNODB_TRX reading {} was stale", i + 1);
                continue;
            };
            let at = began.checked_sub(r.lag).unwrap_or(began);
            if r.lag <= FRESH_LAG {
                // Fresh: it wins even if a transaction listed now puts it
                // before the last one (both are valid; this one is current).
                state.last = Some((at, r.horizon.clone()));
                state.stale_at = None;
                return Ok(r.horizon);
            }
            // Dated but old (a list frozen since an earlier reading): still
            // valid, kept if it is ahead of what we have.
            let ahead = state
                .last
                .as_ref()
                .is_none_or(|(_, h)| r.horizon.at.to_unix_micros() > h.at.to_unix_micros());
            if ahead {
                state.last = Some((at, r.horizon));
            }
            debug!(
                "INNODB_TRX reading {} was {:.1}s old",
                i + 1,
                r.lag.as_secs_f64()
            );
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
                    "information_schema.INNODB_TRX did not refresh in {:.1}s of readings: another session reads \
                     it more often than every 0.1 s, which freezes InnoDB's copy; rows wait on the newest dated \
                     horizon ({age}) until it refreshes",
                    round.elapsed().as_secs_f64()
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
        let draw = self.draws.fetch_add(1, Ordering::Relaxed);
        let mut x = clock ^ draw.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 33;
        x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        x ^= x >> 33;
        let spread = (100u64 << attempt.min(4)).min(JITTER_MS);
        REFRESH + Duration::from_millis(x % spread)
    }

    /// One reading; `None` when INNODB_TRX held no marked transaction at
    /// all, so that nothing dates it (once the source is known to list them).
    fn read(&self, conn: &mut impl Queryable) -> Result<Option<Reading>, ApiError> {
        let now = utc_now(conn)?;
        let now_micros = now.to_unix_micros();
        if self.seen == Visibility::SettleOnly {
            let horizon = combine(now, now_micros, Vec::new(), Vec::new(), self.settle);
            return Ok(Some(Reading {
                horizon,
                lag: Duration::ZERO,
            }));
        }
        // The marked read-only transaction that dates the list.
        conn.query_drop(sql::START_CANARY)?;
        let listed = open_transactions(conn, &sql::horizon_marker(now_micros));
        let ended = conn.query_drop(sql::END_CANARY);
        if listed.is_err() || ended.is_err() {
            let _ = conn.query_drop(sql::ROLLBACK);
        }
        let (dated, transactions) = listed?;
        ended?;
        let as_of = match dated {
            Some(at) => {
                if !self.verified.swap(true, Ordering::Relaxed) {
                    debug!("INNODB_TRX lists marked read-only transactions: readings are dated");
                }
                at.min(now_micros)
            }
            None if self.verified() => return Ok(None),
            None => now_micros,
        };
        let statements = running_statements(conn, now, self.seen)?;
        Ok(Some(Reading {
            horizon: combine(now, as_of, transactions, statements, self.settle),
            lag: Duration::from_micros((now_micros - as_of).max(0) as u64),
        }))
    }
}
