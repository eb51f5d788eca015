//! dbd_server's digest request (`GET /<db>/<table>/digest`) and the change
//! stream's `keys` and `before` parameters, read by hand as curl would:
//! framing, chunking, ranges, what makes hashes differ, and every error.

use dbdump_tests::*;
use serde_json::{json, Value};

/// A database with `t (id, name, ts)`: ids 1..=n, old timestamps.
fn db_with(prefix: &str, n: u32) -> String {
    let (src, _) = pair();
    let db = unique_name(prefix);
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0}; SET time_zone = '+00:00';
         CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20) NULL, secret INT NULL,
           ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3));
         INSERT INTO t (id, name, ts) SELECT seq, CONCAT('n', seq), '2024-01-01' + INTERVAL seq MINUTE
           FROM seq_1_to_{n};",
        ident(&db)
    ));
    db
}

fn get(server: &Server, path: &str) -> (u16, Vec<Value>) {
    let (status, _, body) = http_get(server.port, path, &[]);
    let lines = if status == 200 {
        ndjson_lines(&body)
    } else {
        vec![serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))]
    };
    (status, lines)
}

fn chunks(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|l| l.is_array()).collect()
}

fn encoded(json: &str) -> String {
    dbdump_shared::http::percent_encode(json)
}

#[test]
fn a_digest_is_a_header_chunks_of_keys_and_a_trailer() {
    let db = db_with("digest", 2500);
    let server = Server::start(&pair().0, &["--source-databases", &db]);
    let (status, lines) = get(&server, &format!("/{db}/t/digest"));
    assert_eq!(status, 200);
    let header = &lines[0]["header"];
    assert_eq!(header["kind"], "row");
    assert_eq!(header["hash"], "crc32");
    assert_eq!(header["key"], json!(["id"]));
    assert_eq!(header["chunk_rows"], 1000);
    let names: Vec<&str> = header["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, ["id", "name", "secret", "ts"]);
    let c = chunks(&lines);
    assert_eq!(c.len(), 3);
    assert_eq!(
        (c[0][0].clone(), c[0][1].clone(), c[0][2].clone()),
        (json!(0), json!([1000]), json!(1000))
    );
    assert_eq!(
        (c[2][1].clone(), c[2][2].clone()),
        (json!([2500]), json!(500))
    );
    assert_eq!(
        lines.last().expect("trailer")["trailer"],
        json!({"chunks": 3, "rows": 2500})
    );

    // Key digests cover the key alone; excluded columns leave row digests.
    let (_, keys) = get(&server, &format!("/{db}/t/digest?kind=key&chunk_rows=2500"));
    assert_eq!(
        keys[0]["header"]["columns"].as_array().map(Vec::len),
        Some(1)
    );
    let (_, all) = get(&server, &format!("/{db}/t/digest?chunk_rows=2500"));
    let (_, without) = get(
        &server,
        &format!("/{db}/t/digest?chunk_rows=2500&exclude_columns=secret"),
    );
    pair().0.exec(&format!(
        "UPDATE {}.t SET secret = 1, ts = ts WHERE id = 7",
        ident(&db)
    ));
    let (_, all_after) = get(&server, &format!("/{db}/t/digest?chunk_rows=2500"));
    let (_, without_after) = get(
        &server,
        &format!("/{db}/t/digest?chunk_rows=2500&exclude_columns=secret"),
    );
    let (_, keys_after) = get(&server, &format!("/{db}/t/digest?kind=key&chunk_rows=2500"));
    assert_ne!(
        chunks(&all),
        chunks(&all_after),
        "a row digest sees the change"
    );
    assert_eq!(
        chunks(&without),
        chunks(&without_after),
        "not in an excluded column"
    );
    assert_eq!(chunks(&keys), chunks(&keys_after), "nor in a key digest");

    // Ranges: (after, until], each chunked on its own, in request order.
    let ranges = encoded("[[[2000],null],[null,[10]],[[10],[12]],[[3000],null]]");
    let (status, lines) = get(
        &server,
        &format!("/{db}/t/digest?kind=key&chunk_rows=4&ranges={ranges}"),
    );
    assert_eq!(status, 200, "{lines:?}");
    let got: Vec<(u64, Value, u64)> = chunks(&lines)
        .iter()
        .map(|c| {
            (
                c[0].as_u64().unwrap_or(9),
                c[1].clone(),
                c[2].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(got.len(), 125 + 3 + 1);
    assert_eq!(got[0], (0, json!([2004]), 4));
    assert_eq!(got[125], (1, json!([4]), 4));
    assert_eq!(got[127], (1, json!([10]), 2));
    assert_eq!(got[128], (2, json!([12]), 2));
    assert_eq!(lines[0]["header"]["ranges"], 4);
    assert_eq!(
        lines.last().expect("trailer")["trailer"],
        json!({"chunks": 129, "rows": 512})
    );
}

#[test]
fn null_empty_and_the_word_null_hash_differently() {
    // One row, its values changed in place (timestamp kept): each version
    // must hash differently, NULL vs '' vs 'NULL' and where a value ends.
    let (src, _) = pair();
    let db = unique_name("nulls");
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0};
         CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10) NULL, b VARCHAR(10) NULL, n INT NULL,
           bl BLOB NULL, ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
         INSERT INTO t (id, ts) VALUES (1, '2024-01-01');",
        ident(&db)
    ));
    let server = Server::start(src, &["--source-databases", &db]);
    let versions = [
        "a = NULL, b = 'x', n = NULL, bl = NULL",
        "a = '', b = 'x', n = NULL, bl = NULL",
        "a = 'NULL', b = 'x', n = NULL, bl = NULL",
        "a = 'x', b = NULL, n = NULL, bl = NULL",
        "a = 'a|b', b = 'c', n = NULL, bl = NULL",
        "a = 'a', b = 'b|c', n = NULL, bl = NULL",
        "a = '1:', b = 'x', n = NULL, bl = NULL",
        "a = '', b = 'x', n = 0, bl = NULL",
        "a = '', b = 'x', n = NULL, bl = ''",
        "a = '', b = 'x', n = NULL, bl = 'NULL'",
        "a = '', b = 'x', n = NULL, bl = x'00'",
    ];
    let mut hashes = Vec::new();
    for set in versions {
        src.exec(&format!("UPDATE {}.t SET {set}, ts = ts", ident(&db)));
        let (_, lines) = get(&server, &format!("/{db}/t/digest?chunk_rows=1"));
        hashes.push(chunks(&lines)[0][3].as_u64().expect("hash"));
    }
    let mut distinct = hashes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), versions.len(), "{hashes:?}");
}

