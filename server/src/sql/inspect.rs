//! The SQL that discovers what the source has: schemas, tables, columns,
//! keys and indexes, table definitions for `--create-tables`, time zone
//! offsets for wall-clock cursors, and when tables were last written.

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

#[cfg(test)]
mod tests {
    use super::*;

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
