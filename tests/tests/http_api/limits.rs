//! The request head: an over-long request line (414), oversized or too
//! many headers (431) and malformed requests (400), with the server serving
//! on after each.

use std::net::TcpStream;

use dbdump_tests::*;

use crate::common::*;

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
