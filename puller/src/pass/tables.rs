//! Which tables a pass syncs, in which order and how: `-t`'s entries
//! (`table`, `table.column[:s|:ms]`, `*`, `*.column`) resolved against the
//! server's listing. Without `-t` (and for `*`) every table the server
//! lists: by its auto-updating column, by digests of its key, or whole, and
//! the ones it cannot sync with the reason, to be told.

use dbdump_shared::cursor::{CursorKind, Unit};
use dbdump_shared::wire::{CursorCandidate, Method, TableEntry, TableInfo, TableList};

use crate::config::tables::{Choice, Named};

/// A table of a pass.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    pub name: String,
    pub how: How,
}

/// How a table is synced.
#[derive(Clone, Debug, PartialEq)]
pub enum How {
    /// Read by a cursor from the destination's resume point.
    Cursor(ByCursor),
    /// Compared by digests of its key, moving only what differs.
    Digest { key: Vec<String> },
    /// Copied whole when its digest differs (no key).
    Whole,
    /// Not synced, and why; `named`: the user named it in `-t` (so it is
    /// a failure, not a notice).
    Refused { why: String, named: bool },
}

/// A table read by a cursor.
#[derive(Clone, Debug, PartialEq)]
pub struct ByCursor {
    /// What the server's listing says, with the cursor as the timestamp
    /// column; `None` for a table it does not list as syncable that way
    /// (the server then says why).
    pub info: Option<TableInfo>,
    /// The column named as cursor (`None`: the auto-updating one).
    pub named: Option<Named>,
}

impl Planned {
    /// The cursor column it is read by, if it is.
    pub fn cursor(&self) -> Option<&Named> {
        match &self.how {
            How::Cursor(c) => c.named.as_ref(),
            _ => None,
        }
    }

    /// How this table's cursor values hold time (temporal without one).
    pub fn kind(&self) -> CursorKind {
        self.cursor().map_or(CursorKind::Temporal, |n| n.kind)
    }

    /// What the summary line and the status say about the method.
    pub fn method(&self) -> String {
        match &self.how {
            How::Cursor(ByCursor {
                info: Some(i),
                named: None,
            }) => format!("by timestamp `{}`", i.timestamp_column),
            How::Cursor(ByCursor { named: None, .. }) => "by timestamp".into(),
            How::Cursor(ByCursor { named: Some(n), .. }) => match (n.kind, n.unit) {
                (CursorKind::Unix(_), Some(u)) => {
                    format!("by cursor `{}` (unix {})", n.column, u.name())
                }
                (kind, _) => format!("by cursor `{}` ({})", n.column, kind.family()),
            },
            How::Digest { .. } => "by digests".into(),
            How::Whole => "whole".into(),
            How::Refused { .. } => "not synced".into(),
        }
    }

    /// The method's one word, for the status file: `timestamp`, `cursor`,
    /// `digest`, `whole` or `none`.
    pub fn method_name(&self) -> &'static str {
        match &self.how {
            How::Cursor(ByCursor { named: None, .. }) => "timestamp",
            How::Cursor(_) => "cursor",
            How::Digest { .. } => "digest",
            How::Whole => "whole",
            How::Refused { .. } => "none",
        }
    }
}

/// The listing's every table; from an older server (without
/// `every_table`), its `tables` as timestamp tables and its cursor tables
/// as tables it syncs only by a named cursor.
fn entries(listing: &TableList) -> Vec<TableEntry> {
    if !listing.every_table.is_empty() {
        return listing.every_table.clone();
    }
    let timestamped = listing.tables.iter().map(|t| TableEntry {
        table: t.table.clone(),
        method: Method::Timestamp,
        timestamp_column: Some(t.timestamp_column.clone()),
        key: t.key.clone(),
        key_index: None,
        cursors: Vec::new(),
        why: None,
    });
    let by_cursor = listing.cursor_tables.iter().map(|t| TableEntry {
        table: t.table.clone(),
        method: Method::None,
        timestamp_column: None,
        key: t.key.clone(),
        key_index: None,
        cursors: t.candidates.clone(),
        why: Some(format!(
            "this dbd_server (an older one) syncs `{}` only by a named cursor (-t {}.COLUMN)",
            t.table, t.table
        )),
    });
    timestamped.chain(by_cursor).collect()
}

