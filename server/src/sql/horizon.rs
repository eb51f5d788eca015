//! The SQL of a horizon reading: what the account may see, the source's
//! clock, the marked read-only transaction that dates INNODB_TRX, other
//! sessions' open transactions and running statements that may write.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
