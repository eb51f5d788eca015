//! Tests of the test harness itself (no dbd_server or dbd_puller involved),
//! so that a failure elsewhere can be trusted to be the product's.

use std::io::{Read, Write};
use std::net::TcpListener;

use dbdump_tests::*;

#[test]
fn copy_schema_dump_and_assert_same() {
    let (src, dst) = pair();
    let db = unique_name("Harness-DB");
    assert!(
        db.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "{db}"
    );
    src.exec(&format!(
        "CREATE DATABASE {0}; CREATE TABLE {0}.t (
            id INT PRIMARY KEY, name VARCHAR(20), data BLOB,
            ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
         ); CREATE TABLE {0}.child (id INT PRIMARY KEY, t_id INT,
            FOREIGN KEY (t_id) REFERENCES t (id))",
        ident(&db)
    ));
    // `child` sorts (and is created) before its parent `t`.
    copy_schema(src, &db, dst, &db);
    assert_eq!(count(dst, &db, "t"), 0);
    assert_eq!(dump(dst, &db, "t"), "", "a fresh copy has no rows");

    let rows = format!(
        "INSERT INTO {}.t VALUES (2, NULL, x'00ff', '2024-03-31 01:30:00.5'), \
         (1, 'o''neil', NULL, '1999-12-31 23:59:59')",
        ident(&db)
    );
    src.exec(&rows);
    assert_eq!(count(src, &db, "t"), 2);
    let src_dump = dump(src, &db, "t");
    assert_ne!(src_dump, dump(dst, &db, "t"));
    assert!(
        src_dump.starts_with("INSERT INTO `t` VALUES (1,"),
        "ordered by key: {src_dump}"
    );
    assert!(src_dump.contains("0x00FF"), "blobs as hex: {src_dump}");
    let failed = std::panic::catch_unwind(|| assert_same(src, &db, dst, &db, &["t"]));
    let message = *failed
        .expect_err("assert_same must fail")
        .downcast::<String>()
        .expect("text");
    assert!(
        message.contains("2 vs 0 lines") && message.contains("src      1:"),
        "{message}"
    );

    dst.exec(&rows);
    assert_same(src, &db, dst, &db, &["t", "child"]);
    assert_eq!(checksum(src, &db, "t"), checksum(dst, &db, "t"));
    assert_eq!(checksum(src, &db, "missing"), None);

    // Values come back as text in UTC sessions, NULL as None.
    let got = src.query_strings(&format!(
        "SELECT id, name, ts FROM {}.t ORDER BY id",
        ident(&db)
    ));
    assert_eq!(
        got[0],
        [
            Some("1".into()),
            Some("o'neil".into()),
            Some("1999-12-31 23:59:59.000000".into())
        ]
    );
    assert_eq!(got[1][1], None);
    assert_eq!(
        src.scalar("SELECT @@session.time_zone").as_deref(),
        Some("+00:00")
    );
    assert_eq!(src.scalar("SELECT NULL"), None);
    assert_eq!(
        src.scalar("SET @a = 5; SELECT @a + 1").as_deref(),
        Some("6")
    );
    assert!(src.status("Com_select") > 0);
    src.exec(&format!("DROP DATABASE {0}", ident(&db)));
}

#[test]
fn sandbox_keeps_data_and_zone_across_kill_and_restart() {
    let sb = Sandbox::start("harness-restart", Some("America/New_York"));
    let dir = sb.dir.clone();
    let zone = sb.scalar("SELECT @@system_time_zone");
    assert!(matches!(zone.as_deref(), Some("EST" | "EDT")), "{zone:?}");
    sb.exec("CREATE DATABASE k; CREATE TABLE k.t (id INT PRIMARY KEY); INSERT INTO k.t VALUES (1)");
    sb.kill();
    sb.restart();
    assert_eq!(count(&sb, "k", "t"), 1, "committed row survives a crash");
    assert_eq!(sb.scalar("SELECT @@system_time_zone"), zone);
    sb.stop();
    sb.restart();
    assert_eq!(count(&sb, "k", "t"), 1);
    drop(sb);
    assert!(!dir.exists(), "drop destroys the sandbox");
}

#[test]
fn http_raw_with_nothing_listening_is_status_zero() {
    let port = free_port();
    assert_eq!(
        http_raw(port, b"GET / HTTP/1.1\r\n\r\n"),
        (0, String::new(), String::new())
    );
}

#[test]
fn http_get_splits_status_head_and_body() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        while !req.ends_with(b"\r\n\r\n") {
            let n = s.read(&mut buf).expect("read request");
            req.extend_from_slice(&buf[..n]);
        }
        s.write_all(b"HTTP/1.1 404 Not Found\r\nX-A: 1\r\n\r\n{\"a\":1}\n\n{\"b\":[2]}\n")
            .expect("write");
        String::from_utf8(req).expect("utf8")
    });
    let (status, head, body) = http_get(port, "/db/t?since=x", &[("Authorization", "Basic eDp5")]);
    let request = server.join().expect("server thread");
    assert!(
        request.starts_with("GET /db/t?since=x HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request.contains("\r\nAuthorization: Basic eDp5\r\n"),
        "{request}"
    );
    assert!(request.contains("\r\nConnection: close\r\n"), "{request}");
    assert_eq!(
        (status, head.as_str()),
        (404, "HTTP/1.1 404 Not Found\r\nX-A: 1")
    );
    assert_eq!(
        ndjson_lines(&body),
        [serde_json::json!({"a": 1}), serde_json::json!({"b": [2]})]
    );
}

#[test]
fn exec_fails_on_an_error_in_a_later_statement() {
    let (src, _) = pair();
    let failed = std::panic::catch_unwind(|| src.exec("DO 1; SELECT * FROM no_such_db.t; DO 2"));
    let message = *failed
        .expect_err("exec must fail")
        .downcast::<String>()
        .expect("text");
    assert!(
        message.contains("no_such_db") && message.contains("DO 1;"),
        "{message}"
    );
}
