//! The horizon of a DATETIME cursor. DATETIME values carry no zone: they
//! are the wall-clock times of the zone their application writes in
//! (`cursor_zone=`, UTC by default). The UTC horizon is converted to that
//! zone by the source database (`CONVERT_TZ`, its time zone tables), and held
//! back while the zone's clock is about to go back (daylight saving time
//! ending): a wall-clock time that will occur again must not be passed, or
//! rows written in its second occurrence would sort before what was sent.

use mysql::prelude::Queryable;
use mysql::Value;

use dbdump_shared::since::UtcTime;
use dbdump_shared::sql::take;

use crate::error::ApiError;
use crate::inspect::TableMeta;
use crate::sql;

/// How far ahead a clock going back is looked for: longer than any backward
/// jump of a time zone (an hour, at most two in today's rules).
const LOOKAHEAD_MICROS: i64 = 4 * 3600 * 1_000_000;
/// Instants probed per round while narrowing down when the clock goes back.
const PROBES: i64 = 15;
/// Longest zone name or offset taken.
const MAX_ZONE: usize = 64;

/// Zones whose wall clock is UTC's: no conversion, no time zone tables needed.
fn is_utc(zone: &str) -> bool {
    ["UTC", "Etc/UTC", "GMT", "Etc/GMT", "Z", "+00:00", "-00:00"]
        .iter()
        .any(|z| zone.eq_ignore_ascii_case(z))
}

/// The horizon of a stream over `t`, in its cursor's terms: `horizon`
/// itself (UTC) unless the cursor is a DATETIME written in another zone.
pub fn cursor_horizon(
    conn: &mut impl Queryable,
    t: &TableMeta,
    zone: Option<&str>,
    horizon: UtcTime,
) -> Result<UtcTime, ApiError> {
    let Some(zone) = zone.filter(|z| !is_utc(z)) else {
        return Ok(horizon);
    };
    if zone.len() > MAX_ZONE || zone.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "cursor_zone: not a time zone: {zone:?}"
        )));
    }
    // TIMESTAMPs hold instants, read in UTC: the zone they were written in
    // does not matter.
    if !t
        .cursor()
        .is_some_and(|c| c.data_type.eq_ignore_ascii_case("datetime"))
    {
        return Ok(horizon);
    }
    let at = horizon.to_unix_micros();
    let wall = wall_horizon(at, |instants| offsets(conn, zone, instants))?;
    Ok(UtcTime::from_unix_micros(wall))
}

/// The UTC offsets (seconds) of `zone` at `instants` (UTC microseconds).
fn offsets(conn: &mut impl Queryable, zone: &str, instants: &[i64]) -> Result<Vec<i64>, ApiError> {
    let mut params = Vec::with_capacity(instants.len() * 3);
    for &at in instants {
        let t = UtcTime::from_unix_micros(at);
        let value = Value::Date(t.year, t.month, t.day, t.hour, t.minute, t.second, t.micro);
        params.extend([value.clone(), value, Value::from(zone)]);
    }
    let mut rows: Vec<mysql::Row> = conn.exec(sql::zone_offsets(instants.len()), params)?;
    let Some(row) = rows.first_mut() else {
        return Err(ApiError::Internal("no time zone offsets returned".into()));
    };
    let mut out = Vec::with_capacity(instants.len());
    for i in 0..instants.len() {
        match take::<Option<i64>>(row, i).map_err(ApiError::Internal)? {
            Some(offset) => out.push(offset),
            None => {
                return Err(ApiError::BadRequest(format!(
                    "cursor_zone: the source database does not know the time zone `{zone}`: named \
                     zones need its time zone tables (load them with mariadb-tzinfo-to-sql \
                     /usr/share/zoneinfo | mariadb mysql); an offset such as +02:00 needs none but \
                     knows no daylight saving time"
                )))
            }
        }
    }
    Ok(out)
}

