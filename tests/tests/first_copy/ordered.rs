//! First copies by key ranges of tables read by an auto-updating TIMESTAMP,
//! under concurrent writes: a composite integer key, a utf8mb4 string key
//! (mixed case, accents, non-Latin scripts, a case-insensitive collation)
//! and a binary key, tens of thousands of rows, three streams. While the
//! copy stands part done, the source updates rows it already copied and
//! rows it has yet to copy and inserts rows all over the key space; a
//! writer goes on until the copy ends. The copy goes by key ranges, puts
//! the table's own comment back, and the incremental pass after it makes
//! the destination equal to the source, its definition (the secondary
//! index the copy builds at its end) equal too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use dbdump_tests::*;

use crate::gate::Gate;
use crate::{
    assert_same_definition, comment, first_copy_ranges, key_set, keys, pull_until_complete, sample,
    start_writer, wait_rows, Running, MARK,
};

/// A table to copy and how to write to it.
struct Case {
    prefix: &'static str,
    table: &'static str,
    /// Its definition and rows.
    ddl: &'static str,
    /// An SQL expression spelling a row's key as a condition.
    key: &'static str,
    /// An UPDATE of the row whose condition is given, moving its timestamp.
    update: fn(&str, u32) -> String,
    /// An INSERT of a new row somewhere in the key space.
    insert: fn(u64, u32) -> String,
}

fn copy_under_writes(case: &Case) {
    let (src, dst) = pair();
    let (db, copy, server) = setup_pair(case.prefix, case.ddl);
    let table = case.table;
    let own = comment(src, &db, table);
    let all = keys(src, &db, table, case.key);
    assert!(all.len() >= 10_000, "{} rows", all.len());

    // One range passes whole, every later one is held part way.
    let gate = Gate::start(server.port, 1, 150_000);
    let args = ["-t", table, "--copy-streams", "3", "--source-compress=no"];
    let puller = Running::start(gate.port, dst, &db, &copy, &args);
    // Three held: the worker of the range that passed whole is done with
    // it and on to a fourth. Each held stream passed a whole batch (1,000
    // rows) or more.
    gate.wait_held(3);
    wait_rows(dst, &copy, table, 2000);
    let marked = comment(dst, &copy, table);
    assert!(marked.starts_with(MARK), "the copy's mark: {marked:?}");
    let copied = key_set(dst, &copy, table, case.key);
    let (done, todo) = sample(&all, 37, &copied);
    assert!(
        done.len() >= 10 && todo.len() >= 10,
        "rows copied and rows to come: {} and {}",
        done.len(),
        todo.len()
    );
    let mut batch: Vec<String> = done
        .iter()
        .chain(&todo)
        .zip(1_000_000..)
        .map(|(k, n)| (case.update)(k, n))
        .collect();
    batch.extend((0..300u32).map(|i| {
        let x = u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 7;
        (case.insert)(x, 2_000_000 + i)
    }));
    src.exec(&format!("USE {}; {}", ident(&db), batch.join(";\n")));

    // A writer goes on while the copy does.
    let stop = Arc::new(AtomicBool::new(false));
    let (update, insert) = (case.update, case.insert);
    let targets = all.clone();
    let writer = start_writer(src, &db, stop.clone(), move |x, n| {
        if x % 3 == 0 {
            insert(x >> 2, n)
        } else {
            update(&targets[(x >> 2) as usize % targets.len()], n)
        }
    });
    gate.release();
    let run = puller.wait();
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (ranges, resumed) = first_copy_ranges(&run, table)
        .unwrap_or_else(|| panic!("no first copy by key ranges:\n{}", run.stderr));
    assert!(ranges >= 4 && !resumed, "{}", run.stderr);
    assert_eq!(gate.range_streams(), ranges, "one stream per range");
    assert_eq!(comment(dst, &copy, table), own, "its own comment is back");

    assert_same_definition(src, &db, dst, &copy, table);
    pull_until_complete(&server, &db, &copy, table, &[]);
    assert_same(src, &db, dst, &copy, &[table]);
}

