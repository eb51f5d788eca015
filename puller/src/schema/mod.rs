//! `--create-tables`: the destination database and each missing table are
//! created from the source's definition (`GET /<db>/<table>/schema`) before
//! their first rows arrive; later, a column added on the source is added
//! to the destination, with the same definition and position, before that
//! table's next rows are applied (and its values then arrive by a
//! `--verify` pass, since the rows' timestamps did not move). A column the
//! source dropped, or whose type changed, stops that table with an error
//! naming both definitions. Statements are written by `ddl` from parts that
//! `sqlcheck` checked; `--dry-run` asks what would be created or added
//! (`would_create`, `missing_columns`) and runs none. Uses `apply`,
//! `source`, `config` and `sql`.

use std::collections::BTreeSet;

use mysql::prelude::Queryable;

use dbdump_shared::dberror::describe;
use dbdump_shared::http::percent_encode;
use dbdump_shared::schema::{ColumnDefinition, TableDefinition};
use dbdump_shared::wire::{Column, Encoding, PROTOCOL};
use dbdump_shared::{info, warn};

use crate::apply::destination::Destination;
use crate::apply::failure::TableError;
use crate::config::tables::Named;
use crate::config::Config;
use crate::source::client::Client;
use crate::source::requests::cursor_params;
use crate::source::retry::with_busy_retry;
use crate::sql;

pub mod ddl;
pub mod sqlcheck;

/// The source's definition of `table` (synced by `cursor`, if named).
fn definition(
    cfg: &Config,
    client: &Client,
    table: &str,
    cursor: Option<&Named>,
) -> Result<TableDefinition, String> {
    let mut path = format!(
        "/{}/{}/schema",
        percent_encode(&cfg.source_database),
        percent_encode(table)
    );
    let params = cursor_params(cfg, cursor, false);
    if !params.is_empty() {
        path.push('?');
        path.push_str(&params.join("&"));
    }
    let def: TableDefinition = with_busy_retry(|| client.get_json(&path))
        .map_err(|e| format!("cannot read the definition of `{table}`: {e}"))?;
    if def.protocol != PROTOCOL || def.table != table {
        return Err(format!(
            "dbd_server sent the definition of `{}` (protocol {}) for `{table}`",
            def.table, def.protocol
        ));
    }
    Ok(def)
}

fn run(dest: &mut Destination, statement: &str, doing: &str) -> Result<(), String> {
    dbdump_shared::debug!("{statement}");
    dest.conn()
        .query_drop(statement)
        .map_err(|e| format!("{doing}: {}", describe(&e)))
}

/// Whether the destination database exists.
pub fn database_exists(dest: &mut Destination) -> Result<bool, String> {
    let db = dest.database.clone();
    let exists: Option<u64> = dest
        .conn()
        .exec_first(sql::DATABASE_EXISTS, (&db,))
        .map_err(|e| format!("destination: {}", describe(&e)))?;
    Ok(exists.unwrap_or(0) > 0)
}

/// Creates the destination database if it is missing, with the character
/// set of the source's (from `first`, the first table's definition: its
/// name and named cursor).
pub fn ensure_database(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    first: Option<(&str, Option<&Named>)>,
) -> Result<(), String> {
    let db = dest.database.clone();
    if database_exists(dest)? {
        return Ok(());
    }
    let statement = match first {
        Some((table, cursor)) => {
            let def = definition(cfg, client, table, cursor)?;
            ddl::create_database(&db, &def.database_charset, &def.database_collation)?
        }
        None => ddl::create_database(&db, "utf8mb4", "utf8mb4_general_ci")?,
    };
    run(
        dest,
        &statement,
        &format!("creating destination database `{db}`"),
    )?;
    info!("created destination database `{db}`");
    Ok(())
}

/// Creates `table` on the destination if it is missing. Returns whether it
/// did.
pub fn create_if_missing(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    table: &str,
    cursor: Option<&Named>,
) -> Result<bool, String> {
    let Some(statement) = creation(cfg, client, dest, table, cursor)? else {
        return Ok(false);
    };
    run(
        dest,
        &statement,
        &format!("creating destination table `{table}`"),
    )?;
    info!("created destination table `{table}`");
    Ok(true)
}

/// The statement that would create `table`, if it is missing (`None`: it
/// is there), built and checked as [`create_if_missing`] builds it.
fn creation(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    table: &str,
    cursor: Option<&Named>,
) -> Result<Option<String>, String> {
    if dest.columns(table).is_ok() {
        return Ok(None);
    }
    let mut def = definition(cfg, client, table, cursor)?;
    leave_out_unfillable(&mut def, &cfg.excluded(table));
    ddl::create_table(&dest.database, &def).map(Some)
}