#[test]
fn bad_digest_requests_are_4xx_with_a_reason() {
    let db = db_with("digestbad", 10);
    let server = Server::start(
        &pair().0,
        &["--source-databases", &db, "-u", "u", "-p", "pw"],
    );
    let auth = [("Authorization", "Basic dTpwdw==")];
    let ask = |path: String| {
        let (status, _, body) = http_get(server.port, &path, &auth);
        (status, body)
    };
    for (query, needle) in [
        ("kind=all", "kind must be key or row"),
        ("chunk_rows=0", "chunk_rows must be"),
        ("chunk_rows=100001", "chunk_rows must be"),
        ("ranges=nope", "ranges"),
        ("ranges=%5B%5D", "from 1 to 1000 ranges"),
        (
            "ranges=%5B%5B%5B%22x%22%5D%2Cnull%5D%5D",
            "expected a number",
        ),
        (
            "ranges=%5B%5B%5B1%2C2%5D%2Cnull%5D%5D",
            "expected 1 key values",
        ),
        ("exclude_columns=id", "cannot be excluded"),
        ("include_columns=nope", "unknown column"),
        ("since=2024-01-01", "unknown query parameter"),
    ] {
        let (status, body) = ask(format!("/{db}/t/digest?{query}"));
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains(needle), "{query}: {body}");
    }
    assert_eq!(ask(format!("/{db}/nope/digest")).0, 404);
    assert_eq!(ask(format!("/{db}/t/digests")).0, 404);
    assert_eq!(ask("/nodb/t/digest".into()).0, 404);
    let (status, _, _) = http_get(server.port, &format!("/{db}/t/digest"), &[]);
    assert_eq!(status, 401, "credentials first");
}

#[test]
fn the_stream_sends_rows_by_key_below_a_given_time() {
    let db = db_with("bykey", 20);
    let server = Server::start(&pair().0, &["--source-databases", &db]);
    let keys = encoded("[[3],[17],[99],[5]]");
    let (status, lines) = get(
        &server,
        &format!("/{db}/t/?keys={keys}&include_columns=name"),
    );
    assert_eq!(status, 200, "{lines:?}");
    let ids: Vec<Value> = chunks(&lines).iter().map(|r| r[0].clone()).collect();
    assert_eq!(
        ids,
        [json!(3), json!(5), json!(17)],
        "in (timestamp, key) order"
    );
    assert_eq!(lines.last().expect("trailer")["trailer"]["rows"], 3);

    // `before` caps the stream (here below row 5's timestamp).
    let (_, lines) = get(
        &server,
        &format!("/{db}/t/?keys={keys}&before=2024-01-01+00:05:00"),
    );
    let ids: Vec<Value> = chunks(&lines).iter().map(|r| r[0].clone()).collect();
    assert_eq!(ids, [json!(3)]);
    assert_eq!(lines[0]["header"]["horizon"], "2024-01-01 00:05:00.000");
    let (_, lines) = get(
        &server,
        &format!("/{db}/t/?since=2024-01-01+00:10:00&before=2024-01-01+00:12:00"),
    );
    assert_eq!(chunks(&lines).len(), 2, "rows 10 and 11");

    let many = format!(
        "[{}]",
        (0..1001)
            .map(|i| format!("[{i}]"))
            .collect::<Vec<_>>()
            .join(",")
    );
    for (query, needle) in [
        (
            format!("keys={keys}&since=2024-01-01"),
            "cannot be combined",
        ),
        (format!("keys={}", encoded("[]")), "from 1 to 1000 keys"),
        (format!("keys={}", encoded(&many)), "from 1 to 1000 keys"),
        (
            format!("keys={}", encoded("[[\"x\"]]")),
            "expected a number",
        ),
        (format!("keys={}", encoded("[1]")), "keys"),
        ("before=yesterday".to_string(), "before"),
    ] {
        let (status, lines) = get(&server, &format!("/{db}/t/?{query}"));
        assert_eq!(status, 400, "{query}: {lines:?}");
        assert!(
            lines[0]["error"]
                .as_str()
                .unwrap_or_default()
                .contains(needle),
            "{query}: {lines:?}"
        );
    }
}
