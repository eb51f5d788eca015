//! The destination side: its own resume point per table, and batched
//! upserts. Each batch is one multi-row INSERT … ON DUPLICATE KEY UPDATE,
//! a single statement and so a single transaction: a crash leaves a prefix
//! of the stream applied, and the destination's newest (timestamp, key) is
//! exactly where the next run resumes.

use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Conn, Statement, Value};

use dbdump_shared::cursor::CursorKind;
use dbdump_shared::dberror;
use dbdump_shared::sql::{take, Endpoint};
use dbdump_shared::value::{self, ValueCodec};
use dbdump_shared::wire::Header;

use crate::apply::failure::TableError;
use crate::config::Config;
use crate::source::requests::Resume;
use crate::sql;

/// Most rows per INSERT (also bounded by 65,535 placeholders).
pub const BATCH_ROWS: usize = 1000;
/// Most bytes of row data per INSERT, when `max_allowed_packet` allows.
pub const BATCH_BYTES: usize = 4 << 20;

pub struct Destination {
    conn: Conn,
    pub database: String,
    batch_bytes: usize,
    /// The last full batch's statement, kept for the next stream into the
    /// same table (a first copy's next range) and closed when another
    /// takes its place: each holds the definitions of its thousands of
    /// placeholders (megabytes), and one per table would add up.
    full: Option<Statement>,
}

/// One destination column as `information_schema.COLUMNS` describes it.
#[derive(Debug, Clone)]
pub struct ColumnType {
    pub name: String,
    pub data_type: String,
    pub charset: Option<String>,
    pub column_type: String,
    /// A virtual or stored generated column (the database computes it).
    pub generated: bool,
}

fn db_err(context: &str) -> impl Fn(mysql::Error) -> TableError + '_ {
    move |e| TableError::database(context, &e)
}

impl Destination {
    pub fn connect(c: &Config) -> Result<Destination, String> {
        // A dry run's session refuses writes, should one slip through.
        let mut init = sql::SESSION_INIT.to_vec();
        if c.dry_run.is_some() {
            init.push(sql::READ_ONLY);
        }
        let dest = Endpoint {
            host: &c.dest_host,
            port: c.dest_port,
            user: &c.dest_username,
            password: c.dest_password.as_deref(),
            init: &init,
            io_timeout: Duration::from_secs(600),
        };
        let mut conn = Conn::new(dest.opts()).map_err(|e| {
            format!(
                "cannot connect to the destination database {}: {}",
                dest.label(),
                dberror::describe(&e)
            )
        })?;
        let max_packet: Option<u64> = conn
            .query_first(sql::MAX_ALLOWED_PACKET)
            .map_err(db_err("destination"))?;
        // Leave room for the statement text and packet overhead.
        let batch_bytes =
            (max_packet.unwrap_or(16 << 20) as usize / 2).clamp(64 << 10, BATCH_BYTES);
        Ok(Destination {
            conn,
            database: c.dest_database.clone(),
            batch_bytes,
            full: None,
        })
    }

    /// The table's column names, or an error naming the missing table.
    pub fn columns(&mut self, table: &str) -> Result<Vec<String>, TableError> {
        let rows: Vec<mysql::Row> = self
            .conn
            .exec(sql::TABLE_COLUMNS, (&self.database, table))
            .map_err(db_err("destination"))?;
        let mut out = Vec::new();
        for mut r in rows {
            let (schema, t, c): (String, String, String) =
                (take(&mut r, 0)?, take(&mut r, 1)?, take(&mut r, 2)?);
            if schema == self.database && t == table {
                out.push(c);
            }
        }
        if out.is_empty() {
            return Err(format!(
                "destination table `{}`.`{table}` does not exist; create it with the source's DDL first, or run with --create-tables",
                self.database
            )
            .into());
        }
        Ok(out)
    }