/// How `e` is synced when no cursor is named.
fn as_listed(e: &TableEntry, named: bool) -> Planned {
    let how = match e.method {
        Method::Timestamp => How::Cursor(ByCursor {
            info: Some(TableInfo {
                table: e.table.clone(),
                timestamp_column: e.timestamp_column.clone().unwrap_or_default(),
                key: e.key.clone(),
                timestamp_indexed: true,
            }),
            named: None,
        }),
        Method::Digest => How::Digest { key: e.key.clone() },
        Method::Whole => How::Whole,
        Method::None => How::Refused {
            why: e
                .why
                .clone()
                .unwrap_or_else(|| "the server cannot sync it".into()),
            named,
        },
    };
    Planned {
        name: e.table.clone(),
        how,
    }
}

/// The tables of a pass: the `-t` entries in their order (a `*` stands for
/// the listed tables not named elsewhere), or every table the server lists.
pub fn plan(listing: &TableList, choices: Option<&[Choice]>) -> Vec<Planned> {
    let entries = entries(listing);
    let Some(choices) = choices else {
        return entries.iter().map(|e| as_listed(e, false)).collect();
    };
    let named: Vec<&str> = choices.iter().filter_map(|c| c.table.as_deref()).collect();
    let mut out: Vec<Planned> = Vec::new();
    for choice in choices {
        let planned: Vec<Planned> = match (&choice.table, &choice.cursor) {
            (Some(name), cursor) => {
                vec![named_table(&entries, name, cursor.as_deref(), choice.unit)]
            }
            (None, cursor) => {
                let mut all: Vec<Planned> = entries.iter().map(|e| as_listed(e, false)).collect();
                if let Some(column) = cursor {
                    for e in entries.iter().filter(|e| e.method != Method::Timestamp) {
                        if e.cursors.iter().any(|c| &c.column == column) {
                            all.retain(|p| p.name != e.table);
                            all.push(named_table(&entries, &e.table, Some(column), choice.unit));
                        }
                    }
                }
                all.retain(|p| !named.contains(&p.name.as_str()));
                all
            }
        };
        for p in planned {
            if !out.iter().any(|o| o.name == p.name) || choice.table.is_some() {
                out.push(p);
            }
        }
    }
    out
}

/// The cursor kind of `candidate` with the unit given, or why not.
fn kind(table: &str, c: &CursorCandidate, unit: Option<Unit>) -> Result<CursorKind, String> {
    match (c.kind.as_str(), unit) {
        ("unix", Some(u)) => Ok(CursorKind::Unix(u)),
        ("unix", None) => Err(format!(
            "column `{table}`.`{}` ({}) holds Unix time: name its unit, -t {table}.{}:s for \
             seconds or -t {table}.{}:ms for milliseconds",
            c.column, c.sql_type, c.column, c.column
        )),
        (_, Some(u)) => Err(format!(
            "column `{table}`.`{}` ({}) holds times of its own: the unit :{} is only for INT \
             and BIGINT columns of Unix time",
            c.column,
            c.sql_type,
            u.name()
        )),
        ("yyyymmddhhmmss", None) => Ok(CursorKind::Digits14),
        _ => Ok(CursorKind::Temporal),
    }
}

