//! The paths of the requests dbd_server answers, built in one place: a
//! table's change stream (from a resume point, by a named cursor, without
//! excluded columns) and the parameters that name its cursor. Every name
//! and value is percent-encoded here.

use dbdump_shared::http::percent_encode;
use dbdump_shared::since::UtcTime;

use crate::config::tables::Named;
use crate::config::Config;

/// Where a table's next stream starts: after this (timestamp, key).
#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    pub since: UtcTime,
    /// JSON array of the key values in wire encoding.
    pub after_key: String,
}

/// The change stream of `table`, read by `cursor` (its auto-updating
/// column without), after `resume` (everything without).
pub fn stream_path(
    cfg: &Config,
    table: &str,
    cursor: Option<&Named>,
    resume: Option<&Resume>,
) -> String {
    let mut params = Vec::new();
    if let Some(r) = resume {
        params.push(format!("since={}", percent_encode(&r.since.to_string())));
        params.push(format!("after_key={}", percent_encode(&r.after_key)));
    }
    let excluded = cfg.excluded(table);
    if !excluded.is_empty() {
        params.push(format!(
            "exclude_columns={}",
            percent_encode(&excluded.join(","))
        ));
    }
    params.extend(cursor_params(cfg, cursor, true));
    let mut path = format!(
        "/{}/{}/",
        percent_encode(&cfg.source_database),
        percent_encode(table)
    );
    if !params.is_empty() {
        path.push('?');
        path.push_str(&params.join("&"));
    }
    path
}

/// The ranges of `table` for a first copy in `count` ranges, read by
/// `cursor` (its auto-updating column, or none, without).
pub fn ranges_path(cfg: &Config, table: &str, cursor: Option<&Named>, count: usize) -> String {
    let mut params = vec![format!("count={count}")];
    params.extend(cursor_params(cfg, cursor, true));
    format!(
        "/{}/{}/ranges?{}",
        percent_encode(&cfg.source_database),
        percent_encode(table),
        params.join("&")
    )
}

/// The stream of one range of a first copy: keys in `(after, until]` (JSON
/// arrays; either side open) in key order, below `before` (the copy's
/// horizon; none for a table without a cursor).
pub fn range_path(
    cfg: &Config,
    table: &str,
    cursor: Option<&Named>,
    after: Option<&str>,
    until: Option<&str>,
    before: Option<&str>,
) -> String {
    let mut path = stream_path(cfg, table, cursor, None);
    let mut params = vec!["order=key".to_string()];
    if let Some(a) = after {
        params.push(format!("after_key={}", percent_encode(a)));
    }
    if let Some(u) = until {
        params.push(format!("until_key={}", percent_encode(u)));
    }
    if let Some(b) = before {
        params.push(format!("before={}", percent_encode(b)));
    }
    path.push(if path.contains('?') { '&' } else { '?' });
    path.push_str(&params.join("&"));
    path
}

/// The query parameters that name `cursor` (none for `None`): `cursor`,
/// its `cursor_unit` if it has one, and for a stream (`zone`) the zone
/// `--app-time-zone` gives.
pub fn cursor_params(cfg: &Config, cursor: Option<&Named>, zone: bool) -> Vec<String> {
    let Some(cursor) = cursor else {
        return Vec::new();
    };
    let mut params = vec![format!("cursor={}", percent_encode(&cursor.column))];
    if let Some(unit) = cursor.unit {
        params.push(format!("cursor_unit={}", unit.name()));
    }
    if zone {
        let z = percent_encode(&cfg.app_time_zone);
        params.push(format!("cursor_zone={z}"));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Config {
        crate::config::for_tests(args)
    }

    #[test]
    fn stream_paths_encode_names_and_parameters() {
        let cfg = config(&["-x", "t/1.secret,other.c"]);
        let resume = Resume {
            since: UtcTime::parse("2020-01-02 03:04:05.5").unwrap(),
            after_key: "[1,\"a b\"]".into(),
        };
        assert_eq!(
            stream_path(&cfg, "t/1", None, Some(&resume)),
            "/my%20db/t%2F1/?since=2020-01-02%2003%3A04%3A05.500000&after_key=%5B1%2C%22a%20b%22%5D&exclude_columns=secret"
        );
        assert_eq!(stream_path(&cfg, "plain", None, None), "/my%20db/plain/");
        let cfg = config(&["--app-time-zone", "America/New_York"]);
        let named = |column: &str, unit| Named {
            column: column.into(),
            unit,
            kind: dbdump_shared::cursor::CursorKind::Temporal,
        };
        assert_eq!(
            stream_path(&cfg, "orders", Some(&named("updated at", None)), None),
            "/my%20db/orders/?cursor=updated%20at&cursor_zone=America%2FNew_York"
        );
        assert_eq!(
            range_path(
                &cfg,
                "t",
                None,
                Some("[5]"),
                None,
                Some("2026-12-03 01:00:00")
            ),
            "/my%20db/t/?order=key&after_key=%5B5%5D&before=2026-12-03%2001%3A00%3A00"
        );
        assert_eq!(ranges_path(&cfg, "t", None, 8), "/my%20db/t/ranges?count=8");
        let unix = named("timemodified", Some(dbdump_shared::cursor::Unit::Seconds));
        assert_eq!(
            stream_path(&cfg, "mdl_course", Some(&unix), None),
            "/my%20db/mdl_course/?cursor=timemodified&cursor_unit=s&cursor_zone=America%2FNew_York"
        );
    }
}
