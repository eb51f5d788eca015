//! The SQL of what requests read from rows: change streams (by cursor, by
//! key range, by keys, whole), the changes question's probes and estimates,
//! and the snapshot and row hashes of digests.

use dbdump_shared::sql::{key_in, key_range, quote_ident, quote_list, quote_table};

/// Opens the snapshot every read of one digest request shares (REPEATABLE
/// READ whatever the server's default, or the ranges could each see a
/// different state).
pub const START_SNAPSHOT: &[&str] = &[
    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
    "START TRANSACTION WITH CONSISTENT SNAPSHOT",
];

/// The hash of every row of a keyless table, in no order: its digest is
/// their sum and XOR, which the order does not change.
pub fn whole_hashes(db: &str, table: &str, hash: &str) -> String {
    format!("SELECT {hash} FROM {}", quote_table(db, table))
}

/// Which rows a change stream asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// Every row below the horizon (NULL cursors, and values that are no
    /// time, included); without a cursor, every row.
    All,
    /// `c >= since` and below the horizon.
    Since,
    /// `(c, key) > (since, after_key)` and below the horizon.
    After,
    /// Below the horizon (as `All`) and one of this many keys (parameters:
    /// the horizon's, then each key's values in key order).
    Keys(usize),
    /// Below the horizon (as `All`), in key order, the keys in `(after,
    /// until]` (parameters: the horizon's, then each bound's values as
    /// `key_params` lays them out).
    KeyRange { after: bool, until: bool },
}

/// The cursor a stream is read by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor<'a> {
    pub column: &'a str,
    /// The narrowest index it leads, forced for the cursor's order.
    pub index: Option<&'a str>,
    /// Whether its values can be no time past their greatest time (an
    /// integer or text cursor): "below the horizon" then also takes the
    /// values above that bound (one more parameter: the bound).
    pub bounded: bool,
}

/// One change stream query.
#[derive(Clone, Copy, Debug)]
pub struct StreamSelect<'a> {
    pub db: &'a str,
    pub table: &'a str,
    pub columns: &'a [&'a str],
    pub cursor: Option<Cursor<'a>>,
    /// The key columns and the index they are (empty: a keyless table).
    pub key: &'a [&'a str],
    pub key_index: Option<&'a str>,
    pub bound: Bound,
}

/// The change stream query; its parameters, in order: `All`, `Keys` and
/// `KeyRange` with a cursor: horizon (and the cursor's greatest time, when
/// `bounded`); `Since`: since, horizon; `After`: since, horizon, then for
/// the key comparison `since` again and the key values as [`after_params`]
/// lays out; then the keys of `Keys`, or the bounds of `KeyRange`.
///
/// The `(ts, key) > (…)` comparison is spelled as a flat OR of ANDs so that
/// the optimizer can turn it into ranges of the timestamp index (which InnoDB
/// extends with the key), instead of reading every row that shares the last
/// timestamp again.
///
/// In the cursor's order its index is forced: on a range covering most of
/// the table the optimizer prefers a table scan and a filesort, which reads
/// and sorts the whole table (in the source's tmpdir) before the first row
/// goes out; through the index rows stream at once and a client that leaves
/// stops the read. In key order the key's index is forced for the same
/// reason. A keyless table is read as it lies.
pub fn stream_select(q: &StreamSelect<'_>) -> String {
    let mut filters = Vec::new();
    if let Some(c) = q.cursor {
        let t = quote_ident(c.column);
        let beyond = if c.bounded {
            format!(" OR {t} > ?")
        } else {
            String::new()
        };
        let below = format!("({t} IS NULL OR {t} < ?{beyond})");
        filters.push(match q.bound {
            Bound::All | Bound::Keys(_) | Bound::KeyRange { .. } => below,
            Bound::Since => format!("{t} >= ? AND {t} < ?"),
            Bound::After => {
                let mut alternatives = vec![format!("{t} > ?")];
                for i in 0..q.key.len() {
                    let mut parts = vec![format!("{t} = ?")];
                    parts.extend(q.key[..i].iter().map(|k| format!("{} = ?", quote_ident(k))));
                    parts.push(format!("{} > ?", quote_ident(q.key[i])));
                    alternatives.push(format!("({})", parts.join(" AND ")));
                }
                format!("{t} >= ? AND {t} < ? AND ({})", alternatives.join(" OR "))
            }
        });
    }
    match q.bound {
        Bound::Keys(n) => filters.push(key_in(q.key, n)),
        Bound::KeyRange { after, until } => {
            let range = key_range(q.key, after, until);
            if let Some(r) = range.strip_prefix(" WHERE ") {
                filters.push(r.to_string());
            }
        }
        _ => {}
    }
    let key_order = matches!(q.bound, Bound::KeyRange { .. }) || q.cursor.is_none();
    let mut order: Vec<&str> = Vec::new();
    if let (false, Some(c)) = (key_order, q.cursor) {
        order.push(c.column);
    }
    order.extend_from_slice(q.key);
    // Rows by key are found through the key, not through either order.
    let index = match q.bound {
        Bound::Keys(_) => None,
        _ if key_order => q.key_index,
        _ => q.cursor.and_then(|c| c.index),
    };
    let hint = index
        .map(|i| format!(" FORCE INDEX ({})", quote_ident(i)))
        .unwrap_or_default();
    let mut text = format!(
        "SELECT {} FROM {}{hint}",
        quote_list(q.columns),
        quote_table(q.db, q.table)
    );
    if !filters.is_empty() {
        text.push_str(" WHERE ");
        text.push_str(&filters.join(" AND "));
    }
    if !order.is_empty() {
        text.push_str(" ORDER BY ");
        text.push_str(&quote_list(&order));
    }
    text
}

