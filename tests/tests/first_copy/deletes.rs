//! Rows deleted on the source while a table read by a timestamp gets its
//! first copy: a delete moves no timestamp, so plain incremental passes
//! never delete (README, "Deletes and drift"): a deleted row the copy had
//! already brought stays on the destination, and so may one whose range
//! was being read when it went (that range reads the table as it was when
//! it began); nothing else differs. `--deletes`, and separately `--verify`,
//! then delete exactly those rows and the table equals the source.

use std::collections::HashSet;

use dbdump_tests::*;

use crate::gate::Gate;
use crate::{comment, key_set, pull_until_complete, summary, wait_rows, Running, MARK};

/// Copies `items` while rows go, then shows what plain passes keep and
/// what `flag` (`--deletes` or `--verify`) does.
fn deletes_during_the_copy(prefix: &str, flag: &str) {
    let (src, dst) = pair();
    let (db, copy, server) = setup_pair(
        prefix,
        "CREATE TABLE items (id INT NOT NULL PRIMARY KEY, name VARCHAR(40) NOT NULL,
           ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
           KEY (ts));
         SET time_zone = '+00:00';
         INSERT INTO items SELECT seq, CONCAT('item ', seq), '2024-01-01' + INTERVAL seq SECOND
           FROM seq_1_to_12000;",
    );
    let gate = Gate::start(server.port, 1, 80_000);
    let args = ["-t", "items", "--copy-streams", "2", "--source-compress=no"];
    let puller = Running::start(gate.port, dst, &db, &copy, &args);
    // Held: one range done (its worker is on to the next), two part way.
    gate.wait_held(2);
    wait_rows(dst, &copy, "items", 2000);
    assert!(comment(dst, &copy, "items").starts_with(MARK));
    // Every 41st row goes: some the copy brought, most still to come.
    let copied = key_set(dst, &copy, "items", "id");
    let gone: Vec<u32> = (1..=12000).filter(|id| id % 41 == 0).collect();
    let gone_copied: HashSet<String> = gone
        .iter()
        .map(u32::to_string)
        .filter(|id| copied.contains(id))
        .collect();
    assert!(
        gone_copied.len() >= 20 && gone.len() - gone_copied.len() >= 20,
        "{} of the deleted rows copied",
        gone_copied.len()
    );
    src.exec(&format!(
        "DELETE FROM {} WHERE id % 41 = 0",
        qualified(&db, "items")
    ));
    gate.release();
    let run = puller.wait();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(summary(&run, "items").contains("; first copy in "));

    // Plain passes: the deleted rows the copy had brought are all still
    // there; every other row as on the source.
    let run = pull_until_complete(&server, &db, &copy, "items", &[]);
    assert!(
        !summary(&run, "items").contains("rows deleted"),
        "{}",
        run.stderr
    );
    let on_source = key_set(src, &db, "items", "id");
    let on_dest = key_set(dst, &copy, "items", "id");
    let extra: HashSet<String> = on_dest.difference(&on_source).cloned().collect();
    let gone_all: HashSet<String> = gone.iter().map(u32::to_string).collect();
    assert!(
        extra.is_subset(&gone_all),
        "rows the source never deleted: {:?}",
        extra.difference(&gone_all).collect::<Vec<_>>()
    );
    assert!(
        gone_copied.is_subset(&extra),
        "a row copied before its delete was deleted by a plain pass"
    );
    assert_eq!(
        on_source.difference(&on_dest).count(),
        0,
        "rows the source has and the destination lacks"
    );
    // The flag deletes exactly those, and the table ends equal.
    let run = pull_ok(&server, &db, &copy, &["-t", "items", flag]);
    assert_eq!(
        figure(&run, "items", "rows deleted"),
        extra.len() as u64,
        "{}",
        run.stderr
    );
    assert_same(src, &db, dst, &copy, &["items"]);
}

#[test]
fn rows_deleted_during_a_first_copy_stay_through_plain_passes_and_go_with_deletes() {
    deletes_during_the_copy("fc_deletes", "--deletes");
}

#[test]
fn rows_deleted_during_a_first_copy_stay_through_plain_passes_and_go_with_verify() {
    deletes_during_the_copy("fc_verify", "--verify");
}
