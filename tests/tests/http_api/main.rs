//! dbd_server's HTTP API against a real source database: the three
//! endpoints, the change stream's framing and parameters, every documented
//! error status with its JSON body, Basic auth, TLS, request-head limits and
//! hostile names. Each test makes its own database (`unique_name`) and its
//! own server, so tests run in parallel without seeing each other.
//!
//! One test binary (one pair of sandbox servers); in modules: `listing` (`GET
//! /`, `GET /<db>/`), `streams` (the change stream and its parameters),
//! `errors` (the 400, 404 and 405 answers), `auth` (Basic auth), `tls`
//! (HTTPS); the shared helpers are in `common`. The other tests follow here.

mod auth;
mod common;
mod errors;
mod listing;
mod streams;
mod tls;

use std::net::TcpStream;

use dbdump_tests::*;
use serde_json::json;

use common::*;

// ---------------------------------------------------------------- limits

#[test]
fn huge_request_line_is_414() {
    let server = Server::start(src(), &[]);
    let long = "x".repeat(100 * 1024);
    assert_error(&get(&server, &format!("/?q={long}")), 414, "too long");
    // Just under the 16 KiB limit is read in full and answered normally
    // (here: the listing takes no parameters).
    let near = "y".repeat(16 * 1024 - 100);
    assert_error(
        &get(&server, &format!("/?q={near}")),
        400,
        "no query parameters",
    );
    assert_still_serving(&server);
}

#[test]
fn huge_headers_are_431() {
    let server = Server::start(src(), &[]);
    let big = "v".repeat(40 * 1024);
    assert_error(
        &http_get(server.port, "/", &[("X-Big", &big)]),
        431,
        "too large",
    );
    // Many medium headers adding up to over 32 KiB.
    let medium = "m".repeat(1000);
    let many: Vec<(String, &str)> = (0..40)
        .map(|i| (format!("X-M{i}"), medium.as_str()))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_error(&http_get(server.port, "/", &many), 431, "too large");
    assert_still_serving(&server);
}

#[test]
fn more_than_100_headers_is_431() {
    let server = Server::start(src(), &[]);
    let request = |n: usize| {
        let mut req = "GET / HTTP/1.1\r\n".to_string();
        for i in 0..n {
            req.push_str(&format!("X-H{i}: {i}\r\n"));
        }
        http_raw(server.port, format!("{req}\r\n").as_bytes())
    };
    assert_eq!(request(100).0, 200, "100 headers are fine");
    assert_error(&request(101), 431, "too large");
    assert_still_serving(&server);
}

#[test]
fn malformed_requests_are_400() {
    let server = Server::start(src(), &[]);
    let cases: &[&[u8]] = &[
        b"garbage\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET /\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\n\r\n",
        b"GET / SPDY/3\r\n\r\n",
        b"GET foo HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET / HTTP/1.1\r\n: empty name\r\n\r\n",
        b"GET /\xff\xfe HTTP/1.1\r\n\r\n",
        b"GET /%zz/ HTTP/1.1\r\n\r\n",
        b"GET /%C3%28/ HTTP/1.1\r\n\r\n",
    ];
    for req in cases {
        let resp = http_raw(server.port, req);
        assert_eq!(resp.0, 400, "{}: {resp:?}", String::from_utf8_lossy(req));
        assert_error(&resp, 400, "");
        assert_still_serving(&server);
    }
    // A client that connects and says nothing costs nothing.
    drop(TcpStream::connect(("127.0.0.1", server.port)).expect("connect"));
    assert_still_serving(&server);
    assert!(error_lines(&server).is_empty(), "{}", server.log_text());
}

// ---------------------------------------------------------------- hostile names

#[test]
fn hostile_names_are_404_or_400_never_a_fault() {
    let db = new_db("api_hostile");
    // Names that need encoding do work when encoded.
    sql(
        &db,
        &format!(
            "CREATE TABLE t (id INT PRIMARY KEY, {TS}); CREATE TABLE `a?b` (id INT PRIMARY KEY, {TS});
             CREATE TABLE `50%` (id INT PRIMARY KEY, {TS}); CREATE TABLE `x y/z` (id INT PRIMARY KEY, {TS});
             INSERT INTO `a?b` VALUES (7, '2020-01-01 00:00:00');"
        ),
    );
    let server = Server::start(src(), &[]);
    let s = stream(&server, &format!("/{db}/a%3Fb/"));
    assert_eq!(
        (s.header["table"].clone(), s.ids()),
        (json!("a?b"), vec![7])
    );
    assert_eq!(
        stream(&server, &format!("/{db}/50%25/")).header["table"],
        json!("50%")
    );
    assert_eq!(
        stream(&server, &format!("/{db}/x%20y%2Fz/")).header["table"],
        json!("x y/z")
    );

    let long = "n".repeat(300);
    let paths = [
        "/%60%3B%20DROP%20TABLE%20x%3B/".to_string(),
        "/%60%3B%20DROP%20TABLE%20x%3B/t/".to_string(),
        "/../".to_string(),
        "/..".to_string(),
        "/./".to_string(),
        format!("/{db}/../"),
        format!("/{db}/..%2F..%2Fetc/"),
        "/db/..%2F..%2Fetc/".to_string(),
        "/%00/".to_string(),
        format!("/{db}/t%00/"),
        format!("/{long}/"),
        format!("/{db}/{long}/"),
        format!("/{db}/t%27%20union%20select%201/"),
        "/db/t%27%20union%20select%201/".to_string(),
        format!("/{db}/t%60%20WHERE%201%3D1%20--%20/"),
        "/%25/".to_string(),
        "/%25%25/".to_string(),
        "/%3F/".to_string(),
        format!("/{db}/a?b/"),
        format!("/{db}/50%/"),
        format!("/{db}/%3F/"),
        format!("/{db}/%25/t/"),
        format!("/{db}%3F/"),
        "/%2F/".to_string(),
        format!("/{db}//t/"),
        "/a/b/c/".to_string(),
        "/%zz/".to_string(),
        "/%/".to_string(),
        "/%C3%28/".to_string(),
        "/%E2%80%AE/".to_string(),
        format!("/{db}/t/?since=%27%3B%20DROP%20TABLE%20t%3B"),
        format!("/{db}/t/?include_columns=%60id%60"),
    ];
    for path in &paths {
        let (code, head, body) = get(&server, path);
        assert!(code == 400 || code == 404, "{path}: {code}\n{head}\n{body}");
        assert_error(&(code, head, body), code, "");
    }
    assert_eq!(
        table_names(&server, &db).len(),
        4,
        "nothing was dropped: {:?}",
        table_names(&server, &db)
    );
    assert!(error_lines(&server).is_empty(), "{}", server.log_text());
}