/// A table named in `-t`, read by `cursor` (with `unit`) if given.
fn named_table(
    entries: &[TableEntry],
    name: &str,
    cursor: Option<&str>,
    unit: Option<Unit>,
) -> Planned {
    let planned = |how| Planned {
        name: name.to_string(),
        how,
    };
    let unlisted = |cursor: Option<&str>| {
        planned(How::Cursor(ByCursor {
            info: None,
            named: cursor.map(|c| Named {
                column: c.to_string(),
                unit,
                kind: CursorKind::Temporal,
            }),
        }))
    };
    let Some(entry) = entries.iter().find(|e| e.table == name) else {
        return unlisted(cursor);
    };
    let Some(column) = cursor else {
        return as_listed(entry, true);
    };
    // Naming the auto-updating column is the same as naming none (the
    // original's `-t table.column` did just that).
    if entry.method == Method::Timestamp && entry.timestamp_column.as_deref() == Some(column) {
        return as_listed(entry, true);
    }
    let candidate = entry.cursors.iter().find(|c| c.column == column);
    let info = |indexed| TableInfo {
        table: entry.table.clone(),
        timestamp_column: column.to_string(),
        key: entry.key.clone(),
        timestamp_indexed: indexed,
    };
    match candidate {
        // Another column of an auto-updating table: the server explains
        // why it is not taken.
        _ if entry.method == Method::Timestamp => planned(How::Cursor(ByCursor {
            info: Some(info(false)),
            named: Some(Named {
                column: column.to_string(),
                unit,
                kind: CursorKind::Temporal,
            }),
        })),
        Some(c) => match kind(name, c, unit) {
            Ok(kind) => planned(How::Cursor(ByCursor {
                info: Some(info(c.indexed)),
                named: Some(Named {
                    column: column.to_string(),
                    unit,
                    kind,
                }),
            })),
            Err(why) => planned(How::Refused { why, named: true }),
        },
        None => unlisted(Some(column)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tables::parse;

    fn candidate(column: &str, kind: &str, indexed: bool) -> CursorCandidate {
        CursorCandidate {
            column: column.into(),
            sql_type: match kind {
                "unix" => "bigint(20)",
                "yyyymmddhhmmss" => "binary(14)",
                _ => "datetime(6)",
            }
            .into(),
            kind: kind.into(),
            nullable: false,
            indexed,
            default_current_timestamp: false,
            on_update_current_timestamp: false,
        }
    }

    fn entry(table: &str, method: Method, cursors: Vec<CursorCandidate>) -> TableEntry {
        TableEntry {
            table: table.into(),
            method,
            timestamp_column: (method == Method::Timestamp).then(|| "ts".into()),
            key: if method == Method::Whole {
                vec![]
            } else {
                vec!["id".into()]
            },
            key_index: None,
            cursors,
            why: (method == Method::None).then(|| "its key is generated".into()),
        }
    }

    fn listing() -> TableList {
        TableList {
            database: "d".into(),
            tables: Vec::new(),
            cursor_tables: Vec::new(),
            every_table: vec![
                entry("auto", Method::Timestamp, vec![]),
                entry("audit", Method::Timestamp, vec![]),
                entry(
                    "users",
                    Method::Digest,
                    vec![
                        candidate("created_at", "datetime", false),
                        candidate("updated_at", "datetime", true),
                    ],
                ),
                entry(
                    "events",
                    Method::Digest,
                    vec![candidate("created_at", "datetime", false)],
                ),
                entry(
                    "mdl_course",
                    Method::Digest,
                    vec![candidate("timemodified", "unix", true)],
                ),
                entry(
                    "page",
                    Method::Digest,
                    vec![candidate("page_touched", "yyyymmddhhmmss", true)],
                ),
                entry("wp_options", Method::Digest, vec![]),
                entry("log", Method::Whole, vec![]),
                entry("odd", Method::None, vec![]),
            ],
        }
    }

    fn names(plan: &[Planned]) -> Vec<(&str, &str, Option<&str>)> {
        plan.iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.method_name(),
                    p.cursor().map(|n| n.column.as_str()),
                )
            })
            .collect()
    }

    fn plan_of(t: &str) -> Vec<Planned> {
        plan(&listing(), Some(&parse(t).unwrap()))
    }

    #[test]
    fn without_tables_every_table_is_planned_by_its_method() {
        let plan = plan(&listing(), None);
        assert_eq!(
            names(&plan),
            [
                ("auto", "timestamp", None),
                ("audit", "timestamp", None),
                ("users", "digest", None),
                ("events", "digest", None),
                ("mdl_course", "digest", None),
                ("page", "digest", None),
                ("wp_options", "digest", None),
                ("log", "whole", None),
                ("odd", "none", None),
            ]
        );
        assert_eq!(
            plan[8].how,
            How::Refused {
                why: "its key is generated".into(),
                named: false
            }
        );
        assert_eq!(plan[0].method(), "by timestamp `ts`");
        assert_eq!(plan[2].method(), "by digests");
    }

    #[test]
    fn a_named_cursor_reads_the_listing_for_the_resume_point() {
        let plan = plan_of("users.created_at,auto.ts,audit.other,nope.x,odd");
        assert_eq!(
            names(&plan),
            [
                ("users", "cursor", Some("created_at")),
                ("auto", "timestamp", None),
                ("audit", "cursor", Some("other")),
                ("nope", "cursor", Some("x")),
                ("odd", "none", None),
            ]
        );
        let info = |p: &Planned| match &p.how {
            How::Cursor(c) => c.info.clone(),
            _ => None,
        };
        let users = info(&plan[0]).unwrap();
        assert_eq!(
            (users.timestamp_column.as_str(), users.timestamp_indexed),
            ("created_at", false)
        );
        assert_eq!(info(&plan[2]).unwrap().timestamp_column, "other");
        assert_eq!(info(&plan[3]), None, "unlisted: the server explains");
        assert!(matches!(plan[4].how, How::Refused { named: true, .. }));
        assert_eq!(
            info(&plan_of("users.name")[0]),
            None,
            "not a candidate: the server explains"
        );
    }

    #[test]
    fn integer_cursors_need_their_unit_and_others_refuse_one() {
        let plan = plan_of("mdl_course.timemodified:s,page.page_touched");
        assert_eq!(plan[0].kind(), CursorKind::Unix(Unit::Seconds));
        assert_eq!(plan[0].method(), "by cursor `timemodified` (unix s)");
        assert_eq!(plan[1].kind(), CursorKind::Digits14);
        assert_eq!(
            plan[1].method(),
            "by cursor `page_touched` (yyyymmddhhmmss)"
        );
        let refused = |t: &str| match &plan_of(t)[0].how {
            How::Refused { why, .. } => why.clone(),
            other => panic!("{other:?}"),
        };
        let why = refused("mdl_course.timemodified");
        assert!(why.contains("-t mdl_course.timemodified:s"), "{why}");
        let why = refused("page.page_touched:ms");
        assert!(why.contains("only for INT and BIGINT"), "{why}");
    }

    #[test]
    fn a_star_takes_what_is_not_named_elsewhere() {
        let plan = plan_of("events.created_at,*.updated_at");
        assert_eq!(plan[0].cursor().unwrap().column, "created_at");
        assert!(plan
            .iter()
            .all(|p| p.name != "events" || p.cursor().is_some()));
        let users = plan.iter().find(|p| p.name == "users").unwrap();
        assert_eq!(users.cursor().unwrap().column, "updated_at");
        assert_eq!(plan.len(), 9, "every table once");
        let plan = plan_of("audit,*");
        assert_eq!(plan[0].name, "audit");
        assert_eq!(plan.len(), 9);
        let plan = plan_of("*.timemodified:ms");
        let moodle = plan.iter().find(|p| p.name == "mdl_course").unwrap();
        assert_eq!(moodle.kind(), CursorKind::Unix(Unit::Millis));
    }

    #[test]
    fn an_older_server_lists_timestamp_tables_and_cursor_tables_only() {
        let old = TableList {
            database: "d".into(),
            tables: vec![TableInfo {
                table: "auto".into(),
                timestamp_column: "ts".into(),
                key: vec!["id".into()],
                timestamp_indexed: true,
            }],
            cursor_tables: vec![dbdump_shared::wire::CursorTable {
                table: "users".into(),
                key: vec!["id".into()],
                candidates: vec![candidate("updated_at", "datetime", true)],
            }],
            every_table: Vec::new(),
        };
        let plain = plan(&old, None);
        assert_eq!(
            names(&plain),
            [("auto", "timestamp", None), ("users", "none", None)]
        );
        let named = plan(&old, Some(&parse("users.updated_at").unwrap()));
        assert_eq!(names(&named), [("users", "cursor", Some("updated_at"))]);
    }
}