    /// The session, for the comparison's reads (`digests`) and deletes
    /// (`repair`), which share its settings.
    pub fn conn(&mut self) -> &mut Conn {
        &mut self.conn
    }

    /// Each column of `table`: name, data type, character set (if text)
    /// and full type, in table order; an error names a missing table.
    pub fn column_types(&mut self, table: &str) -> Result<Vec<ColumnType>, String> {
        let rows: Vec<mysql::Row> = self
            .conn
            .exec(sql::COLUMN_TYPES, (&self.database, table))
            .map_err(db_err("destination"))?;
        let mut out = Vec::new();
        for mut r in rows {
            let (schema, t): (String, String) = (take(&mut r, 0)?, take(&mut r, 1)?);
            if schema == self.database && t == table {
                out.push(ColumnType {
                    name: take(&mut r, 2)?,
                    data_type: take(&mut r, 3)?,
                    charset: take(&mut r, 4)?,
                    column_type: take(&mut r, 5)?,
                    generated: {
                        let extra: Option<String> = take(&mut r, 6)?;
                        let e = extra.unwrap_or_default().to_ascii_lowercase();
                        e.contains("virtual generated")
                            || e.contains("stored generated")
                            || e.contains("persistent generated")
                    },
                });
            }
        }
        if out.is_empty() {
            return Err(format!(
                "destination table `{}`.`{table}` does not exist",
                self.database
            ));
        }
        Ok(out)
    }

    /// The destination's newest (timestamp, key) in `table`, if it has rows
    /// whose timestamp is a time (`kind` says how its values hold one; an
    /// integer or text cursor's values that are no time are passed over).
    pub fn resume_point(
        &mut self,
        table: &str,
        ts: &str,
        key: &[String],
        kind: CursorKind,
    ) -> Result<Option<Resume>, TableError> {
        let bounds = kind.bounds();
        let query = sql::resume_point(&self.database, table, ts, key, bounds.is_some());
        let params: Vec<Value> = bounds.map(|(lo, hi)| vec![lo, hi]).unwrap_or_default();
        let mut result = self
            .conn
            .exec_iter(query, params)
            .map_err(db_err("reading the resume point"))?;
        let codecs = ValueCodec::for_columns(result.columns().as_ref());
        let row = match result.next() {
            None => return Ok(None),
            Some(r) => r.map_err(db_err("reading the resume point"))?,
        };
        drop(result);
        let since = match row.as_ref(0).and_then(|v| kind.time_of(v)) {
            Some(at) => at,
            None => {
                // In SQL's words (`'2024-13-01'`, `NULL`), not the driver's.
                let shown = row
                    .as_ref(0)
                    .map_or_else(|| "nothing".to_string(), |v| v.as_sql(false));
                return Err(format!(
                    "the newest row of `{table}` has {shown} in its timestamp column `{ts}`, \
                     not a {}; check that column's type and values on the destination",
                    match kind {
                        CursorKind::Temporal => "date and time",
                        CursorKind::Unix(_) => "Unix time",
                        CursorKind::Digits14 => "YYYYMMDDHHMMSS time",
                    }
                )
                .into());
            }
        };
        let mut after_key = b"[".to_vec();
        for (i, codec) in codecs.iter().enumerate().skip(1) {
            if i > 1 {
                after_key.push(b',');
            }
            value::encode_value(
                &mut after_key,
                row.as_ref(i).unwrap_or(&Value::NULL),
                *codec,
            )
            .map_err(|e| format!("key of `{table}`: {e}"))?;
        }
        after_key.push(b']');
        Ok(Some(Resume {
            since,
            after_key: String::from_utf8(after_key).map_err(|e| e.to_string())?,
        }))
    }

    /// Whether `table` holds no row at all.
    pub fn is_empty(&mut self, table: &str) -> Result<bool, TableError> {
        let any: Option<u8> = self
            .conn
            .query_first(sql::any_row(&self.database, table))
            .map_err(db_err("destination"))?;
        Ok(any.is_none())
    }

