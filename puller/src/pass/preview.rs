//! One table's `--dry-run`, by its method, reading what its pass would
//! read and writing nothing: a table read by a cursor has its change stream
//! (from the destination's resume point) counted, not applied; a first
//! copy is counted by a digest of the source's keys; a table synced by
//! digests, or converged with `--deletes`/`--verify`, has its comparison
//! run as a pass runs it, and the keys it would delete and repair counted
//! (those the stream brings anyway left out); a keyless table has its
//! digests compared. `--create-tables` tells what it would create or add.

use std::collections::HashSet;

use dbdump_shared::wire::Header;

use crate::apply::destination::Destination;
use crate::apply::failure::TableError;
use crate::apply::marker::{self, Mark};
use crate::apply::tally;
use crate::config::tables::Named;
use crate::config::Config;
use crate::converge::preview::{differences, source_rows};
use crate::converge::{whole, Mode};
use crate::observe::dry_run::{TablePreview, WholePreview};
use crate::pass::changes::Survey;
use crate::pass::tables::{ByCursor, How, Planned};
use crate::schema;
use crate::source::client::Client;
use crate::source::requests::stream_path;

/// What a pass would do to `planned`, in `mode` if it converges; `survey`
/// is the changes question's answer.
pub fn preview(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    planned: &Planned,
    survey: &Survey,
    mode: Option<Mode>,
) -> TablePreview {
    let before = client.bytes_read();
    let mut look = Look {
        cfg,
        client,
        table: &planned.name,
        found: TablePreview::new(planned.method_name(), planned.method()),
    };
    let done = match &planned.how {
        How::Refused { why, named: false } => {
            return TablePreview::skipped(planned.method_name(), planned.method(), why)
        }
        // Named in -t: a pass fails it.
        How::Refused { why, named: true } => Err(why.clone().into()),
        How::Cursor(by) => look.by_cursor(dest, planned, by, survey, mode),
        How::Digest { .. } => look.by_digest(dest),
        How::Whole => look.whole(dest),
    };
    match done {
        // A pass would skip it, and go on.
        Err(e) if e.refused_by_destination && cfg.ignore_database_errors => {
            look.found.why = Some(format!("--ignore-database-errors: {e}"));
        }
        Err(e) => look.found.fail(e.message),
        Ok(()) => {}
    }
    look.found.bytes_read = client.bytes_read() - before;
    look.found.settle();
    look.found
}

/// One table being looked at.
struct Look<'a> {
    cfg: &'a Config,
    client: &'a Client,
    table: &'a str,
    found: TablePreview,
}

