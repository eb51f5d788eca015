//! Which tables a pass syncs, in which order and by which column: `-t`'s
//! entries (`table`, `table.column`, `*`, `*.column`) resolved against the
//! server's listing.

use dbdump_shared::wire::{TableInfo, TableList};

use crate::config::tables::Choice;

/// A table of a pass.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    pub name: String,
    /// What the server's listing says, with the cursor as the timestamp
    /// column; `None` for a table it does not list as syncable that way
    /// (the server then says why).
    pub info: Option<TableInfo>,
    /// The column to name as cursor (`None`: the auto-updating one).
    pub cursor: Option<String>,
}

/// The tables of a pass: the `-t` entries in their order (a `*` stands for
/// the listed tables not named elsewhere), or every table the server syncs
/// as it is.
pub fn plan(listing: &TableList, choices: Option<&[Choice]>) -> Vec<Planned> {
    let automatic = |t: &TableInfo| Planned {
        name: t.table.clone(),
        info: Some(t.clone()),
        cursor: None,
    };
    let Some(choices) = choices else {
        return listing.tables.iter().map(automatic).collect();
    };
    let named: Vec<&str> = choices.iter().filter_map(|c| c.table.as_deref()).collect();
    let mut out: Vec<Planned> = Vec::new();
    for choice in choices {
        let planned: Vec<Planned> = match (&choice.table, &choice.cursor) {
            (Some(name), cursor) => vec![named_table(listing, name, cursor.as_deref())],
            (None, cursor) => {
                let mut all: Vec<Planned> = listing.tables.iter().map(automatic).collect();
                if let Some(column) = cursor {
                    for t in &listing.cursor_tables {
                        if t.candidates.iter().any(|c| &c.column == column) {
                            all.push(named_table(listing, &t.table, Some(column)));
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

/// A table named in `-t`, read by `cursor` if given.
fn named_table(listing: &TableList, name: &str, cursor: Option<&str>) -> Planned {
    let listed = listing.tables.iter().find(|t| t.table == name);
    match (listed, cursor) {
        // Naming the auto-updating column is the same as naming none (the
        // original's `-t table.column` did just that).
        (Some(t), None) => Planned {
            name: name.to_string(),
            info: Some(t.clone()),
            cursor: None,
        },
        (Some(t), Some(c)) if t.timestamp_column == c => Planned {
            name: name.to_string(),
            info: Some(t.clone()),
            cursor: None,
        },
        (Some(t), Some(c)) => Planned {
            name: name.to_string(),
            info: Some(TableInfo {
                timestamp_column: c.to_string(),
                ..t.clone()
            }),
            cursor: Some(c.to_string()),
        },
        (None, cursor) => {
            let candidate = listing
                .cursor_tables
                .iter()
                .filter(|t| t.table == name)
                .find_map(|t| {
                    let c = t
                        .candidates
                        .iter()
                        .find(|c| Some(c.column.as_str()) == cursor)?;
                    Some(TableInfo {
                        table: t.table.clone(),
                        timestamp_column: c.column.clone(),
                        key: t.key.clone(),
                        timestamp_indexed: c.indexed,
                    })
                });
            Planned {
                name: name.to_string(),
                info: candidate,
                cursor: cursor.map(str::to_string),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tables::parse;
    use dbdump_shared::wire::{CursorCandidate, CursorTable};

    fn info(table: &str, ts: &str) -> TableInfo {
        TableInfo {
            table: table.into(),
            timestamp_column: ts.into(),
            key: vec!["id".into()],
            timestamp_indexed: true,
        }
    }

    fn listing() -> TableList {
        let candidate = |column: &str, indexed| CursorCandidate {
            column: column.into(),
            sql_type: "datetime(6)".into(),
            kind: "datetime".into(),
            nullable: false,
            indexed,
            default_current_timestamp: false,
            on_update_current_timestamp: false,
        };
        let cursor_table = |table: &str, candidates| CursorTable {
            table: table.into(),
            key: vec!["id".into()],
            candidates,
        };
        TableList {
            database: "d".into(),
            tables: vec![info("auto", "ts"), info("audit", "ts")],
            cursor_tables: vec![
                cursor_table(
                    "users",
                    vec![
                        candidate("created_at", false),
                        candidate("updated_at", true),
                    ],
                ),
                cursor_table("events", vec![candidate("created_at", false)]),
            ],
            every_table: Vec::new(),
        }
    }

    fn names(plan: &[Planned]) -> Vec<(&str, Option<&str>)> {
        plan.iter()
            .map(|p| (p.name.as_str(), p.cursor.as_deref()))
            .collect()
    }

    #[test]
    fn without_tables_only_automatic_tables_are_synced() {
        let plan = plan(&listing(), None);
        assert_eq!(names(&plan), [("auto", None), ("audit", None)]);
    }

    #[test]
    fn a_named_cursor_reads_the_listing_for_the_resume_point() {
        let choices = parse("users.created_at,auto.ts,audit.other,nope.x").unwrap();
        let plan = plan(&listing(), Some(&choices));
        assert_eq!(
            names(&plan),
            [
                ("users", Some("created_at")),
                ("auto", None),
                ("audit", Some("other")),
                ("nope", Some("x")),
            ]
        );
        let users = plan[0].info.as_ref().unwrap();
        assert_eq!(
            (users.timestamp_column.as_str(), users.timestamp_indexed),
            ("created_at", false)
        );
        assert_eq!(plan[2].info.as_ref().unwrap().timestamp_column, "other");
        assert_eq!(plan[3].info, None, "unlisted: the server explains");
        let plan = plan_of("users.name");
        assert_eq!(plan[0].info, None, "not a candidate: the server explains");
    }

    fn plan_of(t: &str) -> Vec<Planned> {
        plan(&listing(), Some(&parse(t).unwrap()))
    }

    #[test]
    fn a_star_takes_what_is_not_named_elsewhere() {
        assert_eq!(
            names(&plan_of("events.created_at,*.updated_at")),
            [
                ("events", Some("created_at")),
                ("auto", None),
                ("audit", None),
                ("users", Some("updated_at")),
            ]
        );
        assert_eq!(
            names(&plan_of("audit,*")),
            [("audit", None), ("auto", None)]
        );
        assert_eq!(
            names(&plan_of("*.created_at,*.updated_at")),
            [
                ("auto", None),
                ("audit", None),
                ("users", Some("created_at")),
                ("events", Some("created_at")),
            ]
        );
    }
}
