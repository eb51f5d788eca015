//! What a cursor column's values mean, the same on both sides: DATETIME and
//! TIMESTAMP hold times; an integer holds Unix time in the unit the user
//! named (seconds or milliseconds: never guessed from the data); a
//! 14-character column holds `YYYYMMDDHHMMSS` in UTC (MediaWiki's form).
//! The server binds the horizon and `since` in the column's own terms, and
//! the puller reads its resume point back into a time, with these
//! conversions. A value that is no time (NULL, 0 or less, past the year
//! 9999, not 14 digits of a date) sorts outside [`CursorKind::bounds`] and
//! is treated as a NULL cursor: it arrives with a full copy and with
//! `--verify`, never with the incremental passes.

use mysql::Value;

use crate::since::UtcTime;

/// The last second a cursor value may stand for: 9999-12-31 23:59:59 UTC.
const LAST_SECOND: i64 = 253_402_300_799;

/// The unit of an integer cursor, given with `cursor_unit` (`-t
/// table.column:s` or `:ms` on the puller).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Unix seconds (Moodle's `timemodified`, Zabbix's `clock`).
    Seconds,
    /// Unix milliseconds (Mattermost's `UpdateAt`).
    Millis,
}

impl Unit {
    pub fn parse(text: &str) -> Option<Unit> {
        match text {
            "s" => Some(Unit::Seconds),
            "ms" => Some(Unit::Millis),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Unit::Seconds => "s",
            Unit::Millis => "ms",
        }
    }

    fn per_second(self) -> i64 {
        match self {
            Unit::Seconds => 1,
            Unit::Millis => 1000,
        }
    }
}

/// How a cursor column holds points in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CursorKind {
    /// DATETIME or TIMESTAMP of any precision.
    Temporal,
    /// An integer column of Unix time.
    Unix(Unit),
    /// CHAR, VARCHAR, BINARY or VARBINARY of 14: `YYYYMMDDHHMMSS`, UTC.
    Digits14,
}

impl CursorKind {
    /// What the listing calls it: `datetime`, `unix` or `yyyymmddhhmmss`.
    pub fn family(self) -> &'static str {
        match self {
            CursorKind::Temporal => "datetime",
            CursorKind::Unix(_) => "unix",
            CursorKind::Digits14 => "yyyymmddhhmmss",
        }
    }

    /// Fractional second digits of a value (a temporal column's own
    /// precision is `declared`).
    pub fn fsp(self, declared: u8) -> u8 {
        match self {
            CursorKind::Temporal => declared.min(6),
            CursorKind::Unix(Unit::Seconds) | CursorKind::Digits14 => 0,
            CursorKind::Unix(Unit::Millis) => 3,
        }
    }

    /// The column value that stands for `t`, rounded down to the unit.
    pub fn value_of(self, t: UtcTime) -> Value {
        match self {
            CursorKind::Temporal => {
                Value::Date(t.year, t.month, t.day, t.hour, t.minute, t.second, t.micro)
            }
            CursorKind::Unix(unit) => {
                let micros = t.to_unix_micros();
                let per = 1_000_000 / unit.per_second();
                Value::Int(micros.div_euclid(per))
            }
            CursorKind::Digits14 => Value::Bytes(
                format!(
                    "{:04}{:02}{:02}{:02}{:02}{:02}",
                    t.year, t.month, t.day, t.hour, t.minute, t.second
                )
                .into_bytes(),
            ),
        }
    }

    /// The least and greatest values that are times, for a SQL range that
    /// leaves out the ones that are not (none for temporal columns, whose
    /// values all are).
    pub fn bounds(self) -> Option<(Value, Value)> {
        match self {
            CursorKind::Temporal => None,
            CursorKind::Unix(unit) => Some((
                Value::Int(1),
                Value::Int((LAST_SECOND + 1) * unit.per_second() - 1),
            )),
            CursorKind::Digits14 => Some((
                Value::Bytes(b"00000101000000".to_vec()),
                Value::Bytes(b"99991231235959".to_vec()),
            )),
        }
    }

    /// The time `v` stands for, or `None` when it is no time.
    pub fn time_of(self, v: &Value) -> Option<UtcTime> {
        match (self, v) {
            (CursorKind::Temporal, Value::Date(y, mo, d, h, mi, s, us)) => {
                Some(UtcTime::from_parts(*y, *mo, *d, *h, *mi, *s, *us))
            }
            (CursorKind::Unix(unit), Value::Int(_) | Value::UInt(_) | Value::Bytes(_)) => {
                let n = match v {
                    Value::Int(n) => *n,
                    Value::UInt(n) => i64::try_from(*n).ok()?,
                    Value::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok()?,
                    _ => return None,
                };
                let per = unit.per_second();
                if n < 1 || n > (LAST_SECOND + 1) * per - 1 {
                    return None;
                }
                Some(UtcTime::from_unix_micros(n * (1_000_000 / per)))
            }
            (CursorKind::Digits14, Value::Bytes(b)) => digits14(b),
            _ => None,
        }
    }
}

/// `YYYYMMDDHHMMSS` as a time, if it is 14 digits of a valid one.
fn digits14(b: &[u8]) -> Option<UtcTime> {
    if b.len() != 14 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let text = std::str::from_utf8(b).ok()?;
    let iso = format!(
        "{}-{}-{} {}:{}:{}",
        &text[0..4],
        &text[4..6],
        &text[6..8],
        &text[8..10],
        &text[10..12],
        &text[12..14]
    );
    UtcTime::parse(&iso).ok().filter(|t| !t.is_zero())
}

