//! Why a table's sync failed, in words, and whether the destination database
//! refused a statement (an `ERROR nnnn` it returned): the one kind of failure
//! `--ignore-database-errors` skips. Plain strings convert both ways, so
//! code that only has a message to give keeps using `String` and `?`.

use std::fmt;

use dbdump_shared::dberror;

#[derive(Debug, Clone)]
pub struct TableError {
    pub message: String,
    /// The destination server returned an error for a statement (the
    /// connection is fine): a data, privilege, trigger or lock problem of
    /// this table, not an unreachable destination.
    pub refused_by_destination: bool,
}

impl TableError {
    /// A destination database error, with what was being done.
    pub fn database(context: &str, e: &mysql::Error) -> TableError {
        TableError {
            message: format!("{context}: {}", dberror::describe(e)),
            refused_by_destination: dberror::is_refusal(e),
        }
    }
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for TableError {
    fn from(message: String) -> Self {
        TableError {
            message,
            refused_by_destination: false,
        }
    }
}

impl From<&str> for TableError {
    fn from(message: &str) -> Self {
        TableError::from(message.to_string())
    }
}

impl From<TableError> for String {
    fn from(e: TableError) -> Self {
        e.message
    }
}
