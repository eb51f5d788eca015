//! A change stream request's parameters: parsed, then checked against the
//! table into which rows it asks for ([`Rows`]) and which columns it sends.
//! A table read by a cursor streams in (cursor, key) order from a resume
//! point, or in key order by key ranges (`order=key`, a first copy); a
//! table synced by digests streams in key order (all of it, a key range,
//! or listed keys); a keyless table streams whole.

use std::collections::HashSet;

use mysql::Value;
use serde_json::value::RawValue;

use dbdump_shared::http as h;
use dbdump_shared::since::UtcTime;
use dbdump_shared::value;
use dbdump_shared::wire::Column;

use crate::error::ApiError;
use crate::inspect::{cursor, TableMeta};

/// Most keys one `keys` request may list.
pub const MAX_KEYS: usize = 1000;

/// The query parameters of a stream request.
#[derive(Debug, Default, PartialEq)]
pub struct Params {
    pub since: Option<UtcTime>,
    /// JSON array of key values in wire encoding: with `since`, the resume
    /// point's key; in key order, the range's lower bound (exclusive).
    pub after_key: Option<String>,
    /// In key order, the range's upper bound (inclusive).
    pub until_key: Option<String>,
    /// Only rows with a timestamp before this (or none): an upper bound
    /// below the horizon.
    pub before: Option<UtcTime>,
    /// JSON array of keys (each an array of key values): only those rows.
    pub keys: Option<String>,
    /// `key`: rows in key order (`after_key`, `until_key` bound them).
    pub key_order: bool,
    pub include: Option<Vec<String>>,
    pub exclude: Vec<String>,
    /// The named cursor column (`cursor=`, see `inspect::cursor`).
    pub cursor: Option<String>,
    /// The time zone a DATETIME cursor's values are written in (see
    /// `horizon::wallclock`).
    pub cursor_zone: Option<String>,
    /// `s` or `ms`: the unit of an integer cursor of Unix time.
    pub cursor_unit: Option<String>,
}

pub fn column_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

const KNOWN: &str = "since, after_key, until_key, before, keys, order, include_columns, \
                     exclude_columns, cursor, cursor_zone, cursor_unit";

impl Params {
    pub fn parse(query: &str) -> Result<Params, ApiError> {
        let bad = ApiError::BadRequest;
        let time = |name: &str, v: &str| {
            UtcTime::parse(v).map_err(|e| ApiError::BadRequest(format!("{name}: {e}")))
        };
        let mut p = Params::default();
        let mut seen = HashSet::new();
        for (k, v) in h::parse_query(query).map_err(bad)? {
            if !seen.insert(k.clone()) {
                return Err(bad(format!("query parameter {k} given twice")));
            }
            match k.as_str() {
                "since" => p.since = Some(time("since", &v)?),
                "after_key" => p.after_key = Some(v),
                "until_key" => p.until_key = Some(v),
                "before" => p.before = Some(time("before", &v)?),
                "keys" => p.keys = Some(v),
                "order" if v == "key" => p.key_order = true,
                "order" => return Err(bad(format!("order must be key, not {v:?}"))),
                "include_columns" => p.include = Some(column_list(&v)),
                "exclude_columns" => p.exclude = column_list(&v),
                "cursor" => p.cursor = Some(v),
                "cursor_zone" => p.cursor_zone = Some(v),
                "cursor_unit" => p.cursor_unit = Some(v),
                other => {
                    return Err(bad(format!(
                        "unknown query parameter {other:?}; known: {KNOWN}"
                    )))
                }
            }
        }
        if p.cursor_zone.is_some() && p.cursor.is_none() {
            return Err(bad(
                "cursor_zone needs cursor: it says how a named DATETIME cursor's values read"
                    .into(),
            ));
        }
        if p.keys.is_some() && (p.since.is_some() || p.key_order) {
            return Err(bad(
                "keys asks for rows by key: it cannot be combined with since/after_key or order"
                    .into(),
            ));
        }
        if p.key_order && p.since.is_some() {
            return Err(bad(
                "order=key reads key ranges (after_key, until_key): since is for the cursor's order"
                    .into(),
            ));
        }
        Ok(p)
    }