    /// That `table` has every one of `columns`, or an error naming the
    /// ones it lacks (or the missing table).
    pub fn has_columns(&mut self, table: &str, columns: &[String]) -> Result<(), TableError> {
        let existing = self.columns(table)?;
        let missing: Vec<String> = columns
            .iter()
            .filter(|c| !existing.iter().any(|e| e.eq_ignore_ascii_case(c)))
            .map(|m| format!("`{m}`"))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(format!(
            "destination table `{}`.`{table}` has no column {}",
            self.database,
            missing.join(", ")
        )
        .into())
    }

    /// A writer for the rows of one stream, after checking that the
    /// destination table has every column the stream carries.
    pub fn writer(&mut self, header: &Header, table: &str) -> Result<TableWriter<'_>, TableError> {
        let columns: Vec<String> = header.columns.iter().map(|c| c.name.clone()).collect();
        self.has_columns(table, &columns)?;
        let limits = Limits {
            rows: BATCH_ROWS.min(65_535 / columns.len().max(1)).max(1),
            bytes: self.batch_bytes,
        };
        Ok(TableWriter {
            table: table.to_string(),
            columns,
            limits,
            full: None,
            applied: 0,
            dest: self,
        })
    }
}

/// How big a batch may grow: rows (and placeholders) and bytes.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub rows: usize,
    pub bytes: usize,
}

/// The rows of one INSERT, values in header order, row after row; `bytes`
/// counts their size on the wire, a good enough estimate of their size in
/// the INSERT.
#[derive(Default, Debug)]
pub struct Batch {
    pub params: Vec<Value>,
    pub rows: usize,
    pub bytes: usize,
}

impl Batch {
    pub fn is_full(&self, limits: Limits) -> bool {
        self.rows >= limits.rows || self.bytes >= limits.bytes
    }
}

/// Writes batches of one stream, in order, each as one statement.
pub struct TableWriter<'a> {
    dest: &'a mut Destination,
    table: String,
    columns: Vec<String>,
    limits: Limits,
    /// Prepared statement for a full batch, reused for every one (also
    /// kept by the destination).
    full: Option<Statement>,
    applied: u64,
}

impl TableWriter<'_> {
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Writes `batch` as one INSERT … ON DUPLICATE KEY UPDATE (one
    /// transaction).
    pub fn write(&mut self, batch: Batch) -> Result<(), TableError> {
        let rows = batch.rows;
        if rows == 0 {
            return Ok(());
        }
        let context = |e: mysql::Error| {
            let doing = format!("writing {rows} rows to destination table `{}`", self.table);
            TableError::database(&doing, &e)
        };
        let db = &self.dest.database;
        let conn = &mut self.dest.conn;
        if rows == self.limits.rows {
            if self.full.is_none() {
                let text = sql::upsert(db, &self.table, &self.columns, rows);
                // The connection's cache still has it when the stream
                // before was of this table.
                let stmt = conn.prep(text).map_err(context)?;
                if let Some(old) = self.dest.full.replace(stmt.clone()) {
                    if old.id() != stmt.id() {
                        let _ = conn.close(old);
                    }
                }
                self.full = Some(stmt);
            }
            if let Some(stmt) = &self.full {
                conn.exec_drop(stmt, batch.params).map_err(context)?;
            }
        } else {
            // A short batch (the end of a stream, or big rows): prepare,
            // run, forget.
            let text = sql::upsert(db, &self.table, &self.columns, rows);
            let stmt = conn.prep(text).map_err(context)?;
            let result = conn.exec_drop(&stmt, batch.params).map_err(context);
            let _ = conn.close(stmt);
            result?;
        }
        self.applied += rows as u64;
        Ok(())
    }

    /// Rows written so far.
    pub fn applied(&self) -> u64 {
        self.applied
    }
}
