//! Values on the wire: how the server writes each MySQL value of a row as
//! JSON (from the result set's column metadata) and how the puller turns it
//! back into the exact value to bind (`encode`, `decode`). Both directions
//! live in this folder, tested against each other (`tests`), so that they
//! can never disagree.

use mysql::consts::{ColumnFlags, ColumnType};

use crate::wire::Encoding;

mod decode;
mod encode;

pub use decode::{decode_row_into, decode_value};
pub use encode::{encode_value, write_json_str};

/// What the server needs to know to write one column's values, taken from
/// the result set's own column definitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueCodec {
    pub encoding: Encoding,
    pub kind: TemporalKind,
}

/// Temporal columns need their declared precision to be printed the way
/// MySQL prints them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemporalKind {
    None,
    Date,
    DateTime { fsp: u8 },
    Time { fsp: u8 },
}

const BINARY_CHARSET: u16 = 63;

impl ValueCodec {
    /// One codec per column of a result set.
    pub fn for_columns(columns: &[mysql::Column]) -> Vec<ValueCodec> {
        columns
            .iter()
            .map(|c| Self::for_column(c.column_type(), c.flags(), c.character_set(), c.decimals()))
            .collect()
    }

    /// Chooses the encoding from a result column's type, flags, character set
    /// and decimals.
    pub fn for_column(ty: ColumnType, flags: ColumnFlags, charset: u16, decimals: u8) -> Self {
        use ColumnType::*;
        let fsp = decimals.min(6);
        let (encoding, kind) = match ty {
            MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_LONG | MYSQL_TYPE_LONGLONG
            | MYSQL_TYPE_INT24 | MYSQL_TYPE_YEAR | MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE => {
                (Encoding::Number, TemporalKind::None)
            }
            MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => (Encoding::String, TemporalKind::Date),
            MYSQL_TYPE_DATETIME
            | MYSQL_TYPE_DATETIME2
            | MYSQL_TYPE_TIMESTAMP
            | MYSQL_TYPE_TIMESTAMP2 => (Encoding::String, TemporalKind::DateTime { fsp }),
            MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => (Encoding::String, TemporalKind::Time { fsp }),
            MYSQL_TYPE_BIT | MYSQL_TYPE_GEOMETRY => (Encoding::Base64, TemporalKind::None),
            MYSQL_TYPE_DECIMAL
            | MYSQL_TYPE_NEWDECIMAL
            | MYSQL_TYPE_JSON
            | MYSQL_TYPE_ENUM
            | MYSQL_TYPE_SET
            | MYSQL_TYPE_NULL => (Encoding::String, TemporalKind::None),
            _ => {
                // Strings and blobs: the binary character set means raw bytes.
                let binary = charset == BINARY_CHARSET
                    && !flags.intersects(ColumnFlags::ENUM_FLAG | ColumnFlags::SET_FLAG);
                let enc = if binary {
                    Encoding::Base64
                } else {
                    Encoding::String
                };
                (enc, TemporalKind::None)
            }
        };
        ValueCodec { encoding, kind }
    }
}

#[cfg(test)]
mod tests;