    /// Which rows the request asks for, of table `t`.
    pub fn rows(&self, t: &TableMeta) -> Result<Rows, ApiError> {
        let bad = |m: String| Err(ApiError::BadRequest(m));
        if t.key.is_empty() {
            let keyed = self.since.is_some()
                || self.before.is_some()
                || self.keys.is_some()
                || self.key_order
                || self.after_key.is_some()
                || self.until_key.is_some();
            if keyed {
                return bad(format!(
                    "table `{}` has no key: it streams whole (since, before, keys, order and key \
                     bounds do not apply)",
                    t.name
                ));
            }
            return Ok(Rows::Everything);
        }
        if t.timestamp.is_none() && (self.since.is_some() || self.before.is_some()) {
            return bad(format!(
                "table `{}` has no auto-updating TIMESTAMP column: it is synced by digests and \
                 streams in key order, so since and before do not apply{}",
                t.name,
                cursor::hint(t)
            ));
        }
        if let Some(keys) = &self.keys {
            if self.after_key.is_some() || self.until_key.is_some() {
                return bad("keys cannot be combined with key bounds".into());
            }
            return Ok(Rows::Keys(keys_values(t, keys)?));
        }
        let key = |raw: &Option<String>, param: &str| {
            raw.as_deref().map(|k| decode_key(t, k, param)).transpose()
        };
        if self.key_order || t.timestamp.is_none() {
            return Ok(Rows::KeyRange(
                key(&self.after_key, "after_key")?,
                key(&self.until_key, "until_key")?,
            ));
        }
        if self.until_key.is_some() {
            return bad("until_key bounds a key range: it needs order=key".into());
        }
        match (self.since, &self.after_key) {
            (None, None) => Ok(Rows::Everything),
            (None, Some(_)) => bad("after_key needs since (or order=key)".into()),
            (Some(s), None) => Ok(Rows::Since(s)),
            (Some(s), Some(k)) => Ok(Rows::After(s, decode_key(t, k, "after_key")?)),
        }
    }
}

/// Which rows of a table a stream holds, all of them below the horizon
/// when the table has a cursor.
#[derive(Debug, PartialEq)]
pub enum Rows {
    /// Every row (cursors that are NULL or no time included).
    Everything,
    /// Rows whose cursor is at or after this time.
    Since(UtcTime),
    /// Rows after this (cursor time, key).
    After(UtcTime, Vec<Value>),
    /// The rows with these keys.
    Keys(Vec<Vec<Value>>),
    /// In key order, the keys in `(after, until]` (either side open).
    KeyRange(Option<Vec<Value>>, Option<Vec<Value>>),
}

/// Indexes of the columns to send, in table order. The timestamp and key
/// columns are always sent (the stream is ordered and resumed by them):
/// `include_columns` need not name them, `exclude_columns` may not.
/// Generated columns are never sent: the destination computes them (and
/// refuses values for them).
pub fn select_columns(t: &TableMeta, p: &Params) -> Result<Vec<usize>, ApiError> {
    let lookup = |name: &String, param: &str| {
        t.column(name).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "unknown column `{name}` in {param} of table `{}`",
                t.name
            ))
        })
    };
    let mut wanted: Vec<bool> = vec![p.include.is_none(); t.columns.len()];
    if let Some(include) = &p.include {
        for name in include {
            let i = lookup(name, "include_columns")?;
            if t.columns[i].generated {
                return Err(ApiError::BadRequest(format!(
                    "column `{name}` of table `{}` is generated: it is never sent, the destination computes it",
                    t.name
                )));
            }
            wanted[i] = true;
        }
    }
    for name in &p.exclude {
        wanted[lookup(name, "exclude_columns")?] = false;
    }
    for (i, c) in t.columns.iter().enumerate() {
        if c.generated {
            wanted[i] = false;
        }
    }
    if !wanted.iter().any(|w| *w) {
        return Err(ApiError::BadRequest(
            "nothing left to select: include_columns/exclude_columns leave no column".into(),
        ));
    }
    for i in t.timestamp.iter().chain(&t.key) {
        if p.exclude.contains(&t.columns[*i].name) {
            return Err(ApiError::BadRequest(format!(
                "column `{}` cannot be excluded: it is the timestamp or part of the key",
                t.columns[*i].name
            )));
        }
        wanted[*i] = true;
    }
    Ok((0..t.columns.len()).filter(|&i| wanted[i]).collect())
}

