//! The change stream `GET /<db>/<table>/`: header, rows in (timestamp,
//! key) order and trailer; NULL timestamps; the `--settle` horizon; and its
//! parameters `since`, `after_key`, `include_columns` and `exclude_columns`.

use dbdump_tests::*;
use serde_json::{json, Value};

use crate::common::*;

#[test]
fn stream_is_header_rows_in_timestamp_key_order_then_trailer() {
    let db = new_db("api_stream");
    sql(
        &db,
        &format!(
            "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20), data BLOB,
                 price DECIMAL(6,2), {TS});
             INSERT INTO t VALUES
                 (2, 'two', NULL, '2.00', '2020-01-02 00:00:00'),
                 (3, 'três', x'00ff', '-1.50', '2020-01-01 00:00:00'),
                 (1, NULL, '', '1.00', '2020-01-02 00:00:00');"
        ),
    );
    let server = Server::start(src(), &[]);
    let (_, head, _) = get(&server, &format!("/{db}/t/"));
    assert_eq!(
        header(&head, "content-length"),
        None,
        "streams end at close: {head}"
    );
    let s = stream(&server, &format!("/{db}/t/"));
    let horizon = s.header["horizon"].clone();
    assert!(horizon.is_string(), "{}", s.header);
    assert_eq!(
        s.header,
        json!({
            "protocol": 1, "database": db, "table": "t",
            "columns": [
                {"name": "id", "type": "int(11)", "encoding": "number"},
                {"name": "name", "type": "varchar(20)", "encoding": "string"},
                {"name": "data", "type": "blob", "encoding": "base64"},
                {"name": "price", "type": "decimal(6,2)", "encoding": "string"},
                {"name": "ts", "type": "timestamp", "encoding": "string"},
            ],
            "timestamp_column": "ts", "key": ["id"],
            "since": null, "after_key": null, "horizon": horizon,
        })
    );
    // Ordered by (ts, id): id 3 is oldest; 1 and 2 share a timestamp.
    assert_eq!(
        s.rows,
        [
            json!([3, "três", "AP8=", "-1.50", "2020-01-01 00:00:00"]),
            json!([1, null, "", "1.00", "2020-01-02 00:00:00"]),
            json!([2, "two", null, "2.00", "2020-01-02 00:00:00"]),
        ]
    );
    assert_eq!(
        s.trailer,
        json!({"rows": 3, "last_timestamp": "2020-01-02 00:00:00", "last_key": [2],
               "horizon": horizon})
    );
    // Without the trailing slash it is the same stream.
    assert_eq!(stream(&server, &format!("/{db}/t")).rows, s.rows);
}

#[test]
fn empty_stream_has_a_trailer_with_zero_rows() {
    let db = db_with_rows("api_empty", &[]);
    let server = Server::start(src(), &[]);
    let s = stream(&server, &format!("/{db}/t/"));
    assert!(s.rows.is_empty());
    assert_eq!(s.trailer["rows"], json!(0));
    assert_eq!(s.trailer["last_timestamp"], Value::Null);
    assert_eq!(s.trailer["last_key"], Value::Null);
}

#[test]
fn null_timestamps_come_first_and_only_without_since() {
    let db = new_db("api_nullts");
    sql(
        &db,
        "CREATE TABLE t (id INT PRIMARY KEY,
             ts TIMESTAMP NULL DEFAULT NULL ON UPDATE CURRENT_TIMESTAMP);
         INSERT INTO t VALUES (1, '2020-01-01 00:00:00'), (2, NULL), (3, NULL);",
    );
    let server = Server::start(src(), &[]);
    let s = stream(&server, &format!("/{db}/t/"));
    assert_eq!(
        s.rows,
        [
            json!([2, null]),
            json!([3, null]),
            json!([1, "2020-01-01 00:00:00"])
        ]
    );
    assert_eq!(ids(&server, &db, "since=2000-01-01"), [1]);
}

