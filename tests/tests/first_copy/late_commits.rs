//! One horizon for the whole copy, late commits included: a transaction
//! that updated a row and is still open when the copy's ranges (and its
//! horizon) are read, and commits while the copy runs, loses nothing, even
//! though rows changed after it started and committed before the copy are
//! newer than its row. The horizon comes before the open transaction, so
//! those newer rows wait for the incremental pass too, which then starts
//! early enough to bring the late row.

use mysql::prelude::Queryable;

use dbdump_tests::*;

use crate::gate::Gate;
use crate::{comment, first_copy_ranges, pull_until_complete, Running, MARK};

#[test]
fn a_transaction_open_when_the_copy_begins_and_committed_during_it_is_not_lost() {
    let (src, dst) = pair();
    let (db, copy, server) = setup_pair(
        "fc_late",
        "CREATE TABLE orders (id INT NOT NULL PRIMARY KEY, note VARCHAR(40) NOT NULL,
           ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
           KEY (ts));
         SET time_zone = '+00:00';
         INSERT INTO orders SELECT seq, CONCAT('order ', seq), '2024-01-01' + INTERVAL seq SECOND
           FROM seq_1_to_8000;",
    );
    // The late transaction: its row's timestamp is when it updated it.
    let mut late = src.conn();
    late.query_drop(format!("USE {}", ident(&db))).expect("USE");
    late.query_drop("BEGIN").expect("BEGIN");
    late.query_drop("UPDATE orders SET note = 'late' WHERE id = 4000")
        .expect("the late update");
    // Newer rows, committed before the copy, in every range.
    src.exec(&format!(
        "UPDATE {} SET note = 'newer' WHERE id IN (10, 2500, 4001, 7990)",
        qualified(&db, "orders")
    ));

    let gate = Gate::start(server.port, 0, 0);
    let args = ["-t", "orders", "--copy-streams", "2"];
    let puller = Running::start(gate.port, dst, &db, &copy, &args);
    gate.wait_still();
    assert!(comment(dst, &copy, "orders").starts_with(MARK));
    late.query_drop("COMMIT").expect("COMMIT");
    gate.release();
    let run = puller.wait();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        first_copy_ranges(&run, "orders").is_some(),
        "{}",
        run.stderr
    );
    pull_until_complete(&server, &db, &copy, "orders", &[]);
    assert_same(src, &db, dst, &copy, &["orders"]);
}