#[test]
fn a_composite_key_is_copied_by_ranges_under_writes_and_ends_equal() {
    copy_under_writes(&Case {
        prefix: "fc_composite",
        table: "orders",
        ddl: "CREATE TABLE orders (shop INT NOT NULL, n INT NOT NULL, amount DECIMAL(10,2) NOT NULL,
                note VARCHAR(60) NOT NULL,
                ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
                PRIMARY KEY (shop, n), KEY (ts)) COMMENT 'orders of the shop';
              SET time_zone = '+00:00';
              INSERT INTO orders SELECT seq % 37, seq, seq / 100, CONCAT('order ', seq),
                '2024-01-01' + INTERVAL seq SECOND FROM seq_1_to_30000;",
        key: "CONCAT('shop = ', shop, ' AND n = ', n)",
        update: |k, n| format!("UPDATE orders SET amount = amount + 1, note = 'w{n}' WHERE {k}"),
        insert: |x, n| {
            format!(
                "INSERT INTO orders (shop, n, amount, note) VALUES ({}, {}, 1, 'new {n}') \
                 ON DUPLICATE KEY UPDATE amount = amount + 1",
                x % 37,
                100_000 + n
            )
        },
    });
}

#[test]
fn a_string_key_in_utf8mb4_is_copied_by_ranges_under_writes_and_ends_equal() {
    copy_under_writes(&Case {
        prefix: "fc_string",
        table: "accounts",
        ddl: "CREATE TABLE accounts (name VARCHAR(64) NOT NULL, balance INT NOT NULL,
                note VARCHAR(60) NOT NULL,
                ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
                PRIMARY KEY (name), KEY (ts))
                DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT 'accounts, by name';
              SET time_zone = '+00:00';
              INSERT INTO accounts SELECT CONCAT(ELT(1 + seq % 8, 'Äpfel', 'apfel', 'Zebra', 'éclair',
                  'Straße', '中文', 'Ωmega', 'zebra'), '-', seq), seq, CONCAT('note ', seq, ' 😀'),
                '2024-01-01' + INTERVAL seq SECOND FROM seq_1_to_20000;",
        key: "CONCAT('name = CONVERT(0x', HEX(name), ' USING utf8mb4) COLLATE utf8mb4_unicode_ci')",
        update: |k, n| format!("UPDATE accounts SET balance = balance + 1, note = 'w{n} ✓' WHERE {k}"),
        insert: |x, n| {
            let prefix = ["ÄPFEL", "Apfel", "zebra", "Éclair", "straße", "中文", "ωMEGA", "ZEBRA"];
            format!(
                "INSERT INTO accounts (name, balance, note) VALUES ('{}-w{n}', 0, 'new') \
                 ON DUPLICATE KEY UPDATE balance = balance + 1",
                prefix[x as usize % prefix.len()]
            )
        },
    });
}

#[test]
fn a_binary_key_is_copied_by_ranges_under_writes_and_ends_equal() {
    copy_under_writes(&Case {
        prefix: "fc_binary",
        table: "blobs",
        ddl: "CREATE TABLE blobs (id VARBINARY(16) NOT NULL, v INT NOT NULL, body BLOB,
                ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
                PRIMARY KEY (id), KEY (ts)) COMMENT 'binary keys';
              SET time_zone = '+00:00';
              INSERT INTO blobs SELECT CONCAT(UNHEX(LEFT(MD5(seq), 4)), UNHEX(LPAD(HEX(seq), 6, '0')),
                  IF(seq % 3 = 0, 0x0000, '')), seq, REPEAT(CHAR(seq % 256), seq % 40),
                '2024-01-01' + INTERVAL seq SECOND FROM seq_1_to_24000;",
        key: "CONCAT('id = 0x', HEX(id))",
        update: |k, n| format!("UPDATE blobs SET v = v + 1, body = 'w{n}' WHERE {k}"),
        insert: |x, n| {
            format!(
                "INSERT INTO blobs (id, v, body) VALUES (UNHEX(MD5('w{x}-{n}')), {n}, 'new') \
                 ON DUPLICATE KEY UPDATE v = v + 1"
            )
        },
    });
}