#[test]
fn rows_younger_than_settle_wait_for_a_later_request() {
    let db = new_db("api_settle");
    sql(
        &db,
        &format!(
            "CREATE TABLE t (id INT PRIMARY KEY, {TS});
             INSERT INTO t VALUES (1, NOW() - INTERVAL 120 SECOND), (2, NOW()),
                 (3, '2037-12-31 00:00:00');"
        ),
    );
    let server = Server::start(src(), &["--settle", "60"]);
    let s = stream(&server, &format!("/{db}/t/"));
    assert_eq!(s.ids(), [1], "only the row older than 60 s");
    let now = src()
        .scalar("SELECT NOW() - INTERVAL 59 SECOND")
        .expect("now");
    let horizon = s.header["horizon"].as_str().expect("horizon");
    assert!(horizon < now.as_str(), "horizon {horizon} vs now-59s {now}");
    assert_eq!(s.trailer["horizon"], s.header["horizon"]);
}

#[test]
fn since_accepts_every_documented_form() {
    let db = db_with_rows(
        "api_since",
        &[
            (1, "2019-12-31 23:59:59"),
            (2, "2020-01-01 00:00:00"),
            (3, "2020-01-01 08:00:00"),
            (4, "2020-01-01 08:00:00.25"),
            (5, "2020-01-01 10:00:00"),
        ],
    );
    let server = Server::start(src(), &[]);
    let cases: &[(&str, &[i64])] = &[
        ("since=2020-01-01", &[2, 3, 4, 5]),
        ("since=2020-01-01+08:00:00", &[3, 4, 5]),
        ("since=2020-01-01%2008:00:00", &[3, 4, 5]),
        ("since=2020-01-01+08:00:00.000001", &[4, 5]),
        ("since=2020-01-01+08:00:00.25", &[4, 5]),
        ("since=2020-01-01+08:00:00.250000", &[4, 5]),
        ("since=2020-01-01+08:00:00.250001", &[5]),
        ("since=2020-01-01T08:00:00Z", &[3, 4, 5]),
        ("since=2020-01-01T08:00:00.250001Z", &[5]),
        // 10:00 at +02:00 is 08:00 UTC; `+` must be %2B in a query string.
        ("since=2020-01-01T10:00:00%2B02:00", &[3, 4, 5]),
        ("since=2020-01-01T03:00:00-05:00", &[3, 4, 5]),
        ("since=2020-01-01T00:59:59%2B01:00", &[1, 2, 3, 4, 5]),
        ("since=2020-01-01+10:00:00.000001", &[]),
        ("since=2030-01-01", &[]),
        ("since=0000-00-00+00:00:00", &[1, 2, 3, 4, 5]),
    ];
    for (query, want) in cases {
        assert_eq!(ids(&server, &db, query), *want, "{query}");
    }
    let s = stream(
        &server,
        &format!("/{db}/t/?since=2020-01-01T10:00:00%2B02:00"),
    );
    assert_eq!(s.header["since"], json!("2020-01-01 08:00:00.000000"));
    assert_eq!(
        s.trailer["last_timestamp"],
        json!("2020-01-01 10:00:00.000000")
    );

    // An unencoded `+` is a space: the offset is then not understood. It may
    // be refused, but must never select rows for another point in time.
    let (code, _, body) = get(
        &server,
        &format!("/{db}/t/?since=2020-01-01T10:00:00+02:00"),
    );
    if code == 200 {
        let rows: Vec<i64> = ndjson_lines(&body)
            .iter()
            .filter_map(|l| l.as_array().and_then(|r| r[0].as_i64()))
            .collect();
        assert_eq!(rows, [3, 4, 5], "a space taken as + must still mean +02:00");
    } else {
        assert_eq!(code, 400, "{body}");
    }
}

