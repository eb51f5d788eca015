//! dbd_server's HTTP API against a real source database: the three
//! endpoints, the change stream's framing and parameters, every documented
//! error status with its JSON body, Basic auth, TLS, request-head limits and
//! hostile names. Each test makes its own database (`unique_name`) and its
//! own server, so tests run in parallel without seeing each other.
//!
//! One test binary (one pair of sandbox servers); in modules: `listing` (`GET
//! /`, `GET /<db>/`), `streams` (the change stream and its parameters),
//! `errors` (the 400, 404 and 405 answers), `auth` (Basic auth); the shared
//! helpers are in `common`. The other tests follow here.

mod auth;
mod common;
mod errors;
mod listing;
mod streams;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dbdump_tests::edge::Certificate;
use dbdump_tests::*;
use serde_json::{json, Value};

use common::*;

/// Splits a raw HTTP response like `http_raw` does.
fn split_response(raw: &[u8]) -> (u16, String, String) {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = match head.split_whitespace().collect::<Vec<_>>()[..] {
        [version, code, ..] if version.starts_with("HTTP/") => code.parse().unwrap_or(0),
        _ => 0,
    };
    (status, head.to_string(), body.to_string())
}

/// `GET path` over HTTPS with a plain rustls client that trusts only `ca`.
fn https_get(port: u16, ca: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let session = dbdump_tests::certs::tls_client(ca);
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect to the HTTPS port");
    tcp.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut tls = rustls::StreamOwned::new(session, tcp);
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    tls.write_all(format!("{req}\r\n").as_bytes())
        .expect("TLS handshake and request");
    let mut raw = Vec::new();
    // The server ends with close_notify; whatever arrived is kept either way.
    let _ = tls.read_to_end(&mut raw);
    split_response(&raw)
}

/// How a process we spawned ourselves ended.
struct Run {
    code: Option<i32>,
    stderr: String,
    elapsed: Duration,
}

/// Runs `program` without the caller's `DBD_*` variables, killing it after
/// `limit` (then `code` is `None`).
fn run(program: &Path, args: &[&str], limit: Duration) -> Run {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("DBD_")) {
        cmd.env_remove(key);
    }
    let started = Instant::now();
    let mut child = cmd
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot spawn");
    let mut pipe = child.stderr.take().expect("stderr pipe");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    });
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code,
        stderr: reader.join().unwrap_or_default(),
        elapsed: started.elapsed(),
    }
}

// ---------------------------------------------------------------- TLS

#[test]
fn https_serves_a_rustls_client_that_trusts_the_certificate() {
    let db = db_with_rows("api_tls", &[(1, "2020-01-01 00:00:00")]);
    let cert = Certificate::new();
    let server = cert.server(src(), &["-u", "foo", "-p", "bar"]);
    let ca = cert.path("ssl.crt");
    let auth = basic("foo", "bar");
    let (code, head, body) = https_get(server.port, &ca, "/", &[("Authorization", &auth)]);
    assert_eq!(code, 200, "{head}\n{body}");
    assert_eq!(header(&head, "content-type"), Some("application/json"));
    let v: Value = serde_json::from_str(&body).expect("JSON over TLS");
    assert!(v["databases"]
        .as_array()
        .expect("list")
        .contains(&json!(db)));
    let (code, _, body) = https_get(
        server.port,
        &ca,
        &format!("/{db}/t/"),
        &[("Authorization", &auth)],
    );
    assert_eq!(code, 200);
    let lines = ndjson_lines(&body);
    assert_eq!(
        lines.last().expect("trailer")["trailer"]["rows"],
        json!(1),
        "{body}"
    );
    // Auth is still required inside TLS.
    assert_error(
        &https_get(server.port, &ca, "/", &[]),
        401,
        "authentication",
    );
    assert!(
        server.log_text().contains("listening on https://"),
        "{}",
        server.log_text()
    );
}

