//! `GET /<db>/<table>/ranges`: boundaries that split a table's key into
//! ranges which, streamed one by one in key order, hold every row exactly
//! once (integer, composite and string keys), one horizon for them all, an
//! empty table said to be empty, and the 400 and 404 answers.

use dbdump_shared::http::percent_encode;
use dbdump_tests::*;
use serde_json::Value;

use crate::common::*;

/// The keys of every range of `table` streamed after one another (below the
/// ranges' horizon when the table has a timestamp), and the boundaries.
fn keys_by_ranges(
    server: &Server,
    db: &str,
    table: &str,
    count: usize,
    timed: bool,
) -> (Vec<Value>, Vec<Value>) {
    let answer = json_ok(get(server, &format!("/{db}/{table}/ranges?count={count}")));
    assert_eq!(answer["table"], table, "{answer}");
    let horizon = answer["horizon"].as_str().expect("a horizon").to_string();
    let bounds: Vec<Value> = answer["boundaries"].as_array().expect("boundaries").clone();
    assert!(bounds.len() < count, "{answer}");
    let mut keys = Vec::new();
    for i in 0..=bounds.len() {
        let mut path = format!("/{db}/{table}/?order=key");
        if timed {
            path += &format!("&before={}", percent_encode(&horizon));
        }
        if i > 0 {
            path += &format!("&after_key={}", percent_encode(&bounds[i - 1].to_string()));
        }
        if let Some(until) = bounds.get(i) {
            path += &format!("&until_key={}", percent_encode(&until.to_string()));
        }
        let s = stream(server, &path);
        let width = s.header["key"].as_array().map_or(1, |k| k.len());
        keys.extend(
            s.rows
                .iter()
                .map(|r| Value::Array(r.as_array().unwrap()[..width].to_vec())),
        );
    }
    (keys, bounds)
}

#[test]
fn ranges_split_every_kind_of_key_into_ranges_that_hold_each_row_once() {
    let db = new_db("api_ranges");
    sql(
        &db,
        &format!(
            "CREATE TABLE n (id BIGINT PRIMARY KEY, v INT, {TS});
             INSERT INTO n (id, v, ts) SELECT seq * seq, seq, '2020-01-01' FROM seq_1_to_3000;
             CREATE TABLE c (shop INT, k INT, v INT, {TS}, PRIMARY KEY (shop, k));
             INSERT INTO c (shop, k, v, ts) SELECT seq % 7, seq, seq, '2020-01-01' FROM seq_1_to_2000;
             CREATE TABLE s (k VARCHAR(20) COLLATE utf8mb4_unicode_ci PRIMARY KEY, v INT);
             INSERT INTO s SELECT CONCAT(ELT(1 + seq % 4, 'a', 'B', 'Ä', 'é'), LPAD(seq, 5, '0')), seq
               FROM seq_1_to_1500;"
        ),
    );
    let server = Server::start(src(), &[]);
    for (table, rows, timed) in [("n", 3000, true), ("c", 2000, true), ("s", 1500, false)] {
        let (keys, bounds) = keys_by_ranges(&server, &db, table, 6, timed);
        assert!(bounds.len() >= 3, "{table}: {bounds:?}");
        assert_eq!(keys.len(), rows, "{table}: every row once");
        let mut unique = keys.clone();
        unique.sort_by_key(|k| k.to_string());
        unique.dedup();
        assert_eq!(unique.len(), rows, "{table}: no row twice");
        // Ranges in order, each in key order: the whole stream in key order.
        let whole = stream(&server, &format!("/{db}/{table}/?order=key"));
        let width = keys[0].as_array().unwrap().len();
        let in_order: Vec<Value> = whole
            .rows
            .iter()
            .map(|r| Value::Array(r.as_array().unwrap()[..width].to_vec()))
            .collect();
        assert_eq!(keys, in_order, "{table}");
    }
    // One range asked for: no boundaries; a small table: fewer ranges.
    let one = json_ok(get(&server, &format!("/{db}/n/ranges?count=1")));
    assert_eq!(one["boundaries"], serde_json::json!([]), "{one}");
    assert!(one.get("empty").is_none(), "{one}");
}

#[test]
fn ranges_of_an_empty_table_say_so_and_bad_requests_are_refused() {
    let db = new_db("api_ranges_bad");
    sql(
        &db,
        &format!(
            "CREATE TABLE e (id INT PRIMARY KEY, {TS});
             CREATE TABLE es (k VARCHAR(10) PRIMARY KEY);
             CREATE TABLE nokey (v INT);"
        ),
    );
    let server = Server::start(src(), &[]);
    for table in ["e", "es"] {
        let answer = json_ok(get(&server, &format!("/{db}/{table}/ranges?count=4")));
        assert_eq!(answer["empty"], true, "{answer}");
        assert_eq!(answer["boundaries"], serde_json::json!([]), "{answer}");
    }
    let ranges = |q: &str| get(&server, &format!("/{db}/e/ranges?{q}"));
    assert_error(&ranges("count=0"), 400, "count must be from 1 to 64");
    assert_error(&ranges("count=65"), 400, "count");
    assert_error(&ranges("count=2&count=3"), 400, "twice");
    assert_error(&ranges("since=2020-01-01"), 400, "unknown query parameter");
    assert_error(&get(&server, &format!("/{db}/nokey/ranges")), 400, "no key");
    assert_error(&get(&server, &format!("/{db}/missing/ranges")), 404, "");
}