/// Column `i` of `t` as a stream header describes it.
pub fn wire_column(t: &TableMeta, i: usize) -> Column {
    let c = &t.columns[i];
    Column {
        name: c.name.clone(),
        sql_type: c.column_type.clone(),
        encoding: c.encoding(),
    }
}

/// Decodes a key (a JSON array with one value per key column, in wire
/// encoding) of parameter `param`; errors are 400s naming it.
pub fn decode_key(t: &TableMeta, raw: &str, param: &str) -> Result<Vec<Value>, ApiError> {
    let bad = |m: String| ApiError::BadRequest(format!("{param}: {m}"));
    let items: Vec<&RawValue> =
        serde_json::from_str(raw).map_err(|e| bad(format!("not a JSON array: {e}")))?;
    if items.len() != t.key.len() {
        return Err(bad(format!(
            "expected {} key values, got {}",
            t.key.len(),
            items.len()
        )));
    }
    items
        .iter()
        .zip(&t.key)
        .map(|(item, &i)| {
            let v = value::decode_value(item, &wire_column(t, i)).map_err(bad)?;
            if v == Value::NULL {
                return Err(bad("key values cannot be null".into()));
            }
            Ok(v)
        })
        .collect()
}

/// Decodes `keys`: a JSON array of 1 to [`MAX_KEYS`] keys.
fn keys_values(t: &TableMeta, raw: &str) -> Result<Vec<Vec<Value>>, ApiError> {
    let items: Vec<&RawValue> = serde_json::from_str(raw)
        .map_err(|e| ApiError::BadRequest(format!("keys: not a JSON array of keys: {e}")))?;
    if items.is_empty() || items.len() > MAX_KEYS {
        return Err(ApiError::BadRequest(format!(
            "keys: give from 1 to {MAX_KEYS} keys, not {}",
            items.len()
        )));
    }
    items
        .iter()
        .map(|k| decode_key(t, k.get(), "keys"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::ColumnMeta;

    fn table() -> TableMeta {
        let col = |name: &str, ty: &str| ColumnMeta::plain(name, ty, "");
        let mut t = TableMeta::new(
            "t".into(),
            vec![
                col("id", "int"),
                col("a", "varchar"),
                col("b", "blob"),
                col("ts", "timestamp"),
            ],
        );
        t.timestamp = Some(3);
        t.key = vec![0];
        t.key_index = Some("PRIMARY".into());
        t.timestamp_index = Some("ts".into());
        t
    }

    fn params(q: &str) -> Result<Params, ApiError> {
        Params::parse(q)
    }

    #[test]
    fn parses_parameters() {
        let p = params("since=2014-09-01+01:23:45&include_columns=a,b&exclude_columns=b").unwrap();
        assert_eq!(p.since.unwrap().format(0), "2014-09-01 01:23:45");
        assert_eq!(p.include, Some(vec!["a".into(), "b".into()]));
        assert_eq!(p.exclude, vec!["b".to_string()]);
        assert!(params("since=garbage")
            .unwrap_err()
            .to_string()
            .contains("since"));
        assert!(params("sinse=2014-01-01")
            .unwrap_err()
            .to_string()
            .contains("unknown query parameter"));
        assert!(params("since=2014-01-01&since=2014-01-02").is_err());
        assert_eq!(params("").unwrap(), Params::default());
        let p = params("cursor=updated_at&cursor_zone=Europe%2FBerlin").unwrap();
        assert_eq!(p.cursor.as_deref(), Some("updated_at"));
        assert_eq!(p.cursor_zone.as_deref(), Some("Europe/Berlin"));
        assert!(params("cursor_zone=UTC")
            .unwrap_err()
            .to_string()
            .contains("needs cursor"));
        assert!(params("order=ts").is_err());
        assert!(params("order=key&since=2020-01-01").is_err());
        assert!(params("order=key&keys=[[1]]").is_err());
    }

    #[test]
    fn column_selection_keeps_order_key_and_timestamp() {
        let t = table();
        assert_eq!(
            select_columns(&t, &params("").unwrap()).unwrap(),
            [0, 1, 2, 3]
        );
        assert_eq!(
            select_columns(&t, &params("include_columns=b").unwrap()).unwrap(),
            [0, 2, 3]
        );
        assert_eq!(
            select_columns(&t, &params("exclude_columns=a,b").unwrap()).unwrap(),
            [0, 3]
        );
        let err = select_columns(&t, &params("include_columns=nope").unwrap()).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains("`nope`"));
        let err = select_columns(&t, &params("exclude_columns=ts").unwrap()).unwrap_err();
        assert!(err.to_string().contains("cannot be excluded"));
        let err = select_columns(&t, &params("include_columns=a&exclude_columns=a").unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("nothing left"));
        let err = select_columns(&t, &params("include_columns=").unwrap()).unwrap_err();
        assert!(err.to_string().contains("nothing left"));
    }

    fn rows(t: &TableMeta, q: &str) -> Result<Rows, ApiError> {
        params(q)?.rows(t)
    }

    #[test]
    fn after_key_is_checked() {
        let t = table();
        let at = "since=2020-01-01&after_key=";
        assert!(
            matches!(rows(&t, &format!("{at}[5]")), Ok(Rows::After(_, k)) if k == [Value::Int(5)])
        );
        for bad in ["[5,6]", "[null]", "5", "["] {
            assert_eq!(
                rows(&t, &format!("{at}{bad}")).unwrap_err().status(),
                400,
                "{bad}"
            );
        }
        assert!(rows(&t, "after_key=[1]").is_err(), "after_key needs since");
        assert!(
            rows(&t, "until_key=[1]").is_err(),
            "until_key needs order=key"
        );
    }

    #[test]
    fn key_order_and_tables_without_cursor_or_key() {
        let t = table();
        assert_eq!(
            rows(&t, "order=key&after_key=[1]&until_key=[9]").unwrap(),
            Rows::KeyRange(Some(vec![Value::Int(1)]), Some(vec![Value::Int(9)]))
        );
        let mut digest = table();
        digest.timestamp = None;
        assert_eq!(rows(&digest, "").unwrap(), Rows::KeyRange(None, None));
        assert_eq!(
            rows(&digest, "after_key=[3]").unwrap(),
            Rows::KeyRange(Some(vec![Value::Int(3)]), None)
        );
        assert!(matches!(rows(&digest, "keys=[[1],[2]]"), Ok(Rows::Keys(k)) if k.len() == 2));
        let e = rows(&digest, "since=2020-01-01").unwrap_err().to_string();
        assert!(e.contains("synced by digests"), "{e}");
        let mut keyless = digest;
        keyless.key.clear();
        assert_eq!(rows(&keyless, "").unwrap(), Rows::Everything);
        let e = rows(&keyless, "keys=[[1]]").unwrap_err().to_string();
        assert!(e.contains("no key"), "{e}");
    }
}
