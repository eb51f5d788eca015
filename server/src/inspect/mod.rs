//! What the source has: the exposed databases and their base tables with
//! columns and primary keys (`tables`), parents before children by foreign
//! keys (`order`), which tables can be synced and by which column (`cursor`),
//! the listing that tells it (`listing`), and table definitions for
//! `--create-tables` (`schema`). Names from requests are only ever compared
//! with what `information_schema` returns. Uses `error` and `sql`.

pub mod cursor;
pub mod listing;
pub mod order;
pub mod schema;
pub mod tables;

pub use order::{foreign_keys, in_order};
pub use tables::{databases, require_database, table, tables, ColumnMeta, TableMeta};
