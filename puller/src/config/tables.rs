//! The entries of `-t` (`table`, `table.column`, `table.column:s` or `:ms`
//! for an integer cursor of Unix time, `*`, `*.column`) and
//! `--app-time-zone`, checked as flags: what the user named, before any
//! server is asked. `pass::tables` resolves them against the listing.

use dbdump_shared::cli::CliError;
use dbdump_shared::cursor::{CursorKind, Unit};

/// One entry of `-t`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    /// `None` for `*`: every table the server lists.
    pub table: Option<String>,
    /// The column after the first dot: the table's cursor.
    pub cursor: Option<String>,
    /// After `:`, the unit of an integer cursor: `s` or `ms`.
    pub unit: Option<Unit>,
}

/// A cursor named with `-t table.column[:unit]`, with how its values hold
/// time (from the server's listing; temporal when it does not list it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    pub column: String,
    pub unit: Option<Unit>,
    pub kind: CursorKind,
}

/// Splits `column:s` or `column:ms` into the column and its unit; any other
/// column stays whole (a name may hold a `:`).
fn with_unit(column: &str) -> (&str, Option<Unit>) {
    match column.rsplit_once(':') {
        Some((name, unit)) if !name.is_empty() => match Unit::parse(unit) {
            Some(u) => (name, Some(u)),
            None => (column, None),
        },
        _ => (column, None),
    }
}

/// Parses `-t`: comma-separated `table`, `table.column` (split at the first
/// dot, as `-x` does) with an optional `:s` or `:ms`, `*` or `*.column`.
pub fn parse(list: &str) -> Result<Vec<Choice>, CliError> {
    let choices = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let (table, cursor) = match item.split_once('.') {
                Some((t, c)) => (t, Some(c)),
                None => (item, None),
            };
            if table.is_empty() || cursor.is_some_and(str::is_empty) {
                return Err(CliError(format!(
                    "--tables entry {item:?} is not table, table.column[:s|:ms], * or *.column"
                )));
            }
            let (cursor, unit) = match cursor.map(with_unit) {
                Some((c, u)) => (Some(c), u),
                None => (None, None),
            };
            Ok(Choice {
                table: (table != "*").then(|| table.to_string()),
                cursor: cursor.map(str::to_string),
                unit,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if choices.is_empty() {
        return Err(CliError("--tables names no table".into()));
    }
    Ok(choices)
}

/// Checks `--app-time-zone`: a zone name, an offset or SYSTEM; the server
/// checks that the source database knows it.
pub fn check_zone(zone: &str) -> Result<String, CliError> {
    let ok = !zone.is_empty()
        && zone.len() <= 64
        && zone
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+-:.".contains(c));
    if ok {
        Ok(zone.to_string())
    } else {
        Err(CliError(format!(
            "--app-time-zone {zone:?} is not a time zone such as America/New_York, +02:00 or SYSTEM"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(table: Option<&str>, cursor: Option<&str>) -> Choice {
        Choice {
            table: table.map(Into::into),
            cursor: cursor.map(Into::into),
            unit: None,
        }
    }

    #[test]
    fn entries_split_at_the_first_dot() {
        assert_eq!(
            parse("a, b.updated_at ,*.c.d,*").unwrap(),
            [
                choice(Some("a"), None),
                choice(Some("b"), Some("updated_at")),
                choice(None, Some("c.d")),
                choice(None, None),
            ]
        );
        let timed = parse("mdl_course.timemodified:s,Posts.UpdateAt:ms,t.a:b,*.clock:s").unwrap();
        let units: Vec<_> = timed
            .iter()
            .map(|c| (c.cursor.as_deref().unwrap(), c.unit))
            .collect();
        assert_eq!(
            units,
            [
                ("timemodified", Some(Unit::Seconds)),
                ("UpdateAt", Some(Unit::Millis)),
                ("a:b", None),
                ("clock", Some(Unit::Seconds)),
            ]
        );
        for bad in [".x", "t.", "a,.", " , ", "*."] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse(",").unwrap_err().0.contains("names no table"));
    }

    #[test]
    fn zones_are_names_or_offsets() {
        for z in ["America/New_York", "+05:30", "SYSTEM", "Etc/GMT+5", "UTC"] {
            assert_eq!(check_zone(z).unwrap(), z);
        }
        for z in ["", "New York", "x';--", &"a".repeat(65)] {
            assert!(check_zone(z).is_err(), "{z:?}");
        }
    }
}