/// For `--dry-run`: whether [`create_if_missing`] would create `table`
/// (from the source's definition, which must pass the same checks); runs
/// nothing.
pub fn would_create(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    table: &str,
    cursor: Option<&Named>,
) -> Result<bool, String> {
    Ok(creation(cfg, client, dest, table, cursor)?.is_some())
}

/// Excluded (`-x`) columns that a created table could not fill (NOT NULL
/// without a default) are left out, with the keys, foreign keys, checks and
/// generated columns that use them. Excluded columns that can be filled
/// (nullable or with a default) are created and keep that value.
fn leave_out_unfillable(def: &mut TableDefinition, excluded: &[&str]) {
    let mut gone: BTreeSet<String> = def
        .columns
        .iter()
        .filter(|c| excluded.contains(&c.name.as_str()))
        .filter(|c| {
            !c.nullable && c.default.is_none() && c.generated.is_none() && !c.auto_increment
        })
        .map(|c| c.name.clone())
        .collect();
    if gone.is_empty() {
        return;
    }
    let uses = |expr: &str, gone: &BTreeSet<String>| {
        gone.iter()
            .any(|g| expr.contains(&format!("`{}`", g.replace('`', "``"))))
    };
    // Generated columns over a left-out column go too (and so on).
    loop {
        let more: Vec<String> = def
            .columns
            .iter()
            .filter(|c| !gone.contains(&c.name))
            .filter(|c| {
                c.generated
                    .as_ref()
                    .is_some_and(|g| uses(&g.expression, &gone))
            })
            .map(|c| c.name.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        gone.extend(more);
    }
    let table = def.table.clone();
    for name in &gone {
        warn!("table `{table}`: column `{name}` is excluded and could not be filled (NOT NULL, no default): not created");
    }
    def.columns.retain(|c| !gone.contains(&c.name));
    for c in &mut def.columns {
        if c.check.as_deref().is_some_and(|e| uses(e, &gone)) {
            c.check = None;
        }
    }
    def.indexes
        .retain(|i| !i.columns.iter().any(|c| gone.contains(&c.name)));
    def.foreign_keys
        .retain(|f| !f.columns.iter().any(|c| gone.contains(c)));
    def.checks.retain(|c| !uses(&c.clause, &gone));
}

/// Before a table synced by digests is compared: [`reconcile`] with the
/// columns its stream would carry, from its definition (there is no stream
/// header to read them from).
pub fn reconcile_by_definition(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    table: &str,
) -> Result<Vec<String>, TableError> {
    let columns = streamed_columns(cfg, client, table)?;
    reconcile(cfg, client, dest, table, None, &columns)
}

/// The columns a stream of `table` (without a cursor) would carry, from
/// its definition.
fn streamed_columns(cfg: &Config, client: &Client, table: &str) -> Result<Vec<Column>, String> {
    let def = definition(cfg, client, table, None)?;
    let excluded = cfg.excluded(table);
    Ok(def
        .columns
        .iter()
        .filter(|c| c.generated.is_none())
        .filter(|c| !excluded.iter().any(|x| x.eq_ignore_ascii_case(&c.name)))
        .map(|c| Column {
            name: c.name.clone(),
            sql_type: c.sql_type.clone(),
            encoding: Encoding::String,
        })
        .collect())
}

/// For `--dry-run`: the names of the columns a stream of `table` (without
/// a cursor) would carry, from its definition.
pub fn streamed_names(cfg: &Config, client: &Client, table: &str) -> Result<Vec<String>, String> {
    Ok(streamed_columns(cfg, client, table)?
        .into_iter()
        .map(|c| c.name)
        .collect())
}

/// For `--dry-run`: the columns [`reconcile_by_definition`] would add to
/// `table` (or why it would stop the table); runs nothing.
pub fn would_add_by_definition(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    table: &str,
) -> Result<Vec<String>, TableError> {
    let columns = streamed_columns(cfg, client, table)?;
    missing_columns(cfg, dest, table, &columns)
}

/// Before a stream's rows are applied: adds the columns the stream carries
/// and the destination lacks (returns their names); stops the table when a
/// column's type differs, or when the destination has a column the source
/// no longer has.
pub fn reconcile(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    table: &str,
    cursor: Option<&Named>,
    columns: &[Column],
) -> Result<Vec<String>, TableError> {
    let missing = missing_columns(cfg, dest, table, columns)?;
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let existing = dest.column_types(table)?;
    let def = definition(cfg, client, table, cursor)?;
    let mut present: Vec<String> = existing.iter().map(|d| d.name.clone()).collect();
    let mut added = Vec::new();
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    for (i, c) in def.columns.iter().enumerate() {
        if !missing.iter().any(|m| same(m, &c.name)) {
            continue;
        }
        let after = previous_present(&def.columns[..i], &present);
        let statement = ddl::add_column(&dest.database, table, c, after.as_deref())?;
        run(
            dest,
            &statement,
            &format!("adding column `{}` to `{table}`", c.name),
        )?;
        info!(
            "table `{table}`: added column `{}` as on the source",
            c.name
        );
        present.push(c.name.clone());
        added.push(c.name.clone());
    }
    Ok(added)
}

/// The columns a stream carries (`columns`) that the destination table
/// lacks, in the stream's order; an error when a column's type differs,
/// or when the destination has a column the source no longer has (what
/// stops the table). Runs nothing: what a dry run tells of [`reconcile`].
pub fn missing_columns(
    cfg: &Config,
    dest: &mut Destination,
    table: &str,
    columns: &[Column],
) -> Result<Vec<String>, TableError> {
    let existing = dest.column_types(table)?;
    let excluded = cfg.excluded(table);
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    for c in columns {
        if let Some(d) = existing.iter().find(|d| same(&d.name, &c.name)) {
            if !same(&d.column_type, &c.sql_type) {
                return Err(format!(
                    "column `{}` of `{table}` is {} on the source but {} on the destination; \
                     change the destination's to the source's type (this table waits until they agree)",
                    c.name, c.sql_type, d.column_type
                )
                .into());
            }
        }
    }
    for d in &existing {
        let sent = columns.iter().any(|c| same(&c.name, &d.name));
        if !sent && !d.generated && !excluded.iter().any(|x| same(x, &d.name)) {
            return Err(format!(
                "column `{}` ({}) of destination table `{table}` is no longer on the source; \
                 drop it on the destination (ALTER TABLE … DROP COLUMN) to go on syncing this table",
                d.name, d.column_type
            )
            .into());
        }
    }
    Ok(columns
        .iter()
        .filter(|c| !existing.iter().any(|d| same(&d.name, &c.name)))
        .map(|c| c.name.clone())
        .collect())
}

/// The nearest column before a new one that the destination has.
fn previous_present(before: &[ColumnDefinition], present: &[String]) -> Option<String> {
    before
        .iter()
        .rev()
        .find(|c| present.iter().any(|p| p.eq_ignore_ascii_case(&c.name)))
        .map(|c| c.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbdump_shared::schema::{Generated, IndexColumn, IndexDefinition, IndexKind};

    fn col(name: &str, nullable: bool) -> ColumnDefinition {
        ColumnDefinition {
            nullable,
            ..ColumnDefinition::plain(name, "int(11)")
        }
    }

    #[test]
    fn unfillable_excluded_columns_are_left_out_with_what_uses_them() {
        let mut g = col("twice", true);
        g.generated = Some(Generated {
            expression: "`secret` * 2".into(),
            stored: false,
        });
        let mut def = TableDefinition {
            protocol: PROTOCOL,
            database: "d".into(),
            table: "t".into(),
            database_charset: "utf8mb4".into(),
            database_collation: "utf8mb4_general_ci".into(),
            engine: "InnoDB".into(),
            charset: "utf8mb4".into(),
            collation: "utf8mb4_general_ci".into(),
            comment: String::new(),
            options: Vec::new(),
            columns: vec![col("id", false), col("secret", false), col("note", true), g],
            indexes: vec![IndexDefinition {
                name: "s".into(),
                kind: IndexKind::Index,
                columns: vec![IndexColumn {
                    name: "secret".into(),
                    prefix: None,
                    descending: false,
                }],
                comment: String::new(),
            }],
            foreign_keys: Vec::new(),
            checks: Vec::new(),
        };
        leave_out_unfillable(&mut def, &["secret", "note"]);
        let names: Vec<&str> = def.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["id", "note"],
            "nullable `note` stays, `secret` and `twice` go"
        );
        assert!(def.indexes.is_empty());
    }

    #[test]
    fn new_columns_go_after_their_source_neighbour() {
        let cols = [col("a", true), col("b", true), col("c", true)];
        let present = vec!["a".to_string(), "c".to_string()];
        assert_eq!(previous_present(&cols[..1], &present).as_deref(), Some("a"));
        assert_eq!(previous_present(&cols[..0], &present), None);
    }
}
