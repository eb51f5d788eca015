//! A table without any time column (synced by digests) gets its first copy
//! by key ranges too, under concurrent writes: while the copy stands part
//! done, the source updates and deletes rows it already copied and rows it
//! has yet to copy and inserts rows all over the key space, and a writer
//! goes on until the copy ends. The copy cannot see what changed behind
//! it; the ordinary pass that follows compares digests, repairs and
//! deletes what differs, and the destination equals the source. A polling
//! puller compares such a table at its next poll after the copy, since the
//! source changed it after the copy's horizon.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use dbdump_tests::*;

use crate::gate::Gate;
use crate::{
    assert_same_definition, comment, first_copy_ranges, key_set, keys, sample, start_writer,
    summary, wait_rows, Running, MARK,
};

const STOCK: &str = "
CREATE TABLE stock (warehouse SMALLINT NOT NULL, sku VARCHAR(32) NOT NULL, qty INT NOT NULL,
  label VARCHAR(120), PRIMARY KEY (warehouse, sku), KEY by_qty (qty)) COMMENT 'stock levels';
INSERT INTO stock SELECT seq % 64, CONCAT('SKU-', LPAD(seq, 6, '0')), seq % 500,
  CONCAT('item ', seq, ' ', REPEAT('x', 40)) FROM seq_1_to_24000;";

/// A row's key as an SQL condition.
const KEY: &str = "CONCAT('warehouse = ', warehouse, ' AND sku = ', QUOTE(sku))";

fn insert(x: u64, n: u32) -> String {
    format!(
        "INSERT INTO stock VALUES ({}, 'NEW-{n}', 1, 'new') ON DUPLICATE KEY UPDATE qty = qty + 1",
        x % 64
    )
}

#[test]
fn a_table_without_a_time_column_is_copied_by_ranges_under_writes_then_digests_make_it_equal() {
    let (src, dst) = pair();
    let (db, copy, server) = setup_pair("fc_digests", STOCK);
    let all = keys(src, &db, "stock", KEY);

    // One range passes whole; four held (its worker is on to the next).
    let gate = Gate::start(server.port, 1, 100_000);
    let args = ["-t", "stock", "--copy-streams", "4", "--source-compress=no"];
    let puller = Running::start(gate.port, dst, &db, &copy, &args);
    gate.wait_held(4);
    wait_rows(dst, &copy, "stock", 4000);
    assert!(comment(dst, &copy, "stock").starts_with(MARK));
    let copied = key_set(dst, &copy, "stock", KEY);
    let (done, todo) = sample(&all, 23, &copied);
    assert!(
        done.len() >= 20 && todo.len() >= 20,
        "rows copied and rows to come: {} and {}",
        done.len(),
        todo.len()
    );
    // Every other sampled row updated, the others deleted; new rows in
    // every warehouse.
    let mut batch = vec![format!("USE {}", ident(&db))];
    let (mut changed, mut deleted) = (0, 0);
    for (i, k) in done.iter().chain(&todo).enumerate() {
        batch.push(if i % 2 == 0 {
            format!("UPDATE stock SET qty = qty + 1000, label = 'moved {i}' WHERE {k}")
        } else {
            format!("DELETE FROM stock WHERE {k}")
        });
        if i < done.len() {
            if i % 2 == 0 {
                changed += 1;
            } else {
                deleted += 1;
            }
        }
    }
    batch.extend((0..256u32).map(|i| insert(u64::from(i), 1_000_000 + i)));
    src.exec(&batch.join(";\n"));

    let stop = Arc::new(AtomicBool::new(false));
    let targets = all.clone();
    let writer = start_writer(src, &db, stop.clone(), move |x, n| {
        let k = &targets[(x >> 3) as usize % targets.len()];
        match x % 5 {
            0 | 1 => insert(x >> 3, n),
            2 => format!("DELETE FROM stock WHERE {k}"),
            _ => format!("UPDATE stock SET qty = qty + 1, label = 'w{n}' WHERE {k}"),
        }
    });
    gate.release();
    let run = puller.wait();
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let line = summary(&run, "stock");
    assert!(line.contains("by digests"), "{line}");
    let (ranges, resumed) = first_copy_ranges(&run, "stock")
        .unwrap_or_else(|| panic!("no first copy by key ranges:\n{}", run.stderr));
    assert!(ranges >= 5 && !resumed, "{line}");
    assert_eq!(gate.range_streams(), ranges, "one stream per range");
    assert_eq!(comment(dst, &copy, "stock"), "stock levels");
    assert_same_definition(src, &db, dst, &copy, "stock");

    // The ordinary pass compares digests (a one-shot run compares every
    // such table): the rows changed behind the copy are repaired, the
    // ones deleted behind it deleted, in one pass once the writer is done.
    let run = pull_ok(&server, &db, &copy, &["-t", "stock"]);
    let (repaired, removed) = (
        figure(&run, "stock", "rows repaired"),
        figure(&run, "stock", "rows deleted"),
    );
    assert!(
        repaired + removed >= changed + deleted && removed >= 1,
        "{changed} copied rows changed and {deleted} deleted behind the copy: {}",
        summary(&run, "stock")
    );
    assert_same(src, &db, dst, &copy, &["stock"]);
    let run = pull_ok(&server, &db, &copy, &["-t", "stock"]);
    assert_eq!(figure(&run, "stock", "rows repaired"), 0, "{}", run.stderr);
}

#[test]
fn a_polling_puller_compares_a_table_changed_behind_its_first_copy_at_the_next_poll() {
    let (src, dst) = pair();
    let (db, copy, server) = setup_pair(
        "fc_digests_poll",
        &STOCK.replace("seq_1_to_24000", "seq_1_to_8000"),
    );
    let gate = Gate::start(server.port, 1, 60_000);
    let args = [
        "-t",
        "stock",
        "--copy-streams",
        "2",
        "--source-compress=no",
        "--poll-interval",
        "0.2",
    ];
    let poller = Running::start(gate.port, dst, &db, &copy, &args);
    // One range done, its worker held on the next, the other worker too.
    gate.wait_held(2);
    let copied = keys(dst, &copy, "stock", KEY);
    assert!(copied.len() >= 1000, "{} rows copied", copied.len());
    let changes: Vec<String> = copied
        .iter()
        .step_by(10)
        .map(|k| format!("UPDATE stock SET qty = -1 WHERE {k}"))
        .collect();
    src.exec(&format!("USE {}; {}", ident(&db), changes.join(";\n")));
    gate.release();
    wait_until(
        "the polling puller to make stock equal",
        std::time::Duration::from_secs(60),
        || checksum(src, &db, "stock") == checksum(dst, &copy, "stock"),
    );
    let run = poller.terminate();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("; first copy in "), "{}", run.stderr);
    let repaired: u64 = run
        .stderr
        .lines()
        .filter_map(|l| l.split_once(" rows repaired").map(|(before, _)| before))
        .filter_map(|b| b.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok()))
        .sum();
    assert_eq!(repaired, changes.len() as u64, "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["stock"]);
}