#[test]
fn plain_http_to_the_https_port_is_refused_and_the_server_goes_on() {
    let cert = Certificate::new();
    let server = cert.server(src(), &[]);
    let ca = cert.path("ssl.crt");
    for _ in 0..3 {
        let (code, head, body) = get(&server, "/");
        // A 400 saying to use HTTPS, or at least a closed connection.
        assert!(code == 400 || code == 0, "{code}: {head}\n{body}");
        if code == 400 {
            assert_error(&(code, head, body), 400, "https");
        }
        // A longer method name is recognised as plain HTTP and told so.
        let post = http_raw(server.port, b"POST / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_error(&post, 400, "https");
        // Bytes that are neither HTTP nor TLS.
        let (code, _, _) = http_raw(server.port, b"\x00\x01garbage\r\n\r\n");
        assert_eq!(code, 0, "no HTTP answer to garbage on a TLS port");
        assert_eq!(https_get(server.port, &ca, "/", &[]).0, 200);
    }
    assert!(error_lines(&server).is_empty(), "{}", server.log_text());
}

/// `refuse_plain_http` is meant to answer plain HTTP on the HTTPS port with a
/// 400 saying to use https://, but `looks_like_plain_http` wants the first 4
/// bytes to be capital letters, and `"GET "` has a space: a plain GET (the
/// one method clients send here) gets a TLS alert (`15 03 03 00 02 02 32`)
/// instead, which curl reports as "Received HTTP/0.9 when not allowed".
#[test]
fn plain_http_get_to_the_https_port_gets_a_400_saying_so() {
    let cert = Certificate::new();
    let server = cert.server(src(), &[]);
    assert_error(&get(&server, "/"), 400, "https");
}

#[test]
fn https_without_certificate_files_exits_1_naming_the_file() {
    let cert = Certificate::new();
    let other = Certificate::new();
    let base = |key: &str, crt: &str| -> Vec<String> {
        let fixed = format!(
            "-a 127.0.0.1 -P {} --source-host 127.0.0.1 --source-port {} --source-username root -s",
            free_port(),
            src().port
        );
        let mut args: Vec<String> = fixed.split(' ').map(str::to_string).collect();
        args.extend([
            "--ssl-private-key".into(),
            key.into(),
            "--ssl-public-key".into(),
            crt.into(),
        ]);
        args
    };
    let missing_crt = cert.path("missing.crt");
    let missing_key = cert.path("missing.key");
    let cases = [
        (base(&cert.path("ssl.key"), &missing_crt), "missing.crt"),
        (base(&missing_key, &cert.path("ssl.crt")), "missing.key"),
        // A certificate that is not PEM.
        (
            base(&cert.path("ssl.key"), &cert.path("ssl.key")),
            "ssl.key",
        ),
        // Key and certificate of two different pairs.
        (
            base(&other.path("ssl.key"), &cert.path("ssl.crt")),
            "do not form a usable pair",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(&bin("dbd_server"), &args, Duration::from_secs(20));
        assert_eq!(r.code, Some(1), "{args:?}\n{}", r.stderr);
        assert!(
            r.elapsed < Duration::from_secs(5),
            "slow to fail: {:?}",
            r.elapsed
        );
        assert!(
            r.stderr.contains(needle),
            "should name {needle}: {}",
            r.stderr
        );
        assert!(r.stderr.contains(" ERROR "), "{}", r.stderr);
    }
}

#[test]
fn puller_syncs_over_https_when_given_the_certificate() {
    let (src, dst) = pair();
    let db = db_with_rows(
        "api_tls_pull",
        &[(1, "2020-01-01 00:00:00"), (2, "2020-01-02 00:00:00")],
    );
    let cert = Certificate::new();
    let server = cert.server(src, &["-u", "foo", "-p", "bar"]);
    let creds = ["--source-username", "foo", "--source-password", "bar"];
    copy_schema(src, &db, dst, &db);
    let ca = cert.path("ssl.crt");
    let mut args = vec!["--source-ssl-ca", ca.as_str()];
    args.extend(creds);
    let run = puller(server.port, dst, &db, &db, &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(src, &db, dst, &db, &["t"]);

    // Without that certificate (trusting only an unrelated one) it must fail.
    let other = Certificate::new();
    let mut args = vec!["--source-ssl"];
    args.extend(creds);
    let out = puller_command(server.port, dst, &db, &db, &args)
        .env("SSL_CERT_FILE", other.path("ssl.crt"))
        .output()
        .expect("run dbd_puller");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");
    // And plain HTTP to the HTTPS port fails too, without hanging.
    let out = puller_command(server.port, dst, &db, &db, &creds)
        .output()
        .expect("run dbd_puller");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

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
