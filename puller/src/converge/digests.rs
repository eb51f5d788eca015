//! The destination's side of a comparison: the same per-row hash as the
//! source's (built by `dbdump_shared::sql::row_hash` from the destination's
//! own column definitions), folded into digests of key ranges split at the
//! source's chunk boundaries, or listed row by row. The destination
//! database compares the keys, in its own collation, and hashes the rows.

use mysql::prelude::Queryable;
use mysql::Value;

use dbdump_shared::dberror::describe;
use dbdump_shared::digest::{Digest, DigestHeader, Kind};
use dbdump_shared::sql::{key_params, key_range_hashes, row_hash, HashClass};
use dbdump_shared::value::{self, ValueCodec};
use dbdump_shared::warn;

use crate::apply::destination::Destination;
use crate::sql;

/// A non-negative integer result value that fits 32 bits.
fn small(v: &Value) -> Option<u32> {
    match v {
        Value::Int(i) => u32::try_from(*i).ok(),
        Value::UInt(u) => u32::try_from(*u).ok(),
        _ => None,
    }
}

/// One destination row of a range: its key (to delete it by), the key as
/// the wire writes it (to match it with the source's), and its hash.
#[derive(Debug)]
pub struct DestRow {
    pub key: Vec<Value>,
    pub json: String,
    pub hash: u32,
}

/// A destination table, ready to be digested like the source's.
pub struct DestTable {
    table: String,
    key: Vec<String>,
    hash: String,
}

/// Column types whose text (and so whose hash) depends on their
/// declaration: DECIMAL scale, fractional seconds, FLOAT vs DOUBLE.
const FORMATTED: &[&str] = &[
    "decimal",
    "numeric",
    "float",
    "double",
    "real",
    "datetime",
    "timestamp",
    "time",
];

impl DestTable {
    /// Matches the columns the source hashed (`header`) with the
    /// destination's, by name; a missing one is an error, a column whose
    /// declaration prints values differently is warned about (its rows
    /// would read as different on every pass).
    pub fn new(
        dest: &mut Destination,
        table: &str,
        header: &DigestHeader,
    ) -> Result<DestTable, String> {
        let columns = dest.column_types(table)?;
        let mut hashed = Vec::with_capacity(header.columns.len());
        for source in &header.columns {
            let found = columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(&source.name))
                .ok_or_else(|| {
                    format!(
                        "destination table `{}`.`{table}` has no column `{}`",
                        dest.database, source.name
                    )
                })?;
            let data_type = found.data_type.to_ascii_lowercase();
            if FORMATTED.contains(&data_type.as_str())
                && !found.column_type.eq_ignore_ascii_case(&source.sql_type)
            {
                warn!(
                    "table `{table}`: column `{}` is {} on the source but {} on the destination; \
                     its values print differently, so every row reads as changed to --verify: \
                     give it the source's type",
                    source.name, source.sql_type, found.column_type
                );
            }
            hashed.push((
                found.name.as_str(),
                HashClass::of(&found.data_type, found.charset.as_deref()),
            ));
        }
        Ok(DestTable {
            table: table.to_string(),
            key: header.key.clone(),
            hash: row_hash(&hashed, header.kind == Kind::Row),
        })
    }

    fn key_names(&self) -> Vec<&str> {
        self.key.iter().map(String::as_str).collect()
    }

    /// Digests of the rows in `(after, until]`, split at `bounds` (source
    /// keys in key order, inside the range): one digest per bound (the rows
    /// up to it), then one for the rest of the range.
    pub fn buckets(
        &self,
        dest: &mut Destination,
        after: Option<&[Value]>,
        until: Option<&[Value]>,
        bounds: &[&[Value]],
    ) -> Result<Vec<Digest>, String> {
        let query = sql::bucket_hashes(
            &dest.database,
            &self.table,
            &self.key_names(),
            &self.hash,
            after.is_some(),
            until.is_some(),
            bounds.len(),
        );
        let mut params: Vec<Value> = sql::bucket_case_order(bounds.len())
            .into_iter()
            .flat_map(|i| key_params(bounds[i]))
            .collect();
        params.extend(after.map(key_params).unwrap_or_default());
        params.extend(until.map(key_params).unwrap_or_default());
        let context = |e: mysql::Error| {
            format!(
                "digesting destination table `{}`: {}",
                self.table,
                describe(&e)
            )
        };
        let mut out = vec![Digest::default(); bounds.len() + 1];
        let mut result = dest.conn().exec_iter(query, params).map_err(context)?;
        for row in result.by_ref() {
            let row = row.map_err(context)?;
            let (bucket, hash) = match (row.as_ref(0), row.as_ref(1)) {
                (Some(b), Some(h)) => (small(b), small(h)),
                _ => (None, None),
            };
            let slot = bucket.and_then(|b| out.get_mut(b as usize));
            match (slot, hash) {
                (Some(slot), Some(h)) => slot.add(h),
                _ => return Err("the destination returned an unexpected digest row".into()),
            }
        }
        Ok(out)
    }

    /// Which of the destination keys `mine` equal one of the source keys
    /// `theirs` by the destination's own comparison (its collation).
    pub fn equal_keys(
        &self,
        dest: &mut Destination,
        mine: &[&[Value]],
        theirs: &[&[Value]],
    ) -> Result<Vec<Vec<Value>>, String> {
        let query = sql::keys_equal_to(
            &dest.database,
            &self.table,
            &self.key_names(),
            mine.len(),
            theirs.len(),
        );
        let params: Vec<Value> = mine
            .iter()
            .chain(theirs)
            .flat_map(|k| k.iter().cloned())
            .collect();
        let rows: Vec<mysql::Row> = dest.conn().exec(query, params).map_err(|e| {
            format!(
                "comparing keys of destination table `{}`: {}",
                self.table,
                describe(&e)
            )
        })?;
        Ok(rows.into_iter().map(mysql::Row::unwrap).collect())
    }

    /// Every row of `(after, until]`, in key order, with its hash.
    pub fn rows(
        &self,
        dest: &mut Destination,
        after: Option<&[Value]>,
        until: Option<&[Value]>,
    ) -> Result<Vec<DestRow>, String> {
        // Left to the destination's optimizer.
        let query = key_range_hashes(
            &dest.database,
            &self.table,
            &self.key_names(),
            &self.hash,
            after.is_some(),
            until.is_some(),
            None,
        );
        let mut params = after.map(key_params).unwrap_or_default();
        params.extend(until.map(key_params).unwrap_or_default());
        let context = |e: mysql::Error| {
            format!(
                "reading destination table `{}`: {}",
                self.table,
                describe(&e)
            )
        };
        let width = self.key.len();
        let mut result = dest.conn().exec_iter(query, params).map_err(context)?;
        let codecs = ValueCodec::for_columns(result.columns().as_ref());
        let mut out = Vec::new();
        for row in result.by_ref() {
            let mut values = row.map_err(context)?.unwrap();
            let hash = values
                .pop()
                .as_ref()
                .and_then(small)
                .ok_or("the destination returned no row hash")?;
            let mut json = b"[".to_vec();
            for (i, v) in values.iter().enumerate().take(width) {
                if i > 0 {
                    json.push(b',');
                }
                value::encode_value(&mut json, v, codecs[i])
                    .map_err(|e| format!("key of `{}`: {e}", self.table))?;
            }
            json.push(b']');
            out.push(DestRow {
                key: values,
                json: String::from_utf8(json).map_err(|e| e.to_string())?,
                hash,
            });
        }
        Ok(out)
    }
}
