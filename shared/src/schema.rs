//! A table's definition on the wire (`GET /<db>/<table>/schema`), in
//! structured parts rather than `CREATE TABLE` text: the puller rebuilds the
//! statement itself, from names it quotes and values it checks, so it never
//! runs SQL it received as it is. See `shared/PROTOCOL.md`.

use serde::{Deserialize, Serialize};

/// A source table, enough to build the same table elsewhere.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TableDefinition {
    pub protocol: u32,
    pub database: String,
    pub table: String,
    /// The database's default character set and collation, for creating
    /// the destination database.
    pub database_charset: String,
    pub database_collation: String,
    pub engine: String,
    pub charset: String,
    pub collation: String,
    pub comment: String,
    /// Table options as `information_schema.TABLES.CREATE_OPTIONS` lists
    /// them (`row_format=DYNAMIC`, …).
    pub options: Vec<String>,
    pub columns: Vec<ColumnDefinition>,
    /// In the table's own order (the primary key first).
    pub indexes: Vec<IndexDefinition>,
    pub foreign_keys: Vec<ForeignKeyDefinition>,
    /// Table-level CHECK constraints (column-level ones are on the column).
    pub checks: Vec<CheckDefinition>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ColumnDefinition {
    pub name: String,
    /// `COLUMN_TYPE`, e.g. `decimal(10,2) unsigned` or `enum('a','b')`.
    #[serde(rename = "type")]
    pub sql_type: String,
    pub nullable: bool,
    /// The default as SQL: a literal (`'x'`, `4.99`, `NULL`) or an
    /// expression (`current_timestamp(6)`, `curdate()`); none when the
    /// column has no default.
    pub default: Option<String>,
    pub charset: Option<String>,
    pub collation: Option<String>,
    pub auto_increment: bool,
    /// `current_timestamp(n)` for an auto-updating column.
    pub on_update: Option<String>,
    /// A generated column: its expression, and whether it is stored.
    pub generated: Option<Generated>,
    pub invisible: bool,
    pub comment: String,
    /// A column-level CHECK (MariaDB writes JSON columns this way).
    pub check: Option<String>,
}

impl ColumnDefinition {
    /// A nullable column of `sql_type` with nothing else to it: no default,
    /// character set or comment (what a definition adds to).
    pub fn plain(name: &str, sql_type: &str) -> ColumnDefinition {
        ColumnDefinition {
            name: name.into(),
            sql_type: sql_type.into(),
            nullable: true,
            default: None,
            charset: None,
            collation: None,
            auto_increment: false,
            on_update: None,
            generated: None,
            invisible: false,
            comment: String::new(),
            check: None,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Generated {
    pub expression: String,
    pub stored: bool,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum IndexKind {
    Primary,
    Unique,
    Index,
    Fulltext,
    Spatial,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct IndexDefinition {
    pub name: String,
    pub kind: IndexKind,
    pub columns: Vec<IndexColumn>,
    pub comment: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct IndexColumn {
    pub name: String,
    /// A prefix length, for an index on the first N characters or bytes.
    pub prefix: Option<u32>,
    pub descending: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ForeignKeyDefinition {
    pub name: String,
    pub columns: Vec<String>,
    /// The referenced database when it is not the table's own.
    pub references_database: Option<String>,
    pub references: String,
    pub referenced_columns: Vec<String>,
    pub on_delete: String,
    pub on_update: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CheckDefinition {
    pub name: String,
    pub clause: String,
}