/// The latest wall-clock time (as microseconds of a UTC-like calendar) that
/// the zone's clock will not read again from the instant `at` on: its
/// reading at `at`, or, when the clock goes back within [`LOOKAHEAD_MICROS`],
/// the earliest reading after it goes back (to within a second, earlier
/// rather than later). `offsets` gives the zone's UTC offset in seconds at
/// each instant asked for.
pub fn wall_horizon<E>(
    at: i64,
    mut offsets: impl FnMut(&[i64]) -> Result<Vec<i64>, E>,
) -> Result<i64, E> {
    let seconds = |offset: i64| offset * 1_000_000;
    let first = offsets(&[at, at + LOOKAHEAD_MICROS])?;
    let now = first.first().copied().unwrap_or_default();
    let later = first.get(1).copied().unwrap_or(now);
    let wall = at + seconds(now);
    if later >= now {
        return Ok(wall);
    }
    // The clock goes back at some instant in (lo, hi]: narrow it down to a
    // second, probing evenly spaced instants of the interval each round.
    let (mut lo, mut hi, mut after) = (at, at + LOOKAHEAD_MICROS, later);
    while hi - lo > 1_000_000 {
        let step = ((hi - lo) / (PROBES + 1)).max(1);
        let probes: Vec<i64> = (1..=PROBES)
            .map(|i| lo + i * step)
            .filter(|&p| p < hi)
            .collect();
        let found = offsets(&probes)?;
        match probes.iter().zip(&found).position(|(_, &o)| o < now) {
            Some(i) => {
                (hi, after) = (probes[i], found[i]);
                lo = if i == 0 { lo } else { probes[i - 1] };
            }
            None => lo = probes.last().copied().unwrap_or(hi),
        }
    }
    // Until `lo` the clock reads at least `wall`; from then on no earlier
    // than `lo` read with the offset it goes back to.
    Ok(wall.min(lo + seconds(after)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        UtcTime::parse(s).unwrap().to_unix_micros()
    }

    fn wall(micros: i64) -> String {
        UtcTime::from_unix_micros(micros).format(6)
    }

    /// New York around the end of daylight saving time in 2025: EDT (-4 h)
    /// until 06:00 UTC on 2 November, EST (-5 h) after; 01:00-01:59 twice.
    fn new_york(instants: &[i64]) -> Result<Vec<i64>, String> {
        let end = at("2025-11-02 06:00:00");
        Ok(instants
            .iter()
            .map(|&t| if t < end { -4 * 3600 } else { -5 * 3600 })
            .collect())
    }

    fn horizon(utc: &str) -> String {
        wall(wall_horizon(at(utc), new_york).unwrap())
    }

    #[test]
    fn far_from_a_change_it_is_the_wall_clock_reading() {
        assert_eq!(
            horizon("2025-07-01 12:00:00.5"),
            "2025-07-01 08:00:00.500000"
        );
        assert_eq!(horizon("2025-11-02 00:30:00"), "2025-11-01 20:30:00.000000");
        // In the second 01:00-01:59 the clock goes forward again.
        assert_eq!(horizon("2025-11-02 06:10:00"), "2025-11-02 01:10:00.000000");
        assert_eq!(horizon("2025-11-02 07:00:00"), "2025-11-02 02:00:00.000000");
    }

    #[test]
    fn a_wall_clock_time_that_will_come_again_is_not_passed() {
        // 00:30 EDT: 01:00 is ahead, and comes again after 01:59 EDT.
        assert_eq!(horizon("2025-11-02 04:30:00"), "2025-11-02 00:30:00.000000");
        // From 01:00 EDT on the horizon stays just below 01:00 ...
        for utc in [
            "2025-11-02 05:00:00",
            "2025-11-02 05:30:00",
            "2025-11-02 05:59:59.999999",
        ] {
            let h = horizon(utc);
            assert!(
                ("2025-11-02 00:59:59".."2025-11-02 01:00:00").contains(&h.as_str()),
                "{utc}: {h}"
            );
        }
        // ... until the hour has been read the second time (EST).
        assert_eq!(horizon("2025-11-02 06:00:00"), "2025-11-02 01:00:00.000000");
    }

    #[test]
    fn fixed_offsets_and_spring_forward_change_nothing() {
        let plus_two = |xs: &[i64]| Ok::<_, String>(vec![7200; xs.len()]);
        let h = wall_horizon(at("2025-03-30 00:59:59"), plus_two).unwrap();
        assert_eq!(wall(h), "2025-03-30 02:59:59.000000");
        // New York, 9 March 2025: 02:00 EST becomes 03:00 EDT.
        let spring = |xs: &[i64]| {
            let start = at("2025-03-09 07:00:00");
            Ok::<_, String>(
                xs.iter()
                    .map(|&t| if t < start { -5 * 3600 } else { -4 * 3600 })
                    .collect(),
            )
        };
        let h = wall_horizon(at("2025-03-09 06:59:00"), spring).unwrap();
        assert_eq!(wall(h), "2025-03-09 01:59:00.000000");
    }

    #[test]
    fn a_few_rounds_find_the_change() {
        let mut calls = 0;
        let counted = |xs: &[i64]| {
            calls += 1;
            new_york(xs)
        };
        wall_horizon(at("2025-11-02 05:30:00"), counted).unwrap();
        assert!(calls <= 6, "{calls} queries");
    }

    #[test]
    fn utc_names_need_no_conversion() {
        for z in ["UTC", "utc", "Etc/UTC", "+00:00", "GMT"] {
            assert!(is_utc(z), "{z}");
        }
        assert!(!is_utc("Europe/London") && !is_utc("+01:00"));
    }
}
