//! Every SQL text dbd_server sends, built in one place. Identifiers reaching
//! the builders were found in `information_schema` first and are quoted
//! here; values are always `?` placeholders.

use dbdump_shared::sql::{key_in, key_range, quote_ident, quote_list, quote_table};

/// Session set-up of every source connection: UTC so that TIMESTAMP values
/// are unambiguous whatever the hosts' zones; UTF-8 for all text; reads only.
pub const SESSION_INIT: &[&str] = &[
    "SET NAMES utf8mb4",
    "SET time_zone = '+00:00'",
    "SET SESSION TRANSACTION READ ONLY",
];

pub const SCHEMAS: &str =
    "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME";

/// Columns of the base tables of one schema (optionally one table).
/// Parameters: the schema, the table (if one), the schema again. The base
/// tables come from an uncorrelated subquery, not a join: joined, MariaDB
/// fills `information_schema.TABLES` over and over (86 ms instead of 6 ms
/// for a schema of 300 tables, on every listing).
pub fn columns(one_table: bool) -> String {
    format!(
        "SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.DATA_TYPE, \
         c.CHARACTER_SET_NAME, c.EXTRA, c.DATETIME_PRECISION, c.IS_NULLABLE \
         FROM information_schema.COLUMNS c \
         WHERE c.TABLE_SCHEMA = ?{} AND c.TABLE_NAME IN (SELECT t.TABLE_NAME \
         FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = ? AND t.TABLE_TYPE = 'BASE TABLE') \
         ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION",
        if one_table {
            " AND c.TABLE_NAME = ?"
        } else {
            ""
        }
    )
}

/// Primary key columns in key order.
pub fn primary_keys(one_table: bool) -> String {
    format!(
        "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
         WHERE TABLE_SCHEMA = ?{} AND CONSTRAINT_NAME = 'PRIMARY' \
         ORDER BY TABLE_NAME, ORDINAL_POSITION",
        if one_table { " AND TABLE_NAME = ?" } else { "" }
    )
}

/// The columns of every UNIQUE key but the primary one, of one schema
/// (optionally one table): where a table without a primary key finds the
/// key that stands in for it. No ORDER BY: the server lists each table's
/// keys in its own key order, the one in which InnoDB picks the first
/// UNIQUE key over NOT NULL columns to cluster the table by.
pub fn unique_keys(one_table: bool) -> String {
    format!(
        "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, NULLABLE \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ?{} AND NON_UNIQUE = 0 \
         AND INDEX_NAME <> 'PRIMARY'",
        if one_table { " AND TABLE_NAME = ?" } else { "" }
    )
}

/// Every index of one schema (optionally one table): its first column and
/// its width, to find the narrowest index the timestamp column leads.
pub fn index_leaders(one_table: bool) -> String {
    format!(
        "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, \
         MAX(IF(SEQ_IN_INDEX = 1, COLUMN_NAME, NULL)) AS leader, COUNT(*) AS width \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ?{} \
         GROUP BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME",
        if one_table { " AND TABLE_NAME = ?" } else { "" }
    )
}

/// A table's engine, collation and character set, options and comment, and
/// its database's default character set and collation.
pub const TABLE_DEFINITION: &str =
    "SELECT t.TABLE_SCHEMA, t.TABLE_NAME, t.ENGINE, t.TABLE_COLLATION, c.CHARACTER_SET_NAME, \
     t.CREATE_OPTIONS, t.TABLE_COMMENT, s.DEFAULT_CHARACTER_SET_NAME, s.DEFAULT_COLLATION_NAME \
     FROM information_schema.TABLES t JOIN information_schema.SCHEMATA s ON s.SCHEMA_NAME = t.TABLE_SCHEMA \
     LEFT JOIN information_schema.COLLATIONS c ON c.COLLATION_NAME = t.TABLE_COLLATION \
     WHERE t.TABLE_SCHEMA = ? AND t.TABLE_NAME = ?";

/// Every column of one table as its definition needs it, in table order.
pub const COLUMN_DEFINITIONS: &str =
    "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, \
     CHARACTER_SET_NAME, COLLATION_NAME, EXTRA, GENERATION_EXPRESSION, COLUMN_COMMENT \
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION";

/// Every index column of one table, in the table's own key order (no ORDER
/// BY: the server lists keys as it stores them, the primary key first).
pub const INDEX_DEFINITIONS: &str =
    "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, \
     COLLATION, INDEX_TYPE, INDEX_COMMENT FROM information_schema.STATISTICS \
     WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?";

/// The foreign keys of one table, by name (the order SHOW CREATE TABLE
/// shows them in), their columns in key order.
pub const FOREIGN_KEY_DEFINITIONS: &str =
    "SELECT k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_SCHEMA, \
     k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, r.UPDATE_RULE, r.DELETE_RULE \
     FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
     ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.TABLE_NAME = k.TABLE_NAME \
     AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME \
     WHERE k.TABLE_SCHEMA = ? AND k.TABLE_NAME = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL \
     ORDER BY k.CONSTRAINT_NAME, k.ORDINAL_POSITION";