#[test]
fn after_key_resumes_strictly_after_since_and_key() {
    let t = "2020-01-01 00:00:00";
    let db = db_with_rows(
        "api_after",
        &[
            (0, "2019-01-01 00:00:00"),
            (3, t),
            (1, t),
            (2, t),
            (4, "2020-01-01 00:00:01"),
        ],
    );
    let server = Server::start(src(), &[]);
    let since = "since=2020-01-01+00:00:00";
    assert_eq!(ids(&server, &db, since), [1, 2, 3, 4]);
    assert_eq!(
        ids(&server, &db, &format!("{since}&after_key=%5B1%5D")),
        [2, 3, 4]
    );
    assert_eq!(ids(&server, &db, &format!("{since}&after_key=[2]")), [3, 4]);
    assert_eq!(ids(&server, &db, &format!("{since}&after_key=[3]")), [4]);
    // A key below every row at that timestamp still skips nothing after it.
    assert_eq!(
        ids(&server, &db, &format!("{since}&after_key=[-5]")),
        [1, 2, 3, 4]
    );
    let s = stream(&server, &format!("/{db}/t/?{since}&after_key=%5B2%5D"));
    assert_eq!(s.header["after_key"], json!([2]));

    // Resuming from a trailer's last row gives nothing new.
    let all = stream(&server, &format!("/{db}/t/"));
    let (ts, key) = (&all.trailer["last_timestamp"], &all.trailer["last_key"]);
    let resume = format!(
        "since={}&after_key={}",
        ts.as_str().expect("ts").replace(' ', "+"),
        key
    );
    assert_eq!(ids(&server, &db, &resume), Vec::<i64>::new(), "{resume}");
}

#[test]
fn after_key_works_with_a_composite_string_key() {
    let db = new_db("api_after2");
    sql(
        &db,
        &format!(
            "CREATE TABLE t (name VARCHAR(10), n INT, {TS}, PRIMARY KEY (name, n));
             INSERT INTO t VALUES ('b', 1, '2020-01-01 00:00:00'), ('a', 2, '2020-01-01 00:00:00'),
                 ('a', 1, '2020-01-01 00:00:00'), ('a', 0, '2021-01-01 00:00:00');"
        ),
    );
    let server = Server::start(src(), &[]);
    // (name, n) of each row, in stream order.
    let keys = |s: &Stream| -> Vec<Value> { s.rows.iter().map(|r| json!([r[0], r[1]])).collect() };
    let since = "since=2020-01-01";
    let s = stream(&server, &format!("/{db}/t/?{since}"));
    assert_eq!(s.header["key"], json!(["name", "n"]));
    // Ordered by (ts, name, n): the key's order, not the insertion order.
    let all = [
        json!(["a", 1]),
        json!(["a", 2]),
        json!(["b", 1]),
        json!(["a", 0]),
    ];
    assert_eq!(keys(&s), all);
    let after = stream(
        &server,
        &format!("/{db}/t/?{since}&after_key=%5B%22a%22%2C1%5D"),
    );
    assert_eq!(keys(&after), all[1..]);
    assert_eq!(after.trailer["last_key"], json!(["a", 0]));
}

#[test]
fn include_and_exclude_columns_keep_key_and_timestamp() {
    let db = db_with_rows("api_cols", &[(1, "2020-01-01 00:00:00")]);
    let server = Server::start(src(), &[]);
    let cases: &[(&str, &[&str], Value)] = &[
        (
            "",
            &["id", "a", "b", "ts"],
            json!([1, "a1", 10, "2020-01-01 00:00:00.000000"]),
        ),
        (
            "include_columns=b",
            &["id", "b", "ts"],
            json!([1, 10, "2020-01-01 00:00:00.000000"]),
        ),
        (
            "include_columns=b,a",
            &["id", "a", "b", "ts"],
            json!([1, "a1", 10, "2020-01-01 00:00:00.000000"]),
        ),
        (
            "include_columns=id",
            &["id", "ts"],
            json!([1, "2020-01-01 00:00:00.000000"]),
        ),
        (
            "exclude_columns=a",
            &["id", "b", "ts"],
            json!([1, 10, "2020-01-01 00:00:00.000000"]),
        ),
        (
            "exclude_columns=a,b",
            &["id", "ts"],
            json!([1, "2020-01-01 00:00:00.000000"]),
        ),
        (
            "include_columns=a,b&exclude_columns=b",
            &["id", "a", "ts"],
            json!([1, "a1", "2020-01-01 00:00:00.000000"]),
        ),
    ];
    for (query, columns, row) in cases {
        let s = stream(&server, &format!("/{db}/t/?{query}"));
        assert_eq!(s.column_names(), *columns, "{query}");
        assert_eq!(s.rows, std::slice::from_ref(row), "{query}");
        assert_eq!(s.header["key"], json!(["id"]));
        assert_eq!(s.header["timestamp_column"], json!("ts"));
    }
}
