//! Poking at dbd_server over plain HTTP: a raw request and its answer as
//! status, head and body; `GET`; NDJSON bodies as JSON values.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::lossy;

/// Sends `request` as-is on a new connection and reads until the server
/// closes it (30 s at most). Returns the status (0 when no status line came
/// back: nothing listening, or the connection was dropped), the head without
/// the blank line, and the body as sent (dbd_server never uses chunked
/// encoding). Write and read errors end the exchange without failing it:
/// what arrived before them is returned, as tests of refused requests need.
pub fn http_raw(port: u16, request: &[u8]) -> (u16, String, String) {
    match TcpStream::connect(("127.0.0.1", port)) {
        Ok(stream) => http_on(stream, request),
        Err(_) => (0, String::new(), String::new()),
    }
}

/// As [`http_raw`], on a connection the caller made (e.g. from another
/// client address, see [`crate::edge::connect_from`]).
pub fn http_on(mut stream: TcpStream, request: &[u8]) -> (u16, String, String) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = stream.write_all(request);
    let (mut raw, mut buf) = (Vec::new(), vec![0; 64 * 1024]);
    while let Ok(n @ 1..) = stream.read(&mut buf) {
        raw.extend_from_slice(&buf[..n]);
    }
    let text = lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = match head.split_whitespace().collect::<Vec<_>>()[..] {
        [version, code, ..] if version.starts_with("HTTP/") => code.parse().unwrap_or(0),
        _ => 0,
    };
    (status, head.to_string(), body.to_string())
}

/// `GET path` with extra `headers`; see [`http_raw`] for the result.
pub fn http_get(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    http_raw(port, format!("{req}\r\n").as_bytes())
}

/// Parses every non-empty line of an NDJSON body.
pub fn ndjson_lines(body: &str) -> Vec<serde_json::Value> {
    let parse =
        |l: &str| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad NDJSON ({e}): {l}"));
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .map(parse)
        .collect()
}
