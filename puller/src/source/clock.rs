//! The source database's clock as seen from here, for how far behind the
//! copy is: horizons are source times, and this host's clock may be off.
//! Each changes answer carries the source's time; the offset to the local
//! clock is kept from the latest one (until there is one, the local clock
//! stands in).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use dbdump_shared::since::UtcTime;

/// Source clock minus local clock, in microseconds.
static OFFSET_MICROS: AtomicI64 = AtomicI64::new(0);

fn local_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Notes the source's time `source_time` (UTC text), read just now.
pub fn observe(source_time: &str) {
    if let Ok(t) = UtcTime::parse(source_time) {
        OFFSET_MICROS.store(t.to_unix_micros() - local_micros(), Ordering::Relaxed);
    }
}

/// The source's time now, in Unix microseconds.
pub fn now_micros() -> i64 {
    local_micros() + OFFSET_MICROS.load(Ordering::Relaxed)
}

/// A horizon (UTC text) as Unix seconds.
pub fn unix_seconds(horizon: &str) -> Option<f64> {
    UtcTime::parse(horizon)
        .ok()
        .map(|t| t.to_unix_micros() as f64 / 1e6)
}

/// How far the source's clock is past `horizon` now, in seconds.
pub fn lag_seconds(horizon: &str) -> Option<f64> {
    let at = UtcTime::parse(horizon).ok()?.to_unix_micros();
    Some((now_micros() - at).max(0) as f64 / 1e6)
}

/// `complete to 2026-11-26 05:00:01 UTC, lag 1.2 s`: the freshness part of
/// a table's summary line.
pub fn freshness(horizon: &str) -> String {
    match lag_seconds(horizon) {
        Some(lag) => format!("complete to {horizon} UTC, lag {lag:.1} s"),
        None => format!("complete to {horizon} UTC"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_follows_the_source_clock() {
        let an_hour_ahead = UtcTime::from_unix_micros(local_micros() + 3_600_000_000).format(6);
        observe(&an_hour_ahead);
        let now = UtcTime::from_unix_micros(local_micros()).format(3);
        let lag = lag_seconds(&now).unwrap();
        assert!((3599.0..3601.0).contains(&lag), "{lag}");
        assert!(freshness(&now).starts_with(&format!("complete to {now} UTC, lag 36")));
        assert_eq!(unix_seconds("1970-01-01 00:00:01.5"), Some(1.5));
        assert_eq!(lag_seconds("garbage"), None);
        observe(&UtcTime::from_unix_micros(local_micros()).format(6));
    }
}
