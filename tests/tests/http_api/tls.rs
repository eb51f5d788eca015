//! HTTPS (`--listen-ssl`): a plain rustls client and the puller served
//! over TLS, plain HTTP to the HTTPS port refused, and certificate files
//! that are missing, not PEM or not a pair.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dbdump_tests::edge::Certificate;
use dbdump_tests::*;
use serde_json::{json, Value};

use crate::common::*;

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