/// CHECK constraints of one table, MariaDB's way (with their level: a
/// column's own, or the table's).
pub const CHECK_DEFINITIONS: &str =
    "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, LEVEL, CHECK_CLAUSE \
     FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?";

/// The same on MySQL 8, whose CHECK_CONSTRAINTS has no table name.
pub const CHECK_DEFINITIONS_MYSQL: &str =
    "SELECT c.CONSTRAINT_SCHEMA, t.TABLE_NAME, c.CONSTRAINT_NAME, 'Table', c.CHECK_CLAUSE \
     FROM information_schema.CHECK_CONSTRAINTS c JOIN information_schema.TABLE_CONSTRAINTS t \
     ON t.CONSTRAINT_SCHEMA = c.CONSTRAINT_SCHEMA AND t.CONSTRAINT_NAME = c.CONSTRAINT_NAME \
     WHERE c.CONSTRAINT_SCHEMA = ? AND t.TABLE_NAME = ? AND t.CONSTRAINT_TYPE = 'CHECK'";

/// MariaDB writes COLUMN_DEFAULT as SQL (quoted literals, expressions);
/// MySQL writes literals bare.
pub const IS_MARIADB: &str = "SELECT VERSION() LIKE '%MariaDB%'";

/// The defaults of the DATETIME and TIMESTAMP columns of one schema: which
/// of the possible cursors the server sets on insert.
pub const TEMPORAL_COLUMNS: &str =
    "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, IS_NULLABLE, COLUMN_DEFAULT \
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND DATA_TYPE IN ('datetime', 'timestamp')";

/// The UTC offset, in seconds, of one time zone at each of `instants`
/// points in time, by the source's time zone tables (NULL: a zone it does
/// not know). Parameters, per instant: the instant (UTC) twice, then the
/// zone. The session runs in UTC, so `'+00:00'` is its own zone.
pub fn zone_offsets(instants: usize) -> String {
    let one = "TIMESTAMPDIFF(SECOND, ?, CONVERT_TZ(?, '+00:00', ?))";
    format!("SELECT {}", vec![one; instants.max(1)].join(", "))
}

/// Foreign keys between tables of one schema: (child, parent).
pub const FOREIGN_KEYS: &str = "SELECT TABLE_SCHEMA, TABLE_NAME, REFERENCED_TABLE_NAME \
     FROM information_schema.KEY_COLUMN_USAGE \
     WHERE TABLE_SCHEMA = ? AND REFERENCED_TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME IS NOT NULL";

/// The engine and `UPDATE_TIME` (in the session's UTC) of `n` tables of one
/// schema: when each was last written (InnoDB: the start of the last
/// transaction that committed a change to it). Parameters: the schema,
/// then the names.
pub fn update_times(n: usize) -> String {
    format!(
        "SELECT TABLE_SCHEMA, TABLE_NAME, ENGINE, UPDATE_TIME FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN ({})",
        vec!["?"; n.max(1)].join(", ")
    )
}

/// Can this account see other sessions' transactions (PROCESS privilege)?
pub const PROBE_TRANSACTIONS: &str = "SELECT COUNT(*) FROM information_schema.INNODB_TRX";

/// Does PROCESSLIST have MariaDB's millisecond TIME_MS?
pub const PROBE_TIME_MS: &str = "SELECT COUNT(*) FROM information_schema.COLUMNS \
     WHERE TABLE_SCHEMA = 'information_schema' AND TABLE_NAME = 'PROCESSLIST' AND COLUMN_NAME = 'TIME_MS'";

pub const UTC_NOW: &str = "SELECT UTC_TIMESTAMP(6)";

/// Opens the read-only transaction that dates an INNODB_TRX reading.
pub const START_CANARY: &str = "START TRANSACTION WITH CONSISTENT SNAPSHOT";
pub const END_CANARY: &str = "COMMIT";
pub const ROLLBACK: &str = "ROLLBACK";

/// How a reading's statement text begins; the number after it is the
/// source's clock (UTC microseconds) just before the reading started.
pub const MARKER_PREFIX: &str = "/* dbd_server horizon at ";

pub fn horizon_marker(at_micros: i64) -> String {
    format!("{MARKER_PREFIX}{at_micros} */")
}