/// The cursor kind of a column that could be one, from its data type and
/// full type as `information_schema.COLUMNS` prints them (`bigint`,
/// `bigint(20) unsigned`; `binary`, `binary(14)`), with the unit an integer
/// needs; `Err` says why it cannot be a cursor.
pub fn kind_of(
    data_type: &str,
    column_type: &str,
    unit: Option<Unit>,
) -> Result<CursorKind, String> {
    let data_type = data_type.to_ascii_lowercase();
    let column_type = column_type.to_ascii_lowercase();
    let kind = match data_type.as_str() {
        "datetime" | "timestamp" => CursorKind::Temporal,
        "int" | "integer" | "bigint" => match unit {
            Some(u) => CursorKind::Unix(u),
            None => {
                return Err(format!(
                    "{column_type} holds Unix time in seconds or milliseconds: name the unit \
                     (cursor_unit=s or ms; dbd_puller: -t table.column:s or :ms)"
                ))
            }
        },
        "char" | "varchar" | "binary" | "varbinary" if column_type.contains("(14)") => {
            CursorKind::Digits14
        }
        _ => {
            return Err(format!(
                "{column_type} is not DATETIME, TIMESTAMP, an INT or BIGINT of Unix time, \
                 or a 14-character YYYYMMDDHHMMSS column"
            ))
        }
    };
    if unit.is_some() && !matches!(kind, CursorKind::Unix(_)) {
        return Err(format!(
            "{column_type} holds times of its own: a unit (cursor_unit) is only for INT and BIGINT columns"
        ));
    }
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> UtcTime {
        UtcTime::parse(s).unwrap()
    }

    #[test]
    fn integers_are_unix_time_in_their_unit() {
        let s = CursorKind::Unix(Unit::Seconds);
        let ms = CursorKind::Unix(Unit::Millis);
        assert_eq!(
            s.value_of(t("2026-12-03 01:45:01.999")),
            Value::Int(1_796_262_301)
        );
        assert_eq!(
            ms.value_of(t("2026-12-03 01:45:01.9996")),
            Value::Int(1_796_262_301_999)
        );
        assert_eq!(
            s.time_of(&Value::Int(1_796_262_301)),
            Some(t("2026-12-03 01:45:01"))
        );
        assert_eq!(
            ms.time_of(&Value::UInt(1_796_262_301_250)),
            Some(t("2026-12-03 01:45:01.25"))
        );
        assert_eq!(
            s.time_of(&Value::Bytes(b"1796262301".to_vec())),
            Some(t("2026-12-03 01:45:01"))
        );
        for none in [
            Value::NULL,
            Value::Int(0),
            Value::Int(-5),
            Value::Int(LAST_SECOND + 1),
        ] {
            assert_eq!(s.time_of(&none), None, "{none:?}");
        }
        assert_eq!(s.fsp(6), 0);
        assert_eq!(ms.fsp(0), 3);
        let (lo, hi) = ms.bounds().unwrap();
        assert_eq!((lo, hi), (Value::Int(1), Value::Int(253_402_300_799_999)));
        assert_eq!(
            ms.time_of(&Value::Int(253_402_300_799_999)).unwrap().year,
            9999
        );
    }

    #[test]
    fn fourteen_digits_are_a_utc_time() {
        let k = CursorKind::Digits14;
        assert_eq!(
            k.value_of(t("2026-12-03 01:45:01.5")),
            Value::Bytes(b"20261203014501".to_vec())
        );
        assert_eq!(
            k.time_of(&Value::Bytes(b"20261203014501".to_vec())),
            Some(t("2026-12-03 01:45:01"))
        );
        for none in [
            "",
            "0",
            "00000000000000",
            "2026120301450",
            "20261301000000",
            "infinity",
            "2026-12-03 01:4",
        ] {
            assert_eq!(
                k.time_of(&Value::Bytes(none.as_bytes().to_vec())),
                None,
                "{none:?}"
            );
        }
        let (lo, hi) = k.bounds().unwrap();
        assert!(Value::Bytes(b"00000000000000".to_vec()).as_sql(false) < lo.as_sql(false));
        assert!(Value::Bytes(b"infinity".to_vec()).as_sql(false) > hi.as_sql(false));
    }

    #[test]
    fn kinds_come_from_the_declared_type_and_the_unit_given() {
        assert_eq!(
            kind_of("datetime", "datetime(6)", None),
            Ok(CursorKind::Temporal)
        );
        assert_eq!(
            kind_of("bigint", "bigint(20) unsigned", Some(Unit::Millis)),
            Ok(CursorKind::Unix(Unit::Millis))
        );
        assert_eq!(
            kind_of("binary", "binary(14)", None),
            Ok(CursorKind::Digits14)
        );
        assert_eq!(
            kind_of("VARCHAR", "varchar(14)", None),
            Ok(CursorKind::Digits14)
        );
        let e = kind_of("int", "int(11)", None).unwrap_err();
        assert!(
            e.contains("name the unit") && e.contains(":s or :ms"),
            "{e}"
        );
        let e = kind_of("datetime", "datetime", Some(Unit::Seconds)).unwrap_err();
        assert!(e.contains("only for INT and BIGINT"), "{e}");
        for (dt, ct) in [
            ("varchar", "varchar(20)"),
            ("smallint", "smallint(6)"),
            ("double", "double"),
        ] {
            assert!(kind_of(dt, ct, Some(Unit::Seconds)).is_err(), "{ct}");
        }
        assert_eq!(Unit::parse("ms"), Some(Unit::Millis));
        assert_eq!(Unit::parse("sec"), None);
    }
}