/// Parameter order for the key part of [`Bound::After`]: after `since` and
/// the horizon comes `since` (for `ts > ?`), then for each key column i:
/// `since`, key[0..i], key[i].
pub fn after_params<T: Clone>(since: T, horizon: T, key: &[T]) -> Vec<T> {
    let mut out = vec![since.clone(), horizon, since.clone()];
    for i in 0..key.len() {
        out.push(since.clone());
        out.extend(key[..=i].iter().cloned());
    }
    out
}

/// Which of several change-stream queries (each from [`stream_select`])
/// would return a row: the `n`-th becomes
/// `(SELECT n FROM (<query> LIMIT 1) AS probe_n)` and all are one
/// `UNION ALL`, so that hundreds of tables cost one round trip per batch
/// and one index probe each. Parameters: each query's, in order.
pub fn any_rows(probes: &[(usize, String)]) -> String {
    probes
        .iter()
        .map(|(n, query)| format!("(SELECT {n} FROM ({query} LIMIT 1) AS probe_{n})"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// The optimizer's plan of `query`: its `rows` column estimates how many
/// rows it reads (from index dives, without reading them).
pub fn explain(query: &str) -> String {
    format!("EXPLAIN {query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn select<'a>(
        columns: &'a [&'a str],
        cursor: Option<Cursor<'a>>,
        key: &'a [&'a str],
        bound: Bound,
    ) -> String {
        stream_select(&StreamSelect {
            db: "d",
            table: "t",
            columns,
            cursor,
            key,
            key_index: (!key.is_empty()).then_some("PRIMARY"),
            bound,
        })
    }

    fn ts(index: Option<&str>) -> Option<Cursor<'_>> {
        Some(Cursor {
            column: "ts",
            index,
            bounded: false,
        })
    }

    #[test]
    fn stream_queries() {
        let q = select(&["id", "ts", "v"], ts(None), &["id"], Bound::All);
        assert_eq!(
            q,
            "SELECT `id`, `ts`, `v` FROM `d`.`t` WHERE (`ts` IS NULL OR `ts` < ?) ORDER BY `ts`, `id`"
        );
        let q = select(&["id", "ts"], ts(None), &["id"], Bound::Since);
        assert!(
            q.contains("WHERE `ts` >= ? AND `ts` < ? ORDER BY `ts`, `id`"),
            "{q}"
        );
        let q = select(&["a", "b", "ts"], ts(None), &["a", "b"], Bound::After);
        assert!(
            q.contains(
                "WHERE `ts` >= ? AND `ts` < ? AND (`ts` > ? OR (`ts` = ? AND `a` > ?) \
                 OR (`ts` = ? AND `a` = ? AND `b` > ?)) ORDER BY `ts`, `a`, `b`"
            ),
            "{q}"
        );
        assert_eq!(
            q.matches('?').count(),
            after_params("s", "h", &["1", "2"]).len()
        );
    }

    #[test]
    fn rows_by_key_go_through_the_key() {
        let q = select(&["id", "ts"], ts(Some("ts")), &["id"], Bound::Keys(3));
        assert_eq!(
            q,
            "SELECT `id`, `ts` FROM `d`.`t` WHERE (`ts` IS NULL OR `ts` < ?) AND `id` IN (?, ?, ?) ORDER BY `ts`, `id`"
        );
        let q = select(&["a", "b", "ts"], ts(None), &["a", "b"], Bound::Keys(2));
        assert!(
            q.contains("AND ((`a` = ? AND `b` = ?) OR (`a` = ? AND `b` = ?)) ORDER BY"),
            "{q}"
        );
    }

    #[test]
    fn cursors_with_values_that_are_no_time_take_them_in_full_copies() {
        let unix = Some(Cursor {
            column: "m",
            index: Some("m"),
            bounded: true,
        });
        let q = select(&["id", "m"], unix, &["id"], Bound::All);
        assert_eq!(
            q,
            "SELECT `id`, `m` FROM `d`.`t` FORCE INDEX (`m`) WHERE (`m` IS NULL OR `m` < ? OR `m` > ?) \
             ORDER BY `m`, `id`"
        );
        let q = select(&["id", "m"], unix, &["id"], Bound::Since);
        assert!(q.contains("WHERE `m` >= ? AND `m` < ? ORDER"), "{q}");
    }

    #[test]
    fn key_order_reads_key_ranges_through_the_key() {
        let q = select(
            &["a", "b", "ts"],
            ts(Some("ts")),
            &["a", "b"],
            Bound::KeyRange {
                after: true,
                until: true,
            },
        );
        assert_eq!(
            q,
            "SELECT `a`, `b`, `ts` FROM `d`.`t` FORCE INDEX (`PRIMARY`) WHERE (`ts` IS NULL OR `ts` < ?) \
             AND (`a` > ? OR `a` = ? AND `b` > ?) AND (`a` < ? OR `a` = ? AND `b` <= ?) ORDER BY `a`, `b`"
        );
        // A table synced by digests has no cursor: key order, all of it.
        let q = select(
            &["id", "v"],
            None,
            &["id"],
            Bound::KeyRange {
                after: false,
                until: false,
            },
        );
        assert_eq!(
            q,
            "SELECT `id`, `v` FROM `d`.`t` FORCE INDEX (`PRIMARY`) ORDER BY `id`"
        );
        let q = select(&["id", "v"], None, &["id"], Bound::Keys(2));
        assert_eq!(
            q,
            "SELECT `id`, `v` FROM `d`.`t` WHERE `id` IN (?, ?) ORDER BY `id`"
        );
        // A keyless table: as it lies.
        assert_eq!(
            select(&["v"], None, &[], Bound::All),
            "SELECT `v` FROM `d`.`t`"
        );
    }

    #[test]
    fn probes_are_one_union() {
        let q = any_rows(&[
            (0, "SELECT `ts` FROM `d`.`a`".into()),
            (7, "SELECT `ts` FROM `d`.`b`".into()),
        ]);
        assert_eq!(
            q,
            "(SELECT 0 FROM (SELECT `ts` FROM `d`.`a` LIMIT 1) AS probe_0) UNION ALL \
             (SELECT 7 FROM (SELECT `ts` FROM `d`.`b` LIMIT 1) AS probe_7)"
        );
    }

    #[test]
    fn after_params_follow_the_placeholders() {
        assert_eq!(after_params("S", "H", &["A"]), ["S", "H", "S", "S", "A"]);
        assert_eq!(
            after_params("S", "H", &["A", "B"]),
            ["S", "H", "S", "S", "A", "S", "A", "B"]
        );
    }

    #[test]
    fn hostile_names_stay_quoted() {
        let q = stream_select(&StreamSelect {
            db: "d`; DROP DATABASE x; --",
            table: "t",
            columns: &["c`"],
            cursor: Some(Cursor {
                column: "ts",
                index: Some("i`) x"),
                bounded: false,
            }),
            key: &["c`"],
            key_index: None,
            bound: Bound::All,
        });
        assert!(
            q.contains("`d``; DROP DATABASE x; --`.`t` FORCE INDEX (`i``) x`) WHERE")
                && q.contains("`c```"),
            "{q}"
        );
    }
}