/// Open read-write transactions of other sessions, plus every reading's
/// marked read-only transaction (this one's and other dbd_servers'), with
/// the first 80 characters of its statement as `canary`.
///
/// InnoDB serves INNODB_TRX from a copy that it rebuilds only when nobody
/// read it in the last 100 ms, so a reader polling faster sees a frozen
/// list. A marked transaction in the list dates it: the copy was built while
/// that reading ran, so after the time its marker carries.
///
/// `trx_started` is printed in the server's *system* zone, not the
/// session's, so it is converted to UTC here; in the hour a DST change
/// repeats, the local time has two UTC readings, and the flags say whether
/// the earlier ones (30 or 60 minutes before) are also valid. Idle
/// transactions that changed nothing cannot hold rows back and are skipped.
pub fn open_transactions(marker: &str) -> String {
    format!(
        "SELECT {marker} t.trx_mysql_thread_id, \
         DATE_FORMAT(CONVERT_TZ(t.trx_started, 'SYSTEM', '+00:00'), '%Y-%m-%d %H:%i:%s') AS started_utc, \
         CONVERT_TZ(CONVERT_TZ(t.trx_started, 'SYSTEM', '+00:00') - INTERVAL 60 MINUTE, '+00:00', 'SYSTEM') = t.trx_started AS earlier_60, \
         CONVERT_TZ(CONVERT_TZ(t.trx_started, 'SYSTEM', '+00:00') - INTERVAL 30 MINUTE, '+00:00', 'SYSTEM') = t.trx_started AS earlier_30, \
         CONCAT_WS(', ', CONCAT(p.USER, '@', p.HOST), p.COMMAND, t.trx_state, \
           CONCAT(t.trx_rows_modified, ' rows modified')) AS who, \
         IF(t.trx_query LIKE 'SELECT {MARKER_PREFIX}%', LEFT(t.trx_query, 80), NULL) AS canary \
         FROM information_schema.INNODB_TRX t \
         LEFT JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id \
         WHERE t.trx_query LIKE 'SELECT {MARKER_PREFIX}%' OR (t.trx_is_read_only = 0 \
         AND t.trx_mysql_thread_id <> CONNECTION_ID() \
         AND NOT (t.trx_rows_modified = 0 AND p.COMMAND = 'Sleep'))"
    )
}

/// The time a canary's marker carries, if `statement` has one.
pub fn marker_time(statement: &str) -> Option<i64> {
    let at = statement.find(MARKER_PREFIX)? + MARKER_PREFIX.len();
    statement[at..].split(' ').next()?.parse().ok()
}

/// Statements running in other sessions that may write rows: a statement's
/// CURRENT_TIMESTAMP is its start time, which can be well before InnoDB sees
/// its transaction (metadata lock waits, stored procedures).
pub const RUNNING_WRITERS: &str =
    "SELECT ID, TIME, CONCAT_WS(', ', CONCAT(USER, '@', HOST), COMMAND, STATE) \
     FROM information_schema.PROCESSLIST WHERE \
     COMMAND IN ('Query', 'Execute') AND ID <> CONNECTION_ID() \
     AND (INFO IS NULL OR (LTRIM(INFO) NOT LIKE 'select%' AND LTRIM(INFO) NOT LIKE 'show%'))";

/// The same with the age in whole milliseconds (MariaDB).
pub const RUNNING_WRITERS_MS: &str =
    "SELECT ID, CAST(CEILING(TIME_MS) AS SIGNED), CONCAT_WS(', ', CONCAT(USER, '@', HOST), COMMAND, STATE) \
     FROM information_schema.PROCESSLIST WHERE \
     COMMAND IN ('Query', 'Execute') AND ID <> CONNECTION_ID() \
     AND (INFO IS NULL OR (LTRIM(INFO) NOT LIKE 'select%' AND LTRIM(INFO) NOT LIKE 'show%'))";

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

/// Ends another session of ours (its id comes from the driver, not a request).
pub fn kill_connection(connection_id: u32) -> String {
    format!("KILL CONNECTION {connection_id}")
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
    fn readings_are_marked_and_dated_by_their_markers() {
        let marker = horizon_marker(1_764_000_000_123_456);
        assert_eq!(marker, "/* dbd_server horizon at 1764000000123456 */");
        let q = open_transactions(&marker);
        assert!(q.starts_with("SELECT /* dbd_server horizon at 1764000000123456 */ t."));
        assert!(q.contains("WHERE t.trx_query LIKE 'SELECT /* dbd_server horizon at %' OR ("));
        assert!(!q.contains('?'), "no parameters: it runs as a text query");
        assert_eq!(marker_time(&q), Some(1_764_000_000_123_456));
        assert_eq!(marker_time("SELECT /* dbd_server horizon at x */"), None);
        assert_eq!(marker_time("SELECT 1"), None);
        // Cut to 80 characters by the query, the marker is still whole.
        assert_eq!(marker_time(&q[..80]), Some(1_764_000_000_123_456));
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
    fn kill_takes_a_number_only() {
        assert_eq!(kill_connection(42), "KILL CONNECTION 42");
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

    #[test]
    fn one_table_variants_add_a_placeholder() {
        assert_eq!(columns(true).matches('?').count(), 3);
        assert_eq!(columns(false).matches('?').count(), 2);
        assert_eq!(primary_keys(true).matches('?').count(), 2);
        assert_eq!(unique_keys(true).matches('?').count(), 2);
        assert_eq!(unique_keys(false).matches('?').count(), 1);
        assert_eq!(index_leaders(false).matches('?').count(), 1);
    }
}