impl Look<'_> {
    /// Whether the destination has the table. A missing one is one
    /// `--create-tables` would create (from the source's definition, which
    /// must pass the checks); without it, the error a pass fails it with.
    fn exists(
        &mut self,
        dest: &mut Destination,
        cursor: Option<&Named>,
    ) -> Result<bool, TableError> {
        match dest.columns(self.table) {
            Ok(_) => Ok(true),
            Err(_) if self.cfg.create_tables => {
                let create = schema::would_create(self.cfg, self.client, dest, self.table, cursor)?;
                self.found.create_table = create;
                Ok(!create)
            }
            Err(e) => Err(e),
        }
    }

    /// A first copy a killed puller left would be resumed: told, since the
    /// figures are counted as if it were done.
    fn note_interrupted_copy(&mut self, dest: &mut Destination) -> Result<(), TableError> {
        if Mark::parse(&marker::comment(dest, self.table)?).is_some() {
            self.found.notes.push(
                "an interrupted first copy would resume (the figures count from the rows the \
                 destination holds, so they are an estimate)"
                    .into(),
            );
        }
        Ok(())
    }

    /// A table read by a cursor: its stream from the resume point, unless
    /// the changes question found nothing new; then its comparison.
    fn by_cursor(
        &mut self,
        dest: &mut Destination,
        planned: &Planned,
        by: &ByCursor,
        survey: &Survey,
        mode: Option<Mode>,
    ) -> Result<(), TableError> {
        let (cfg, table) = (self.cfg, self.table);
        let cursor = by.named.as_ref();
        let (mut exists, mut resume) = (false, None);
        // Without the server's description (a -t table it does not list),
        // a pass asks for everything and lets the server explain.
        if let Some(info) = &by.info {
            exists = self.exists(dest, cursor)?;
            if exists {
                self.note_interrupted_copy(dest)?;
                resume =
                    dest.resume_point(table, &info.timestamp_column, &info.key, planned.kind())?;
            }
        }
        // An empty table gets a first copy: nothing to compare after it.
        let compare = match mode {
            Some(mode) if exists && !dest.is_empty(table)? => Some(mode),
            _ => None,
        };
        let mut brought = HashSet::new();
        if survey.unchanged(table).is_none() {
            let path = stream_path(cfg, table, cursor, resume.as_ref());
            let reshape = exists && cfg.create_tables;
            let mut added = Vec::new();
            // As a pass: --create-tables adds what the stream has and the
            // table lacks; without it, the table must have it all.
            let mut on_header = |header: &Header| {
                if reshape {
                    added = schema::missing_columns(cfg, dest, table, &header.columns)?;
                } else if exists {
                    let names: Vec<String> =
                        header.columns.iter().map(|c| c.name.clone()).collect();
                    dest.has_columns(table, &names)?;
                }
                Ok(())
            };
            let estimate = survey.estimate(table);
            let counted = tally::tally(
                self.client,
                table,
                &path,
                compare.is_some(),
                estimate,
                &mut on_header,
            )?;
            self.found.add_columns = added;
            self.found.rows_to_apply = counted.rows;
            brought = counted.keys;
        }
        if !self.found.add_columns.is_empty() {
            return self.after_new_columns();
        }
        match compare {
            Some(mode) => self.compare(dest, cursor, mode, &brought),
            None => Ok(()),
        }
    }

    /// A table synced by digests: a first copy into an empty (or missing)
    /// table, else its comparison.
    fn by_digest(&mut self, dest: &mut Destination) -> Result<(), TableError> {
        let exists = self.exists(dest, None)?;
        if exists {
            self.note_interrupted_copy(dest)?;
        }
        if !exists || dest.is_empty(self.table)? {
            if exists && !self.cfg.create_tables {
                // Its first copy needs every column the stream carries.
                let names = schema::streamed_names(self.cfg, self.client, self.table)?;
                dest.has_columns(self.table, &names)?;
            }
            self.found.rows_to_apply = source_rows(self.cfg, self.client, self.table)?;
            return Ok(());
        }
        if self.cfg.create_tables {
            self.found.add_columns =
                schema::would_add_by_definition(self.cfg, self.client, dest, self.table)?;
            if !self.found.add_columns.is_empty() {
                return self.after_new_columns();
            }
        }
        self.compare(dest, None, Mode::Verify, &HashSet::new())
    }

    /// A keyless table: its digests on both sides.
    fn whole(&mut self, dest: &mut Destination) -> Result<(), TableError> {
        let (cfg, table) = (self.cfg, self.table);
        let (source, destination) = if self.exists(dest, None)? {
            let compared = whole::compare(cfg, self.client, dest, table)?;
            (compared.source, compared.destination)
        } else {
            let (_, source) = whole::source_digest(cfg, self.client, table)?;
            (source, Default::default())
        };
        let differ = source != destination;
        if differ {
            whole::check_size(cfg, table, source.rows, destination.rows)?;
            self.found.rows_to_apply = source.rows;
        }
        self.found.whole = Some(WholePreview {
            source_rows: source.rows,
            destination_rows: destination.rows,
            differ,
        });
        Ok(())
    }

    /// A pass adds the columns, then compares the table to bring their
    /// values: that comparison cannot be made before they are there.
    fn after_new_columns(&mut self) -> Result<(), TableError> {
        self.found.compared = Some(Mode::Verify.name());
        self.found.notes.push(
            "a --verify of the table would follow the new columns, to bring their values; not \
             counted, since the destination lacks them yet"
                .into(),
        );
        Ok(())
    }

    /// The table's comparison in `mode`: what a pass would delete and
    /// repair, beyond the rows its stream brings (`brought`).
    fn compare(
        &mut self,
        dest: &mut Destination,
        cursor: Option<&Named>,
        mode: Mode,
        brought: &HashSet<String>,
    ) -> Result<(), TableError> {
        let d = differences(
            self.cfg,
            self.client,
            dest,
            self.table,
            cursor,
            mode,
            brought,
        )?;
        let f = &mut self.found;
        f.compared = Some(mode.name());
        f.chunks_compared = Some(d.chunks);
        f.chunks_differed = Some(d.differed);
        f.rows_to_delete = Some(d.deletes);
        f.delete_examples = TablePreview::examples(&d.delete_examples);
        f.rows_to_repair = d.repairs;
        f.repair_examples = TablePreview::examples(&d.repair_examples);
        Ok(())
    }
}
