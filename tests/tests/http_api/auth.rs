//! Basic auth: every endpoint guarded, credentials from flags, the
//! environment or a password file, checked before anything else, and never
//! written to the log or an error body.

use std::path::PathBuf;

use dbdump_tests::*;
use serde_json::json;

use crate::common::*;

/// A directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> TempDir {
        let dir = std::env::temp_dir().join(unique_name(prefix));
        std::fs::create_dir_all(&dir).expect("cannot create temp dir");
        TempDir(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0
            .join(name)
            .to_str()
            .expect("UTF-8 temp path")
            .to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn basic_auth_guards_every_endpoint() {
    let db = db_with_rows("api_auth", &[(1, "2020-01-01 00:00:00")]);
    let server = Server::start(src(), &["-u", "foo", "-p", "bar"]);
    let good = basic("foo", "bar");
    let paths = [
        "/".to_string(),
        format!("/{db}/"),
        format!("/{db}/t/"),
        format!("/{db}/t/?since=2000-01-01"),
        "/no_such_db_x/".to_string(),
        "/mysql/user/".to_string(),
        format!("/{db}/t/?bogus=1"),
    ];
    let wrong = [
        basic("foo", "baz"),
        basic("fooo", "bar"),
        basic("FOO", "bar"),
        basic("foo", "bar "),
        basic("foo", ""),
        basic("", "bar"),
        "Basic".to_string(),
        "Basic !!!notbase64".to_string(),
        "Bearer bar".to_string(),
    ];
    for path in &paths {
        let resp = get(&server, path);
        assert_error(&resp, 401, "authentication required");
        let challenge = header(&resp.1, "www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with("Basic"), "{path}: {}", resp.1);
        for auth in &wrong {
            let resp = http_get(server.port, path, &[("Authorization", auth)]);
            assert_error(&resp, 401, "authentication required");
        }
    }
    // With the right credentials each path gets its normal answer.
    let ok = |path: &str| http_get(server.port, path, &[("Authorization", &good)]);
    assert!(json_ok(ok("/"))["databases"].is_array());
    assert_eq!(
        json_ok(ok(&format!("/{db}/")))["tables"][0]["table"],
        json!("t")
    );
    let (code, _, body) = ok(&format!("/{db}/t/"));
    assert_eq!((code, ndjson_lines(&body).len()), (200, 3), "{body}");
    assert_error(&ok("/no_such_db_x/"), 404, "not found");
    assert_error(&ok(&format!("/{db}/t/?bogus=1")), 400, "bogus");
    // The scheme name is case-insensitive (RFC 9110).
    let lower = good.replacen("Basic", "basic", 1);
    assert_eq!(
        http_get(server.port, "/", &[("Authorization", &lower)]).0,
        200
    );
}

#[test]
fn passwords_never_reach_the_log_or_an_error_body() {
    let db = db_with_rows("api_secret", &[(1, "2020-01-01 00:00:00")]);
    let secret = "Zq9-unlikely-Secret";
    let server = Server::start(src(), &["-u", "foo", "-p", secret, "--debug"]);
    let good = basic("foo", secret);
    let near = basic("foo", &format!("{secret}x"));
    let mut bodies = Vec::new();
    for path in [
        "/".to_string(),
        format!("/{db}/"),
        format!("/{db}/t/"),
        format!("/{db}/t/?since=nonsense"),
        format!("/{db}/nope/"),
    ] {
        for auth in [&good, &near] {
            bodies.push(http_get(server.port, &path, &[("Authorization", auth)]));
        }
        bodies.push(get(&server, &path));
    }
    bodies.push(http_raw(
        server.port,
        format!("POST / HTTP/1.1\r\nAuthorization: {good}\r\n\r\n").as_bytes(),
    ));
    let log = server.log_text();
    assert!(log.contains(" DEBUG "), "--debug is on: {log}");
    let encoded = good.trim_start_matches("Basic ");
    for needle in [secret, encoded] {
        assert!(!log.contains(needle), "{needle:?} in the log:\n{log}");
        for (_, head, body) in &bodies {
            assert!(
                !head.contains(needle) && !body.contains(needle),
                "{head}\n{body}"
            );
        }
    }
}

#[test]
fn credentials_from_the_environment() {
    let server = Server::start_with_env(
        src(),
        &[],
        &[
            ("DBD_LISTEN_USERNAME", "envuser"),
            ("DBD_LISTEN_PASSWORD", "envpass"),
        ],
    );
    assert_error(&get(&server, "/"), 401, "authentication");
    let wrong = basic("envuser", "nope");
    assert_error(
        &http_get(server.port, "/", &[("Authorization", &wrong)]),
        401,
        "authentication",
    );
    let good = basic("envuser", "envpass");
    assert_eq!(
        http_get(server.port, "/", &[("Authorization", &good)]).0,
        200
    );
}

#[test]
fn password_from_a_file_is_its_first_line() {
    let dir = TempDir::new("dbdump_pw");
    let file = dir.path("password");
    std::fs::write(&file, "filepass\nsecond line is ignored\n").expect("write password file");
    let server = Server::start(src(), &["-u", "foo", "--listen-password-file", &file]);
    assert_error(&get(&server, "/"), 401, "authentication");
    for wrong in ["filepass\n", "second line is ignored", ""] {
        let auth = basic("foo", wrong);
        assert_eq!(
            http_get(server.port, "/", &[("Authorization", &auth)]).0,
            401,
            "{wrong:?}"
        );
    }
    let good = basic("foo", "filepass");
    assert_eq!(
        http_get(server.port, "/", &[("Authorization", &good)]).0,
        200
    );
}

#[test]
fn credentials_come_before_everything_else() {
    let server = Server::start(src(), &["-u", "foo", "-p", "bar"]);
    let raw = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    let (status, head, _) = http_raw(server.port, raw);
    assert_eq!(status, 401, "{head}");
    let (status, _, _) = http_get(server.port, "/no_such_db/", &[]);
    assert_eq!(status, 401, "no hint whether a database exists");
}
