//! First copies of several tables at once: each table is split into its
//! share of the ranges by its rows, the workers take ranges of tables no
//! other worker is copying, and each table is finished (its
//! deferred index built, its own comment back) as soon as its own ranges
//! are in, not when the last table's are. Shown while every range stream
//! of the biggest table is held part way: the two smaller tables are
//! finished, equal to the source in rows and in definition, while the big
//! one still carries the copy's mark; once let go, all three end equal.
//! And a copy of tables in one range each, killed with two of them part
//! copied: the next run resumes each after the rows it holds and ends
//! equal, the table finished before the kill left as it was. Tables
//! missing on the destination are created (`--create-tables`) and then
//! get their first copies by ranges like any empty table.

use std::time::Duration;

use dbdump_tests::*;

use crate::gate::Gate;
use crate::{
    assert_same_definition, comment, first_copy_ranges, key_set, wait_rows, Running, MARK,
};

const TABLES: [&str; 3] = ["aaa", "big", "zzz"];

fn ddl() -> String {
    let mut sql = String::from("SET time_zone = '+00:00';");
    for (table, rows) in [("aaa", 8_000), ("big", 30_000), ("zzz", 8_000)] {
        sql.push_str(&format!(
            "CREATE TABLE {table} (id INT NOT NULL PRIMARY KEY, v VARCHAR(40) NOT NULL,
               ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
               KEY by_ts (ts)) COMMENT 'the {table} table';
             INSERT INTO {table} SELECT seq, CONCAT('{table} ', seq),
               '2024-01-01' + INTERVAL seq SECOND FROM seq_1_to_{rows};
             ANALYZE TABLE {table};"
        ));
    }
    sql
}

/// Whether `table` is finished on the destination: unmarked, with the
/// source's rows and definition.
fn finished(src: &Sandbox, db: &str, dst: &Sandbox, copy: &str, table: &str) -> bool {
    !comment(dst, copy, table).starts_with(MARK) && dump(src, db, table) == dump(dst, copy, table)
}

#[test]
fn tables_copied_at_once_are_each_finished_when_their_own_ranges_are_in() {
    let (src, dst) = pair();
    let (db, copy, server) = setup_pair("fc_tables", &ddl());

    // Every range stream of `big` is held; the others pass whole.
    let gate = Gate::start_for(server.port, "big", 0, 60_000);
    let args = [
        "-t",
        "aaa,big,zzz",
        "--copy-streams",
        "2",
        "--source-compress=no",
    ];
    let puller = Running::start(gate.port, dst, &db, &copy, &args);
    wait_until(
        "the small tables to be finished while `big` is held",
        Duration::from_secs(60),
        || finished(src, &db, dst, &copy, "aaa") && finished(src, &db, dst, &copy, "zzz"),
    );
    assert!(gate.held() >= 1, "a range of `big` is still held");
    let marked = comment(dst, &copy, "big");
    assert!(
        marked.starts_with(MARK),
        "`big` is still being copied: {marked:?}"
    );
    for table in ["aaa", "zzz"] {
        assert_eq!(comment(dst, &copy, table), format!("the {table} table"));
        assert_same_definition(src, &db, dst, &copy, table);
    }

    gate.release();
    let run = puller.wait();
    assert_eq!(run.code, 0, "{}", run.stderr);
    for table in TABLES {
        let (ranges, resumed) = first_copy_ranges(&run, table)
            .unwrap_or_else(|| panic!("no first copy of {table} by key ranges:\n{}", run.stderr));
        // Four ranges among the three tables by their rows: the small
        // ones one each, `big` the rest.
        let share = if table == "big" { 2..=3 } else { 1..=1 };
        assert!(share.contains(&ranges) && !resumed, "{}", run.stderr);
        assert_eq!(comment(dst, &copy, table), format!("the {table} table"));
        assert_same_definition(src, &db, dst, &copy, table);
    }
    assert_same(src, &db, dst, &copy, &TABLES);
}

#[test]
fn a_copy_of_tables_in_one_range_each_killed_part_way_resumes_each_and_ends_equal() {
    let (src, dst) = pair();
    let mut ddl = String::from("SET time_zone = '+00:00';");
    for table in ["t1", "t2", "t3"] {
        ddl.push_str(&format!(
            "CREATE TABLE {table} (id INT NOT NULL PRIMARY KEY, v VARCHAR(40) NOT NULL,
               ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
               KEY by_ts (ts));
             INSERT INTO {table} SELECT seq, CONCAT('{table} ', seq),
               '2024-01-01' + INTERVAL seq SECOND FROM seq_1_to_8000;
             ANALYZE TABLE {table};"
        ));
    }
    let (db, copy, server) = setup_pair("fc_tables_kill", &ddl);
    let tables = ["t1", "t2", "t3"];
    let args = [
        "-t",
        "t1,t2,t3",
        "--copy-streams",
        "2",
        "--source-compress=no",
    ];

    // The first range stream passes whole, the two after it are held.
    let gate = Gate::start(server.port, 1, 60_000);
    let puller = Running::start(gate.port, dst, &db, &copy, &args);
    gate.wait_held(2);
    wait_until(
        "the table copied whole to be finished",
        Duration::from_secs(60),
        || tables.iter().any(|t| finished(src, &db, dst, &copy, t)),
    );
    let part: Vec<&str> = tables
        .iter()
        .copied()
        .filter(|t| comment(dst, &copy, t).starts_with(MARK))
        .collect();
    assert_eq!(part.len(), 2, "two tables part copied");
    for table in &part {
        wait_rows(dst, &copy, table, 1000);
    }
    let held: Vec<_> = part.iter().map(|t| key_set(dst, &copy, t, "id")).collect();
    puller.kill();
    gate.release();

    let run = pull_ok(&server, &db, &copy, &args);
    for (table, before) in part.iter().zip(&held) {
        assert!(
            run.stderr.contains(&format!(
                "table `{table}`: resuming its first copy in 1 range, after the rows it holds"
            )),
            "{}",
            run.stderr
        );
        assert_eq!(
            first_copy_ranges(&run, table),
            Some((1, true)),
            "{}",
            run.stderr
        );
        let now = key_set(dst, &copy, table, "id");
        assert!(before.is_subset(&now), "rows copied before the kill stay");
    }
    for table in tables {
        assert!(
            !comment(dst, &copy, table).starts_with(MARK),
            "{table} unmarked"
        );
        assert_same_definition(src, &db, dst, &copy, table);
    }
    assert_same(src, &db, dst, &copy, &tables);
}

#[test]
fn tables_missing_on_the_destination_are_created_then_copied_by_ranges() {
    let (src, dst) = pair();
    let (db, copy, server) = setup_pair("fc_tables_create", &ddl());
    dst.exec(&format!(
        "DROP TABLE {}, {}",
        qualified(&copy, "aaa"),
        qualified(&copy, "big")
    ));
    let run = pull_ok(
        &server,
        &db,
        &copy,
        &[
            "-t",
            "aaa,big,zzz",
            "--create-tables",
            "--source-compress=no",
        ],
    );
    for table in TABLES {
        let (_, resumed) = first_copy_ranges(&run, table)
            .unwrap_or_else(|| panic!("no first copy of {table} by key ranges:\n{}", run.stderr));
        assert!(!resumed, "{}", run.stderr);
        assert_eq!(comment(dst, &copy, table), format!("the {table} table"));
        assert_same_definition(src, &db, dst, &copy, table);
    }
    assert_same(src, &db, dst, &copy, &TABLES);
}
